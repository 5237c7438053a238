/**
 * Fetch (key 1), versions 0–16.
 *
 * Behavior:
 * - Returns whole stored batches from the one holding the fetch offset (clients skip the
 *   records before it), up to the partition's max_bytes and the request's max_bytes; the
 *   first batch of the first non-empty partition is returned even when larger (KIP-74).
 * - What the records take is held in the connections' memory budget until the response is
 *   written; a fetch answers with no more than the budget has free (but at least that
 *   first batch).
 * - Long poll: when fewer than min_bytes are available the request waits for appends to
 *   any of its partitions, up to max_wait_ms; it then answers with what there is.
 * - An offset below the log start or above the high watermark gets OFFSET_OUT_OF_RANGE;
 *   an unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION (v13+ by id: UNKNOWN_TOPIC_ID).
 *   Errors, and a fetch of no partitions at all, answer at once (as Kafka's ReplicaManager
 *   does).
 * - Fetch sessions (KIP-227) are refused the way Kafka refuses them when its session cache
 *   is full: a full fetch (epoch 0 or -1) is answered in full with session id 0 (no session
 *   made), and an incremental one (epoch > 0) gets FETCH_SESSION_ID_NOT_FOUND, after which
 *   clients send full fetches.
 * - v0–v3 expect old message sets, which this broker does not make from its record batches:
 *   they get UNSUPPORTED_VERSION per partition, as Kafka answers with
 *   message.downconversion.enable=false.
 * - isolation_level read_committed (1): records only below the last stable offset (the
 *   first offset of the oldest open transaction, else the high watermark), and the
 *   aborted transactions (producer id, first offset) overlapping what is returned, so the
 *   client drops their records; the long poll waits for the last stable offset to move.
 *   read_uncommitted gets everything, markers included, and a null aborted list.
 * - preferred_read_replica is -1.
 *
 * Version notes: v1+ throttle_time_ms; v3+ request max_bytes; v4+ isolation_level, LSO,
 * aborted transactions; v5+ log_start_offset; v7+ fetch sessions; v9+
 * current_leader_epoch (ignored); v11+ rack_id (ignored), preferred_read_replica; v12+
 * flexible, last_fetched_epoch (followers; ignored); v13+ topic ids instead of names; v15+
 * replica state instead of replica id; v16 leader hints (left out: this broker leads all).
 *
 * Not implemented: fetch sessions, down-conversion, follower fetching.
 * @module
 */
import { defineApi } from "./api.ts";
import type { BrokerState } from "./state.ts";
import { ErrorCode } from "./error_codes.ts";
import type { PartitionLog } from "./partition_log.ts";
import { arr, obj } from "./schema.ts";

interface FetchPartition {
  index: number;
  fetchOffset: number;
  maxBytes: number;
  log?: PartitionLog;
  error: number;
}

/** Clients already told (in the log) that their fetch version is too old, per broker. */
const toldTooOld = new WeakMap<BrokerState, Set<string>>();

export const fetch = defineApi({
  key: 1,
  name: "Fetch",
  minVersion: 0,
  maxVersion: 16,
  flexibleFrom: 12,
  request: {
    clusterId: "string v12+ null tag0",
    replicaId: "int32 v0-14 =-1",
    replicaState: obj({ replicaId: "int32 =-1", replicaEpoch: "int64 =-1" }, "v15+ tag1"),
    maxWaitMs: "int32",
    minBytes: "int32",
    maxBytes: "int32 v3+ =2147483647",
    isolationLevel: "int8 v4+",
    sessionId: "int32 v7+",
    sessionEpoch: "int32 v7+ =-1",
    topics: arr({
      topic: "string v0-12",
      topicId: "uuid v13+",
      partitions: arr({
        partition: "int32",
        currentLeaderEpoch: "int32 v9+ =-1",
        fetchOffset: "int64",
        lastFetchedEpoch: "int32 v12+ =-1",
        logStartOffset: "int64 v5+ =-1",
        partitionMaxBytes: "int32",
      }),
    }),
    forgottenTopicsData: arr({
      topic: "string v7-12",
      topicId: "uuid v13+",
      partitions: "[]int32",
    }, "v7+"),
    rackId: "string v11+",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    errorCode: "int16 v7+",
    sessionId: "int32 v7+",
    responses: arr({
      topic: "string v0-12",
      topicId: "uuid v13+",
      partitions: arr({
        partitionIndex: "int32",
        errorCode: "int16",
        highWatermark: "int64",
        lastStableOffset: "int64 v4+ =-1",
        logStartOffset: "int64 v5+ =-1",
        abortedTransactions: arr({ producerId: "int64", firstOffset: "int64" }, "v4+ null"),
        preferredReadReplica: "int32 v11+ =-1",
        records: "chunks null",
      }),
    }),
  },
  async handle(req, ctx) {
    const v = ctx.apiVersion;
    const s = ctx.state;
    if (req.sessionEpoch !== 0 && req.sessionEpoch !== -1) {
      // An incremental fetch in a session this broker never made.
      return { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
    }
    // Kafka keys a fetch by partition: one named twice is fetched once, at the offset given
    // last, in the place it was first named.
    const wanted = new Map<
      string,
      FetchPartition & { topicKey: string; name: string; id: string }
    >();
    for (const t of req.topics) {
      const topic = v >= 13 ? s.topics.byId(t.topicId) : s.topics.get(t.topic);
      const topicKey = v >= 13 ? t.topicId : t.topic;
      for (const p of t.partitions) {
        const log = topic?.partitions[p.partition];
        let error: number = ErrorCode.NONE;
        if (!log) {
          error = v >= 13 && !topic
            ? ErrorCode.UNKNOWN_TOPIC_ID
            : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        } // Any partition that exists would need the down-conversion v0–v3 expect.
        else if (v < 4) error = ErrorCode.UNSUPPORTED_VERSION;
        else if (!log.inRange(p.fetchOffset)) error = ErrorCode.OFFSET_OUT_OF_RANGE;
        wanted.set(`${topicKey}\0${p.partition}`, {
          topicKey,
          name: topic?.name ?? t.topic,
          id: t.topicId,
          index: p.partition,
          fetchOffset: p.fetchOffset,
          maxBytes: p.partitionMaxBytes,
          log: error === ErrorCode.NONE ? log : undefined,
          error,
        });
      }
    }
    // Partitions of one topic that follow each other share a topic entry, as in Kafka.
    const topics: { name: string; topicId: string; partitions: FetchPartition[] }[] = [];
    let last = "";
    for (const p of wanted.values()) {
      if (topics.length === 0 || p.topicKey !== last) {
        topics.push({ name: p.name, topicId: p.id, partitions: [] });
        last = p.topicKey;
      }
      topics[topics.length - 1].partitions.push(p);
    }
    if (v < 4) tellTooOld(s, ctx.clientId, v);
    const all = topics.flatMap((t) => t.partitions);
    const failed = all.some((p) => p.error !== ErrorCode.NONE);
    const committed = req.isolationLevel === 1;
    const available = () => {
      let n = 0;
      for (const p of all) {
        if (!p.log || p.error) continue;
        if (committed && p.fetchOffset >= p.log.lastStableOffset) continue;
        n += Math.min(p.log.bytesFrom(p.fetchOffset), p.maxBytes);
      }
      return n;
    };
    const minBytes = Math.max(1, req.minBytes);
    if (!failed && all.length > 0 && req.maxWaitMs > 0 && available() < minBytes) {
      await waitForData(all, req.maxWaitMs, minBytes, available, ctx.signal);
      // A topic deleted while we waited answers as unknown.
      for (const t of topics) {
        const topic = s.topics.get(t.name);
        for (const p of t.partitions) {
          if (p.log && topic?.partitions[p.index] !== p.log) {
            p.log = undefined;
            p.error = v >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          }
        }
      }
    }

    // The records read are held until the response is written: they come out of the memory
    // budget the connections share, so with it used up the answer is smaller (but always
    // the first batch, as KIP-74 promises).
    let budget = Math.min(req.maxBytes, Math.max(0, ctx.memory.free));
    let sent = 0;
    const res = {
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: topics.map((t) => ({
        topic: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => {
          const log = p.log;
          const lso = log ? log.lastStableOffset : -1;
          const read = log && !p.error
            ? log.read(
              p.fetchOffset,
              Math.min(p.maxBytes, budget),
              sent === 0,
              committed && lso < log.nextOffset ? lso : undefined,
            )
            : undefined;
          if (read) {
            budget = Math.max(0, budget - read.bytes);
            sent += read.bytes;
          }
          // An error answers no offsets (-1), as Kafka's does.
          const ok = log && p.error === ErrorCode.NONE;
          return {
            partitionIndex: p.index,
            errorCode: p.error,
            highWatermark: ok ? log.nextOffset : -1,
            lastStableOffset: ok ? lso : -1,
            logStartOffset: ok ? log.logStartOffset : -1,
            // Kafka reads aborted transactions only for read_committed; a partition it never
            // read (unknown, or refused before reading) gets an empty list.
            abortedTransactions: committed && ok && read?.bytes
              ? log.txns.abortedIn(p.fetchOffset, lso)
              : committed || !readable(p.error)
              ? []
              : null,
            // Kafka sends no records at all (null) with UNSUPPORTED_VERSION.
            records: p.error === ErrorCode.UNSUPPORTED_VERSION ? null : read ? read.chunks : [],
          };
        }),
      })),
    };
    ctx.memory.hold(sent);
    return res;
  },
});

/** Whether Kafka would have read the partition's log to give this error. */
function readable(error: number): boolean {
  return error === ErrorCode.NONE || error === ErrorCode.OFFSET_OUT_OF_RANGE;
}

function tellTooOld(s: BrokerState, clientId: string | null, v: number): void {
  let told = toldTooOld.get(s);
  if (!told) toldTooOld.set(s, told = new Set());
  const who = clientId ?? "";
  if (told.has(who)) return;
  told.add(who);
  s.log(
    `client "${who}" fetches with Fetch v${v}, which expects old message sets: answered UNSUPPORTED_VERSION (this broker serves record format v2 to Fetch v4+, Kafka 0.11+ clients)`,
  );
}

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
