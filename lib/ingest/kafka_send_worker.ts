/**
 * A worker thread holding one kafkajs producer, for lib/ingest/kafka_target.ts: kafkajs's record
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
import { createKafka } from "../kafka/kafka_client.ts";
import type { Producer } from "../deps/kafkajs.ts";
import { connectProducer, kafkaRetriable } from "./kafka_send.ts";
import type { WorkerReply, WorkerRequest } from "./kafka_send.ts";

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
      producer = await connectProducer(createKafka(req.options));
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
