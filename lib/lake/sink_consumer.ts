/**
 * What the sink needs of a Kafka consumer, and nothing more: kafkajs's `eachBatch` payload,
 * `commitOffsets`, `seek` and two of its events. `kafkajsConsumer` makes one from kafkajs;
 * the unit tests pass a fake with the same behaviour (a rejoin re-reads from the commit, a
 * blocked batch holds the next fetch, heartbeats only when asked).
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Consumer, Kafka } from "../deps/kafkajs.ts";

/** One record as the sink reads it. */
export interface SinkMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

/** The part of kafkajs's `EachBatchPayload` the sink uses. */
export interface SinkBatchPayload {
  batch: {
    topic: string;
    partition: number;
    highWatermark: string;
    messages: SinkMessage[];
  };
  /** Marks the consumer's position (not a commit: autoCommit is off). */
  resolveOffset(offset: string): void;
  /** Keeps the member in the group; throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** True when a `seek` made this batch obsolete. */
  isStale(): boolean;
}

/** A partition offset as kafkajs commits and seeks it. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** A consumer in the sink's group. */
export interface SinkConsumer {
  connect(): Promise<void>;
  subscribe(s: { topics: string[]; fromBeginning: boolean }): Promise<void>;
  /** Joins the group and starts fetching; `eachBatch` is called for every batch fetched. */
  run(eachBatch: (payload: SinkBatchPayload) => Promise<void>): Promise<void>;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Where a partition's next fetch starts (before its first fetch, or at any time). */
  seek(offset: TopicPartitionOffset): void;
  /** Stops fetching (waiting for the batches in hand), leaves the group, closes. */
  disconnect(): Promise<void>;
  /** After each join: the partitions this member now holds, by topic. */
  onGroupJoin(fn: (assignment: Record<string, number[]>) => void): void;
  /** The consumer failed; `restart` when it starts again by itself. */
  onCrash(fn: (error: unknown, restart: boolean) => void): void;
}

/** How the sink's kafkajs consumer is made. */
export interface KafkaConsumerOptions {
  groupId: string;
  sessionTimeoutMs?: number;
  maxBytesPerPartition?: number;
  maxBytes?: number;
}

/** Batches handled at once, one per partition: their writes overlap (fsyncs, PUTs). */
const PARTITIONS_AT_ONCE = 4;

/** A kafkajs consumer for the sink's group, as a `SinkConsumer`. */
export function kafkajsConsumer(kafka: Kafka, opts: KafkaConsumerOptions): SinkConsumer {
  const session = opts.sessionTimeoutMs ?? 30_000; // DEFAULT_SESSION_TIMEOUT_MS in sink.ts
  const c: Consumer = kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: session,
    heartbeatInterval: Math.min(3000, Math.floor(session / 3)),
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
    maxBytes: opts.maxBytes ?? 4 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    retry: { retries: 10 },
  });
  return {
    connect: () => c.connect(),
    subscribe: (s) => c.subscribe(s),
    run: (eachBatch) =>
      c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
        eachBatch,
      }),
    commitOffsets: (offsets) => c.commitOffsets(offsets),
    seek: (o) => c.seek(o),
    disconnect: () => c.disconnect(),
    onGroupJoin: (fn) => {
      c.on(c.events.GROUP_JOIN, (e) => fn(e.payload.memberAssignment));
    },
    onCrash: (fn) => {
      c.on(c.events.CRASH, (e) => fn(e.payload.error, e.payload.restart));
    },
  };
}

/**
 * Kafka's answers to a commit or heartbeat while the group changes: the member must rejoin,
 * and nothing is wrong with the data.
 */
const REBALANCE_TYPES = new Set([
  "UNKNOWN_MEMBER_ID",
  "ILLEGAL_GENERATION",
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "FENCED_INSTANCE_ID",
]);

/** True when `err` (or one of its causes) says the group is changing. */
export function isRebalance(err: unknown): boolean {
  for (
    let e = err as { type?: string; name?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (REBALANCE_TYPES.has(e.type ?? "") || e.name === "KafkaJSRebalanceInProgress") return true;
  }
  return false;
}

/**
 * True for a Kafka error that passes with a rejoin or a retry. kafkajs marks retriable ones,
 * but wraps a rebalance answer it gave up on (`UNKNOWN_MEMBER_ID` from a commit) in a
 * non-retriable error, so the causes are looked at too.
 */
export function passingKafkaError(err: unknown): boolean {
  return (err as { retriable?: unknown })?.retriable === true || isRebalance(err);
}
