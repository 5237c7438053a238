/**
 * The first 20 keys the original pipeline's emulator draws with Python's random and seed 100
 * (random mode must replay them; the unit and stage emulate tests both check it).
 * @module
 */

export const ORIGINAL_KEYS = [
  7528,
  2863,
  5730,
  8304,
  8731,
  1313,
  4315,
  10794,
  5494,
  5069,
  2923,
  3089,
  6063,
  3454,
  7554,
  6145,
  10625,
  2959,
  9875,
  2418,
];
