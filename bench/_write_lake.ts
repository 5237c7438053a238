/**
 * Writes postings straight into a lake in the S3 sink's layout (SPEC §3), as the pipeline
 * would have after the emulator, Kafka and the sink: one JSON value per line, a new object
 * every `flushSize` records, keys from offsets. For tests, benchmarks and the demo's
 * independent check; it does not go through Kafka.
 * @module
 */
import { type Lake, objectKey } from "../lib/lake/lake.ts";

/** The three rows of one posting, with the source column names (lib/source/dataset.ts's Posting). */
export interface PostingRows {
  pin: object;
  geo: object;
  user: object;
}

/** Options for `writeLake`. */
export interface WriteLakeOptions {
  /** Topic prefix: topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`. Default `pinpipe`. */
  prefix?: string;
  /** Records per object (the connector's `flush.size`). Default 1. */
  flushSize?: number;
  /** Kafka partition. Default 0. */
  partition?: number;
  /** Offset of the first record in each topic (to append to a lake already written). Default 0. */
  startOffset?: number;
  /** Objects handed to `lake.putMany` at once. Default 500. */
  batchObjects?: number;
}

/** What `writeLake` wrote. */
export interface WriteLakeResult {
  objects: number;
  records: number;
  bytes: number;
  /** The offset the next record of each topic would get. */
  nextOffset: number;
}

const encoder = new TextEncoder();

/** Writes `postings` to `lake` as the S3 sink would have, `flushSize` records per object. */
export async function writeLake(
  lake: Lake,
  postings: Iterable<PostingRows> | AsyncIterable<PostingRows>,
  opts: WriteLakeOptions = {},
): Promise<WriteLakeResult> {
  const prefix = opts.prefix ?? "pinpipe";
  const flush = opts.flushSize ?? 1;
  const partition = opts.partition ?? 0;
  const batchObjects = opts.batchObjects ?? 500;
  if (!Number.isInteger(flush) || flush < 1) {
    throw new RangeError(
      `Cannot write a lake with flush size ${flush}: expected a whole number >= 1`,
    );
  }
  const tables = ["pin", "geo", "user"] as const;
  const pending = tables.map(() => [] as string[]);
  const start = tables.map(() => opts.startOffset ?? 0);
  let batch: { key: string; body: Uint8Array }[] = [];
  const result: WriteLakeResult = { objects: 0, records: 0, bytes: 0, nextOffset: 0 };

  const cut = async (t: number) => {
    const lines = pending[t];
    if (lines.length === 0) return;
    const body = encoder.encode(lines.join(""));
    batch.push({ key: objectKey(`${prefix}.${tables[t]}`, partition, start[t]), body });
    result.objects++;
    result.bytes += body.length;
    start[t] += lines.length;
    pending[t] = [];
    if (batch.length >= batchObjects) {
      await lake.putMany(batch);
      batch = [];
    }
  };

  for await (const p of postings) {
    for (let t = 0; t < tables.length; t++) {
      pending[t].push(`${JSON.stringify(p[tables[t]])}\n`);
      result.records++;
      if (pending[t].length >= flush) await cut(t);
    }
  }
  for (let t = 0; t < tables.length; t++) await cut(t);
  if (batch.length) await lake.putMany(batch);
  result.nextOffset = start[0];
  return result;
}
