/**
 * AWS SDK v3 CloudFormation client, for `deno task deploy`.
 * @module
 */
export {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  ValidateTemplateCommand,
} from "npm:@aws-sdk/client-cloudformation@3.1169.0";
export type {
  Change,
  Output,
  Parameter,
  Stack,
  StackEvent,
} from "npm:@aws-sdk/client-cloudformation@3.1169.0";
