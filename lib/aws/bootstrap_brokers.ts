/**
 * The MSK cluster's SASL/IAM bootstrap brokers. CloudFormation does not return them
 * (reference/aws-kafka.md §4.1), so they come from `kafka:GetBootstrapBrokers`. Also the
 * broker count, for sizing MSK Connect's internal topics.
 * @module
 */
import {
  DescribeClusterV2Command,
  GetBootstrapBrokersCommand,
  KafkaClient,
} from "../deps/aws_kafka.ts";

/** `BootstrapBrokerStringSaslIam` of the cluster (host:9098,…), or a clear error. */
export async function getIamBootstrap(client: KafkaClient, clusterArn: string): Promise<string> {
  let out;
  try {
    out = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
  } catch (err) {
    throw new Error(`Cannot get the bootstrap brokers of "${clusterArn}"`, { cause: err });
  }
  const brokers = out.BootstrapBrokerStringSaslIam;
  if (!brokers) {
    throw new Error(
      `Cannot get the IAM bootstrap brokers of "${clusterArn}": the cluster has no SASL/IAM listener (is IAM client authentication on?)`,
    );
  }
  return brokers;
}

/**
 * The replication factor for MSK Connect's internal topics on `clusterArn`: its broker count
 * up to 3 (Connect's default, 3, fails on a two-broker cluster), or -1 (the cluster's own
 * default, Kafka Connect 2.4+) on MSK Serverless, which sets replication itself.
 */
export async function internalReplicationFactor(
  client: KafkaClient,
  clusterArn: string,
): Promise<string> {
  let out;
  try {
    out = await client.send(new DescribeClusterV2Command({ ClusterArn: clusterArn }));
  } catch (err) {
    throw new Error(`Cannot describe the MSK cluster "${clusterArn}"`, { cause: err });
  }
  const info = out.ClusterInfo;
  if (info?.ClusterType === "SERVERLESS") return "-1";
  const brokers = info?.Provisioned?.NumberOfBrokerNodes;
  if (!brokers) {
    throw new Error(
      `Cannot size MSK Connect's topics for "${clusterArn}": MSK gave no broker count`,
    );
  }
  return String(Math.min(3, brokers));
}
