/**
 * lib/ingest/py_random.ts: CPython's Mersenne Twister, seeded and drawn as `random.Random(n)`
 * does. The expected numbers were printed by CPython 3.11 (`random.Random(seed)` and the same
 * calls); tests/stage/emulate_test.ts also compares against the machine's python3 live.
 * @module
 */
import assert from "node:assert/strict";
import { PyRandom } from "../../lib/ingest/py_random.ts";

Deno.test("seed 100 gives the original emulator's rows: randrange(0, 2) then randint(0, 11000)", () => {
  const r = new PyRandom(100);
  const rows = Array.from({ length: 6 }, () => {
    r.below(2);
    return r.randint(0, 11000);
  });
  assert.deepEqual(rows, [7528, 2863, 5730, 8304, 8731, 1313]);
});

Deno.test("getrandbits(32) is genrand_uint32 of CPython's init_by_array seeding", () => {
  const zero = new PyRandom(0);
  assert.deepEqual([zero.uint32(), zero.uint32(), zero.uint32()], [
    3626764237,
    1654615998,
    3255389356,
  ]);
  // A seed wider than 32 bits is split into 32-bit words, low word first.
  const wide = new PyRandom(2n ** 40n + 5n);
  assert.deepEqual([wide.getrandbits(32), wide.getrandbits(32), wide.getrandbits(32)], [
    2166296868,
    2220160828,
    1153647273,
  ]);
});

Deno.test("a negative seed draws what its absolute value draws, as CPython's seed does", () => {
  const neg = new PyRandom(-7);
  const pos = new PyRandom(7);
  const a = [neg.uint32(), neg.uint32()];
  assert.deepEqual(a, [pos.uint32(), pos.uint32()]);
  assert.deepEqual(a, [1390851128, 4071050724]);
});

Deno.test("getrandbits(k), randrange and randint draw CPython's numbers, rejections included", () => {
  const r = new PyRandom(42);
  assert.deepEqual(Array.from({ length: 5 }, () => r.getrandbits(5)), [20, 3, 0, 23, 8]);
  assert.deepEqual(Array.from({ length: 5 }, () => r.below(1000)), [250, 228, 142, 754, 104]);
  assert.deepEqual(Array.from({ length: 8 }, () => r.randint(-3, 3)), [2, 2, 1, -3, 1, 0, -3, -3]);
  const big = new PyRandom(1);
  assert.deepEqual([big.below(2 ** 32 - 1), big.below(2 ** 32 - 1)], [577090037, 2444712010]);
});

Deno.test("a bound that is not positive, or above 2^32, is refused naming it", () => {
  const r = new PyRandom(1);
  assert.throws(() => r.below(0), /Cannot draw below 0: expected a positive bound/);
  assert.throws(() => r.randint(5, 4), /Cannot draw below 0/);
  assert.throws(() => r.below(2 ** 33), /bounds above 2\^32 are not supported/);
});
