/**
 * kafkajs's `Cluster` (connections, metadata, group coordinators) for a poll-model consumer.
 * kafkajs only offers a push-model consumer (`run` calls you), which cannot serve the REST
 * consumer API: manual assignment, seeks at any time, reads bounded by bytes and time. Its
 * cluster and broker objects speak every request that API needs; this reaches the cluster
 * factory the `Kafka` client keeps for its own producers and consumers, so the consumer gets
 * the same brokers, TLS, SASL (MSK IAM included) and logging as everything else.
 * kafkajs is pinned (lib/deps/kafkajs.ts), and the factory is looked up by its symbol's name,
 * failing loudly if a different kafkajs lacks it.
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import type { Kafka } from "../deps/kafkajs.ts";

/** The parts of a kafkajs Broker the consumer uses (kafkajs/src/broker). */
export interface KafkaBroker {
  fetch(args: {
    replicaId?: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: {
      topic: string;
      partitions: { partition: number; fetchOffset: string; maxBytes: number }[];
    }[];
  }): Promise<any>;
  joinGroup(args: any): Promise<any>;
  syncGroup(args: any): Promise<any>;
  heartbeat(args: { groupId: string; groupGenerationId: number; memberId: string }): Promise<any>;
  leaveGroup(args: { groupId: string; memberId: string }): Promise<any>;
  offsetCommit(args: any): Promise<any>;
  offsetFetch(args: any): Promise<any>;
}

/** The parts of a kafkajs Cluster the consumer uses (kafkajs/src/cluster). */
export interface KafkaCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  metadata(args?: { topics?: string[] }): Promise<any>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string | number }): Promise<KafkaBroker>;
  findGroupCoordinator(args: { groupId: string }): Promise<KafkaBroker>;
  fetchTopicsOffset(topics: {
    topic: string;
    partitions: { partition: number }[];
    fromBeginning?: boolean;
    fromTimestamp?: number;
  }[]): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** A new kafkajs Cluster with `kafka`'s settings; it never auto-creates topics. */
export function createCluster(kafka: Kafka): KafkaCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) =>
    s.description === "private:Kafka:createCluster"
  );
  if (!sym) {
    throw new Error(
      "Cannot create a Kafka consumer: this kafkajs has no cluster factory (pinned 2.2.4 has)",
    );
  }
  return (kafka as any)[sym]({
    allowAutoTopicCreation: false,
    metadataMaxAge: 300_000,
    isolationLevel: 0,
  }) as KafkaCluster;
}
