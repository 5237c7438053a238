/**
 * What a Kafka send needs in either thread, shared by lib/ingest/kafka_target.ts (which hands
 * batches to a producer here or in a worker) and lib/ingest/kafka_send_worker.ts (the worker):
 * Kafka's default partitioner, the producer made the same way in both, which errors may
 * pass on a retry, and the messages the two threads exchange. Both import this file and
 * neither imports the other.
 * @module
 */
import type { Kafka, Producer } from "../deps/kafkajs.ts";
import type { KafkaClientOptions } from "../kafka/kafka_client.ts";
import { isRetriable } from "../shell/errors.ts";
import { installFastVarints } from "../kafka/kafkajs_varints.ts";

/** Java's `Utils.murmur2` (Kafka's default partitioner hash) over `bytes`. */
export function murmur2(bytes: Uint8Array, len = bytes.length): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ len;
  const len4 = len >>> 2;
  for (let i = 0; i < len4; i++) {
    const i4 = i << 2;
    let k = bytes[i4] | (bytes[i4 + 1] << 8) | (bytes[i4 + 2] << 16) | (bytes[i4 + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = len & ~3;
  const rest = len & 3;
  if (rest === 3) h ^= bytes[tail + 2] << 16;
  if (rest >= 2) h ^= bytes[tail + 1] << 8;
  if (rest >= 1) {
    h ^= bytes[tail];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const keyEncoder = new TextEncoder();
let scratch = new Uint8Array(64);

/** murmur2 of a string key's UTF-8 bytes; ASCII keys (posting keys) skip the encoder. */
function hashKey(key: string): number {
  const n = key.length;
  if (n > scratch.length) scratch = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return murmur2(keyEncoder.encode(key));
    scratch[i] = c;
  }
  return murmur2(scratch, n);
}

/**
 * Kafka's default partitioning (the Java client's and kafkajs's DefaultPartitioner: murmur2
 * of the key, positive, modulo the partition count), without kafkajs's per-message Long
 * arithmetic and array copies, which cost more than the rest of a send at 100k records/s.
 */
export function keyHashPartitioner() {
  let next = 0;
  return (
    { partitionMetadata, message }: {
      partitionMetadata: { partitionId: number }[];
      message: { partition?: number | null; key?: string | Uint8Array | null };
    },
  ): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const n = partitionMetadata.length;
    const key = message.key;
    if (key === null || key === undefined) return partitionMetadata[next++ % n].partitionId;
    const hash = typeof key === "string" ? hashKey(key) : murmur2(key);
    return (hash & 0x7fffffff) % n;
  };
}

/** True when a kafkajs error (or the error it gave up on) may pass on a retry. */
export function kafkaRetriable(err: unknown): boolean {
  if (isRetriable(err)) return true;
  const e = err as { name?: string; cause?: unknown };
  return e?.name === "KafkaJSNumberOfRetriesExceeded" && isRetriable(e.cause);
}

/** A connected kafkajs producer as the emulator sends with: no auto-create, no own retries. */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  installFastVarints();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: keyHashPartitioner,
    retry: { retries: 0 },
  });
  await producer.connect();
  return producer;
}

/** A request to the producer thread. */
export type WorkerRequest =
  | { id: number; op: "connect"; options: KafkaClientOptions }
  | {
    id: number;
    op: "send";
    topic: string;
    messages: { key: string; value: string }[];
    timeoutMs: number;
  }
  | { id: number; op: "close" };

/** The producer thread's answer. */
export type WorkerReply =
  | { id: number; ok: true }
  | { id: number; ok: false; error: { message: string; type?: string; retriable: boolean } };
