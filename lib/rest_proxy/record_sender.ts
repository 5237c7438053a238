/**
 * Sends records to one topic through a kafkajs producer and reports one result per record,
 * in request order: a partition and offset once the broker acknowledged it (acks=-1), or
 * Confluent's per-record error code.
 *
 * Records go out per partition in chunks of at most `chunkRecords` records / `chunkBytes`
 * bytes, one chunk after another per partition and the partitions side by side: kafkajs'
 * `send` takes time quadratic in the number of messages (200,000 tiny records in one call
 * took 80 s), and between chunks other requests get their turn. Once a chunk fails, the rest of
 * that partition fails with the same error without being sent, so a partition never holds a
 * later record of a request without the earlier ones, and an outage costs one retry budget,
 * not one per chunk.
 * @module
 */
import { Buffer } from "node:buffer";
import { Partitioners } from "../deps/kafkajs.ts";
import type { Producer } from "../deps/kafkajs.ts";
import { kafkaErrorCode, kafkaErrorMessage } from "./kafka_errors.ts";
import type { PartitionMeta, TopicCache } from "./topics.ts";

/** A record to send. */
export interface OutgoingRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** The partition asked for; else the key's hash, or round robin without a key. */
  partition?: number;
  headers?: { name: string; value: Uint8Array | null }[];
  /** Milliseconds since the epoch; default now. */
  timestamp?: number;
}

/** What became of one record. */
export type SendResult =
  | { ok: true; partition: number; offset: number; timestamp: number }
  | { ok: false; errorCode: number; error: string };

/** How the sender chunks and limits. */
export interface SenderOptions {
  /** Largest key + value; bigger records fail alone with 50002. */
  maxRecordBytes: number;
  /** Records per kafkajs send. Default 1000. */
  chunkRecords?: number;
  /** Bytes per kafkajs send. Default 1 MiB. */
  chunkBytes?: number;
  log: (line: string) => void;
}

/** Sends records for the v2 and v3 produce endpoints. */
export class RecordSender {
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly chunkRecords: number;
  private readonly chunkBytes: number;

  constructor(
    private readonly producer: Producer,
    private readonly topics: TopicCache,
    private readonly opts: SenderOptions,
  ) {
    this.chunkRecords = opts.chunkRecords ?? 1000;
    this.chunkBytes = opts.chunkBytes ?? 1024 * 1024;
  }

  /** Sends `records` to `topic` (whose partitions are `meta`); one result per record. */
  async send(
    topic: string,
    meta: PartitionMeta[],
    records: OutgoingRecord[],
  ): Promise<SendResult[]> {
    const results: SendResult[] = new Array(records.length);
    const byPartition = new Map<number, number[]>();
    const count = meta.length;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
      if (size > this.opts.maxRecordBytes) {
        results[i] = {
          ok: false,
          errorCode: 50002,
          error:
            `The message is ${size} bytes when serialized which is larger than ${this.opts.maxRecordBytes}, ` +
            "which is the value of the max.request.size configuration.",
        };
        continue;
      }
      let p: number;
      if (r.partition !== undefined) {
        if (r.partition >= count) {
          results[i] = {
            ok: false,
            errorCode: 50002,
            error:
              `Invalid partition given with record: ${r.partition} is not in the range [0...${count}).`,
          };
          continue;
        }
        p = r.partition;
      } else {
        p = this.partitioner({
          topic,
          partitionMetadata: meta,
          message: { key: r.key === null ? null : Buffer.from(r.key), value: null },
        });
      }
      const idx = byPartition.get(p);
      if (idx) idx.push(i);
      else byPartition.set(p, [i]);
    }
    await Promise.all(
      [...byPartition].map(([p, idx]) => this.sendPartition(topic, p, idx, records, results)),
    );
    return results;
  }

  private async sendPartition(
    topic: string,
    partition: number,
    idx: number[],
    records: OutgoingRecord[],
    results: SendResult[],
  ): Promise<void> {
    let failed: { errorCode: number; error: string } | undefined;
    for (let start = 0; start < idx.length;) {
      let end = start;
      let bytes = 0;
      while (end < idx.length && end - start < this.chunkRecords) {
        const r = records[idx[end]];
        bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
        if (bytes > this.chunkBytes && end > start) break;
        end++;
      }
      const chunk = idx.slice(start, end);
      start = end;
      if (failed) {
        for (const i of chunk) results[i] = { ok: false, ...failed };
        continue;
      }
      const now = Date.now();
      try {
        const res = await this.producer.send({
          topic,
          acks: -1,
          timeout: 30000,
          messages: chunk.map((i) => {
            const r = records[i];
            return {
              key: r.key === null
                ? null
                : Buffer.from(r.key.buffer, r.key.byteOffset, r.key.length),
              value: r.value === null
                ? null
                : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length),
              partition,
              timestamp: String(r.timestamp ?? now),
              headers: r.headers?.length ? headersOf(r.headers) : undefined,
            };
          }),
        });
        const m = res.find((x) => x.partition === partition) ?? res[0];
        const base = Number(m.baseOffset ?? (m as { offset?: string }).offset);
        chunk.forEach((i, k) => {
          results[i] = {
            ok: true,
            partition,
            offset: base + k,
            timestamp: records[i].timestamp ?? now,
          };
        });
      } catch (err) {
        const e = err as { type?: string };
        failed = { errorCode: kafkaErrorCode(err), error: kafkaErrorMessage(err) };
        this.opts.log(
          `rest-proxy: produce to ${topic}[${partition}] failed (${failed.errorCode}): ${failed.error}`,
        );
        if (e.type === "UNKNOWN_TOPIC_OR_PARTITION") this.topics.forget(topic);
        for (const i of chunk) results[i] = { ok: false, ...failed };
      }
    }
  }
}

function headersOf(
  hs: { name: string; value: Uint8Array | null }[],
): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const h of hs) {
    const v = Buffer.from(h.value ?? new Uint8Array());
    const prev = out[h.name];
    out[h.name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}
