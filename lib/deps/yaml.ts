/**
 * yaml, for CloudFormation templates (with the short intrinsic tags).
 * @module
 */
export { parse, parseDocument, stringify } from "npm:yaml@2.9.1";
