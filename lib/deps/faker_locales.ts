/**
 * Faker's per-locale builds (en, and ru/el/ja for the non-English text the real data
 * has), imported one by one: the package's main entry loads all 70 locales, about 20 MB
 * more resident memory for nothing.
 * @module
 */
export { faker as fakerEN } from "npm:@faker-js/faker@10.6.0/locale/en";
export { faker as fakerRU } from "npm:@faker-js/faker@10.6.0/locale/ru";
export { faker as fakerEL } from "npm:@faker-js/faker@10.6.0/locale/el";
export { faker as fakerJA } from "npm:@faker-js/faker@10.6.0/locale/ja";
export type { Faker, LocaleDefinition, Randomizer } from "npm:@faker-js/faker@10.6.0";
