/**
 * A worker thread holding one kafkajs producer, for lib/kafka_target.ts: kafkajs's record
 * encoding is most of the CPU a Kafka send costs, so running it here leaves the main
 * thread free to read and serialize the next postings on another core.
 *
 * Messages in: `{ id, op: "connect", options }`, `{ id, op: "send", topic, messages,
 * timeoutMs }`, `{ id, op: "close" }`. Out: `{ id, ok: true }` or `{ id, ok: false, error:
 * { message, type, retriable } }`.
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { createKafka } from "./kafka_client.ts";
import type { KafkaClientOptions } from "./kafka_client.ts";
import type { Producer } from "./deps/kafkajs.ts";
import { installFastVarints } from "./kafkajs_varints.ts";
import { kafkaRetriable, keyHashPartitioner } from "./kafka_target.ts";

/** A request to the worker. */
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

/** The worker's answer. */
export type WorkerReply =
  | { id: number; ok: true }
  | { id: number; ok: false; error: { message: string; type?: string; retriable: boolean } };

let producer: Producer | undefined;

function fail(id: number, err: unknown): WorkerReply {
  const e = err as { message?: string; type?: string; cause?: { type?: string } };
  return {
    id,
    ok: false,
    error: {
      message: e?.message ?? String(err),
      type: e?.type ?? e?.cause?.type,
      retriable: kafkaRetriable(err),
    },
  };
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const req = event.data;
  let reply: WorkerReply;
  try {
    if (req.op === "connect") {
      installFastVarints();
      producer = createKafka(req.options).producer({
        allowAutoTopicCreation: false,
        createPartitioner: keyHashPartitioner,
        retry: { retries: 0 },
      });
      await producer.connect();
    } else if (req.op === "send") {
      await producer!.send({
        topic: req.topic,
        messages: req.messages,
        acks: -1,
        timeout: req.timeoutMs,
      });
    } else {
      await producer?.disconnect().catch(() => {});
      producer = undefined;
    }
    reply = { id: req.id, ok: true };
  } catch (err) {
    reply = fail(req.id, err);
  }
  self.postMessage(reply);
};
