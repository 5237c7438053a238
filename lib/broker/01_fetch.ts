/**
 * Fetch (key 1), versions 0–11.
 *
 * Behavior:
 * - Returns whole stored batches from the one holding the fetch offset (clients skip the
 *   records before it), up to the partition's max_bytes and the request's max_bytes; the
 *   first batch of the first non-empty partition is returned even when larger (KIP-74).
 * - Long poll: when fewer than min_bytes are available the request waits for appends to
 *   any of its partitions, up to max_wait_ms; it then answers with what there is.
 * - An offset below the log start or above the high watermark gets OFFSET_OUT_OF_RANGE;
 *   an unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION. Errors, and a fetch of no
 *   partitions at all, answer at once (as Kafka's ReplicaManager does).
 * - last_stable_offset = high watermark (no transactions), aborted_transactions is empty,
 *   preferred_read_replica is -1, session_id is 0 (no fetch sessions).
 *
 * Version notes: v1+ throttle_time_ms; v3+ request max_bytes; v4+ isolation_level, LSO,
 * aborted transactions; v5+ log_start_offset; v7+ fetch sessions (ignored); v9+
 * current_leader_epoch (ignored); v11+ rack_id (ignored), preferred_read_replica.
 *
 * Not implemented: fetch sessions (KIP-227), down-conversion of batches for v0–3 clients
 * (they receive magic-2 batches), follower fetching.
 * @module
 */
import type { Api } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import type { PartitionLog } from "./partition_log.ts";

interface FetchPartition {
  index: number;
  fetchOffset: number;
  maxBytes: number;
  log?: PartitionLog;
  error: number;
}

export const fetch: Api = {
  key: 1,
  name: "Fetch",
  minVersion: 0,
  maxVersion: 11,
  async handle(r, w, ctx) {
    const v = ctx.apiVersion;
    r.int32(); // replica_id
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = v >= 3 ? r.int32() : 0x7fffffff;
    if (v >= 4) r.int8(); // isolation_level: no transactions, so both levels read the same
    if (v >= 7) {
      r.int32(); // session_id
      r.int32(); // session_epoch
    }
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r): FetchPartition => {
        const index = r.int32();
        if (v >= 9) r.int32(); // current_leader_epoch
        const fetchOffset = r.int64();
        if (v >= 5) r.int64(); // log_start_offset (followers only)
        return { index, fetchOffset, maxBytes: r.int32(), error: ErrorCode.NONE };
      }),
    }));
    if (v >= 7) r.array((r) => [r.string(), r.array((r) => r.int32())]); // forgotten topics
    if (v >= 11) r.string(); // rack_id

    const all: FetchPartition[] = [];
    let failed = false;
    for (const t of topics) {
      const topic = ctx.state.topics.get(t.name);
      for (const p of t.partitions) {
        p.log = topic?.partitions[p.index];
        if (!p.log) p.error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (!p.log.inRange(p.fetchOffset)) p.error = ErrorCode.OFFSET_OUT_OF_RANGE;
        if (p.error) failed = true;
        all.push(p);
      }
    }
    const available = () => {
      let n = 0;
      for (const p of all) {
        if (p.log && !p.error) n += Math.min(p.log.bytesFrom(p.fetchOffset), p.maxBytes);
      }
      return n;
    };
    if (!failed && all.length > 0 && maxWaitMs > 0 && available() < Math.max(1, minBytes)) {
      await waitForData(all, maxWaitMs, Math.max(1, minBytes), available, ctx.signal);
      // A topic deleted while we waited answers as unknown.
      for (const t of topics) {
        const topic = ctx.state.topics.get(t.name);
        for (const p of t.partitions) {
          if (p.log && topic?.partitions[p.index] !== p.log) {
            p.log = undefined;
            p.error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          }
        }
      }
    }

    if (v >= 1) w.int32(0); // throttle_time_ms
    if (v >= 7) w.int16(ErrorCode.NONE).int32(0); // error_code, session_id
    let budget = maxBytes;
    let sent = 0;
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        const log = p.log;
        const read = log && !p.error
          ? log.read(p.fetchOffset, Math.min(p.maxBytes, budget), sent === 0)
          : undefined;
        if (read) {
          budget = Math.max(0, budget - read.bytes);
          sent += read.bytes;
        }
        w.int32(p.index).int16(p.error).int64(log ? log.nextOffset : -1);
        if (v >= 4) w.int64(log ? log.nextOffset : -1); // last_stable_offset
        if (v >= 5) w.int64(log ? log.logStartOffset : -1);
        if (v >= 4) w.int32(0); // aborted_transactions: empty
        if (v >= 11) w.int32(-1); // preferred_read_replica
        w.chunkedBytes(read ? read.chunks : []);
      });
    });
  },
};

/** Waits until `available()` reaches `minBytes`, `maxWaitMs` passes or `signal` aborts. */
function waitForData(
  parts: FetchPartition[],
  maxWaitMs: number,
  minBytes: number,
  available: () => number,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const logs = [...new Set(parts.map((p) => p.log).filter((l) => l !== undefined))];
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      for (const l of logs) l.waiters.delete(wake);
      resolve();
    };
    const wake = () => {
      if (available() >= minBytes) finish();
      else for (const l of logs) l.waiters.add(wake);
    };
    const timer = setTimeout(finish, maxWaitMs);
    signal.addEventListener("abort", finish);
    for (const l of logs) l.waiters.add(wake);
  });
}
