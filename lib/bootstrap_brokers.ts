/**
 * The MSK cluster's SASL/IAM bootstrap brokers. CloudFormation does not return them
 * (reference/aws-kafka.md §4.1), so they come from `kafka:GetBootstrapBrokers`.
 * @module
 */
import { GetBootstrapBrokersCommand, KafkaClient } from "./deps/aws_kafka.ts";

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
