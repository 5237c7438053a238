/**
 * s3rver: a local S3 server, used only by tests and benchmarks.
 * @module
 */
export { default as S3rver } from "npm:s3rver@3.7.1";
