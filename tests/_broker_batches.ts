/**
 * Raw batches and produce calls for the broker admin tests (unit and engine layers).
 * @module
 */
import { Buffer } from "node:buffer";
import { KafkajsRecord, KafkajsRecordBatch } from "./deps/kafkajs_protocol.ts";
import { WireClient } from "./_kafka_wire.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

export async function batch(values: string[], ts = Date.now()): Promise<Uint8Array> {
  const b = await KafkajsRecordBatch({
    firstOffset: 0n,
    firstTimestamp: ts,
    maxTimestamp: ts + values.length - 1,
    lastOffsetDelta: values.length - 1,
    records: values.map((v, i) =>
      KafkajsRecord({
        offsetDelta: i,
        timestampDelta: i,
        key: null,
        value: Buffer.from(v),
        headers: {},
      })
    ),
  });
  return new Uint8Array(b.buffer);
}

/** Produces one batch to `topic`-`partition`; answers the partition's response. */
export async function produce(
  c: WireClient,
  topic: string,
  partition: number,
  records: Uint8Array,
  acks = -1,
): Promise<Any> {
  const res = await c.call("Produce", 9, {
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return res.responses[0].partitionResponses[0];
}
