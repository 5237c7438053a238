/**
 * The CloudFormation resource specification (resource types, their properties, required
 * flags and attributes), for offline template validation in tests and `deploy --dry-run`.
 * @module
 */
export { specification } from "npm:@aws-cdk/cfnspec@2.72.1";
