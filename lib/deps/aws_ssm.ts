/**
 * AWS SDK v3 SSM client: installs kafka-rest.properties on the REST-proxy instance
 * (SendCommand) and waits for the result (GetCommandInvocation). (ListCommands is for the
 * tests, which read back what moto recorded.)
 * @module
 */
export {
  GetCommandInvocationCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from "npm:@aws-sdk/client-ssm@3.1169.0";
export type { GetCommandInvocationCommandOutput } from "npm:@aws-sdk/client-ssm@3.1169.0";
