/**
 * AWS SDK v3 MWAA client. The registry's newest is 3.523.0, which has no InvokeRestApi
 * (added in 3.678.0), so `deno task dags` uses CreateCliToken and the /aws_mwaa/cli route.
 * @module
 */
export {
  CreateCliTokenCommand,
  GetEnvironmentCommand,
  MWAAClient,
} from "npm:@aws-sdk/client-mwaa@3.523.0";
