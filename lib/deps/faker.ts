/**
 * Faker, seeded, for the synthetic Pinterest dataset.
 * @module
 */
export { base, en, Faker } from "npm:@faker-js/faker@10.6.0";
