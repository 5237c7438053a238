/**
 * AWS SDK v3 MSK Connect client: the S3 sink's custom plugin, worker configuration and
 * connector.
 * @module
 */
export {
  CreateConnectorCommand,
  CreateCustomPluginCommand,
  CreateWorkerConfigurationCommand,
  DeleteConnectorCommand,
  DeleteCustomPluginCommand,
  DeleteWorkerConfigurationCommand,
  DescribeConnectorCommand,
  DescribeCustomPluginCommand,
  KafkaConnectClient,
  ListConnectorsCommand,
  ListCustomPluginsCommand,
  ListTagsForResourceCommand,
  ListWorkerConfigurationsCommand,
  UpdateConnectorCommand,
} from "npm:@aws-sdk/client-kafkaconnect@3.1169.0";
export type {
  CreateConnectorCommandInput,
  DescribeConnectorCommandOutput,
  UpdateConnectorCommandInput,
} from "npm:@aws-sdk/client-kafkaconnect@3.1169.0";
