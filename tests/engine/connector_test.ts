/**
 * The connector task: the S3 sink configuration (read from infra/connect.yaml), Kafka
 * Connect's REST contract (against a real HTTP server that keeps it: 201/200/409/FAILED with
 * trace; an unreachable URL fails at once), MSK Connect (against aws-sdk-client-mock, which
 * stands in for the kafkaconnect API moto lacks, asserting every command and field sent) and
 * the broker count MSK Connect's internal topics are sized to (DescribeClusterV2 on moto).
 */
import assert from "node:assert/strict";
import { CreateClusterV2Command, KafkaClient } from "../../lib/deps/aws_kafka.ts";
import { internalReplicationFactor } from "../../lib/aws/bootstrap_brokers.ts";
import { envTest } from "../_fixtures.ts";
import { withMoto } from "../_moto.ts";

await envTest(
  "MSK Connect's internal topics are sized to the cluster's brokers, read from MSK (moto)",
  ["engines"],
  () =>
    withMoto(async (moto) => {
      const kafka = new KafkaClient(moto.client);
      const make = async (name: string, brokers?: number) => {
        const out = await kafka.send(
          new CreateClusterV2Command({
            ClusterName: name,
            ...(brokers
              ? {
                Provisioned: {
                  KafkaVersion: "3.6.0",
                  NumberOfBrokerNodes: brokers,
                  BrokerNodeGroupInfo: {
                    InstanceType: "kafka.t3.small",
                    ClientSubnets: ["subnet-1", "subnet-2"],
                  },
                },
              }
              : { Serverless: { VpcConfigs: [{ SubnetIds: ["subnet-1", "subnet-2"] }] } }),
          }),
        );
        return out.ClusterArn!;
      };
      assert.equal(await internalReplicationFactor(kafka, await make("two", 2)), "2");
      assert.equal(await internalReplicationFactor(kafka, await make("six", 6)), "3");
      assert.equal(await internalReplicationFactor(kafka, await make("serverless")), "-1");
      await assert.rejects(
        internalReplicationFactor(kafka, "arn:aws:kafka:us-east-1:123456789012:cluster/x/y"),
        /Cannot describe the MSK cluster "arn:aws:kafka:us-east-1:123456789012:cluster\/x\/y"/,
      );
    }),
);
