/**
 * aws-sdk-client-mock, for tests of the AWS control-plane calls (CloudFormation, MSK,
 * MWAA, Secrets Manager): it replaces a client's `send` and records the commands.
 * @module
 */
export { mockClient } from "npm:aws-sdk-client-mock@4.1.0";
export type { AwsStub } from "npm:aws-sdk-client-mock@4.1.0";
