/**
 * Idempotent producers, per partition: for each producer id its epoch and the sequence
 * numbers and offsets of its last five batches (Kafka keeps five because a producer has at
 * most five requests in flight). That is enough to answer a retried batch with the offset
 * it was first given instead of appending it twice, to spot a sequence gap
 * (OUT_OF_ORDER_SEQUENCE_NUMBER) and a zombie with an older epoch (INVALID_PRODUCER_EPOCH).
 *
 * The table is rebuilt on start from the batch headers the log scan reads anyway (producer
 * id, epoch, base sequence), on top of a snapshot (`producers.snapshot` beside the
 * partition's segments) written before old segments are deleted and when the broker
 * stops, so producers whose batches were all deleted are still known.
 * @module
 */
import { crc32c } from "./crc32c.ts";
import { ErrorCode } from "./error_codes.ts";

/** Batches remembered per producer (Kafka's max.in.flight.requests.per.connection cap). */
export const REMEMBERED_BATCHES = 5;
/** How long a producer that stopped writing is remembered (Kafka's producer.id.expiration.ms). */
export const PRODUCER_EXPIRATION_MS = 24 * 60 * 60 * 1000;

/** One remembered batch of a producer. */
export interface ProducerBatch {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

/** What is known of one producer on one partition. */
export interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most REMEMBERED_BATCHES. */
  batches: ProducerBatch[];
  /** When it last wrote (ms), for expiry. */
  lastWrite: number;
  /** The max timestamp of its last batch or marker (-1: unknown), for DescribeProducers. */
  lastTimestamp?: number;
  /** The coordinator epoch of its last transaction marker (-1: none yet). */
  coordinatorEpoch?: number;
}

/** The verdict on a produced batch from an idempotent producer. */
export type SequenceVerdict =
  | { kind: "append" }
  | { kind: "duplicate"; firstOffset: number }
  | { kind: "refuse"; error: number; message: string };

/** The last sequence number of a batch starting at `first` with `delta` more records. */
export function lastSequence(first: number, delta: number): number {
  return (first + delta) % 0x80000000;
}

function inSequence(last: number, next: number): boolean {
  return next === (last + 1) % 0x80000000;
}

const ENC = new TextEncoder();
const DEC = new TextDecoder();

/** The producers of one partition. */
export class ProducerStateTable {
  private entries = new Map<number, ProducerEntry>();
  /** The log offset the table is complete up to (batches below it are in it). */
  coveredUpTo = 0;

  /** Producers known. */
  get size(): number {
    return this.entries.size;
  }

  /** The highest producer id known (-1 when none). */
  get maxProducerId(): number {
    let max = -1;
    for (const id of this.entries.keys()) if (id > max) max = id;
    return max;
  }

  /** The entry of `producerId`, if known. */
  get(producerId: number): ProducerEntry | undefined {
    return this.entries.get(producerId);
  }

  /** Checks a batch against what the producer sent before (Kafka's ProducerAppendInfo rules). */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): SequenceVerdict {
    const e = this.entries.get(producerId);
    if (!e) return { kind: "append" }; // unknown (new, or expired): any sequence starts it
    if (epoch < e.epoch) {
      return {
        kind: "refuse",
        error: ErrorCode.INVALID_PRODUCER_EPOCH,
        message:
          `producer ${producerId} sent epoch ${epoch}, older than its current epoch ${e.epoch}`,
      };
    }
    if (epoch > e.epoch) {
      if (firstSeq === 0) return { kind: "append" };
      return {
        kind: "refuse",
        error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message:
          `producer ${producerId} started epoch ${epoch} at sequence ${firstSeq}: a new epoch starts at 0`,
      };
    }
    const dup = e.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (dup) return { kind: "duplicate", firstOffset: dup.firstOffset };
    const last = e.batches.at(-1);
    if (!last || inSequence(last.lastSeq, firstSeq)) return { kind: "append" };
    return {
      kind: "refuse",
      error: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      message:
        `producer ${producerId} (epoch ${epoch}) sent sequence ${firstSeq} after ${last.lastSeq}`,
    };
  }

  /** Records an appended batch (also used to replay the log on start). */
  record(
    producerId: number,
    epoch: number,
    batch: ProducerBatch,
    when: number,
    timestamp = when,
  ): void {
    let e = this.entries.get(producerId);
    if (!e || epoch !== e.epoch) {
      e = { epoch, batches: [], lastWrite: when, coordinatorEpoch: e?.coordinatorEpoch };
      this.entries.set(producerId, e);
    }
    e.lastTimestamp = timestamp;
    e.batches.push(batch);
    if (e.batches.length > REMEMBERED_BATCHES) e.batches.shift();
    e.lastWrite = Math.max(e.lastWrite, when);
    this.coveredUpTo = Math.max(this.coveredUpTo, batch.lastOffset + 1);
  }

  /**
   * Records a transaction marker of `producerId` at `offset`: a newer epoch (the
   * coordinator fenced the producer) becomes its epoch with no batches remembered; the
   * sequence numbers of the same epoch go on across transactions.
   */
  marker(
    producerId: number,
    epoch: number,
    offset: number,
    when: number,
    coordinatorEpoch = 0,
    timestamp = when,
  ): void {
    let e = this.entries.get(producerId);
    if (!e || epoch > e.epoch) {
      e = { epoch, batches: [], lastWrite: when };
      this.entries.set(producerId, e);
    } else e.lastWrite = Math.max(e.lastWrite, when);
    e.coordinatorEpoch = coordinatorEpoch;
    e.lastTimestamp = timestamp;
    this.coveredUpTo = Math.max(this.coveredUpTo, offset + 1);
  }

  /** Every producer known, by id. */
  all(): IterableIterator<[number, ProducerEntry]> {
    return this.entries.entries();
  }

  /** Forgets producers that have not written for `maxAgeMs`; answers how many. */
  expire(now: number, maxAgeMs = PRODUCER_EXPIRATION_MS): number {
    let n = 0;
    for (const [id, e] of this.entries) {
      if (now - e.lastWrite > maxAgeMs) {
        this.entries.delete(id);
        n++;
      }
    }
    return n;
  }

  /** The table as bytes: a CRC-32C line, then JSON. */
  serialize(): Uint8Array {
    const body = JSON.stringify({
      version: 1,
      coveredUpTo: this.coveredUpTo,
      producers: [...this.entries].map(([id, e]) => [
        id,
        e.epoch,
        e.lastWrite,
        e.batches.map((b) => [b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset]),
        e.lastTimestamp ?? -1,
        e.coordinatorEpoch ?? -1,
      ]),
    });
    const bytes = ENC.encode(body);
    return ENC.encode(`${crc32c(bytes).toString(16).padStart(8, "0")}\n${body}\n`);
  }

  /** Reads a table written by `serialize`; throws on any damage. */
  static deserialize(data: Uint8Array): ProducerStateTable {
    const text = DEC.decode(data);
    const nl = text.indexOf("\n");
    const body = text.slice(nl + 1).replace(/\n$/, "");
    if (nl !== 8 || parseInt(text.slice(0, 8), 16) !== crc32c(ENC.encode(body))) {
      throw new Error("its CRC-32C does not match");
    }
    const json = JSON.parse(body) as {
      version: number;
      coveredUpTo: number;
      producers: [number, number, number, number[][], number?, number?][];
    };
    if (json.version !== 1) throw new Error(`it has version ${json.version}, not 1`);
    const t = new ProducerStateTable();
    t.coveredUpTo = json.coveredUpTo;
    for (const [id, epoch, lastWrite, batches, lastTimestamp, coordinatorEpoch] of json.producers) {
      t.entries.set(id, {
        epoch,
        lastWrite,
        lastTimestamp: lastTimestamp ?? -1,
        coordinatorEpoch: coordinatorEpoch ?? -1,
        batches: batches.map(([firstSeq, lastSeq, firstOffset, lastOffset]) => ({
          firstSeq,
          lastSeq,
          firstOffset,
          lastOffset,
        })),
      });
    }
    return t;
  }
}
