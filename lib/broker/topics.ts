/**
 * The broker's topics: names, partition counts and configs, each partition's
 * `PartitionLog`, and (with a data dir) their persistence. Layout of a data dir:
 *
 *     metadata.json                  {"version":1,"clusterId":…,"topics":[{name,id,partitions,configs}]}
 *     logs/<topic>/<n>/<offset>.log  segments of raw record batches, named by their first offset
 *     logs/<topic>/<n>/producers.snapshot  idempotent producers (producer_state.ts)
 *     checkpoints.json               each partition's log start offset and next offset
 *     offsets.log                    committed group offsets (see offsets.ts)
 *     producer_ids.json              the next block of producer ids (22_init_producer_id.ts)
 *     corrupt/                       bytes recovery cut out of a log or offsets.log
 *     orphaned/                      log directories of topics metadata.json does not know
 *
 * Every change to the topic list (create, delete, configs, partitions) is written to
 * metadata.json (temp file, fsync, rename) first and made visible only when that worked: a
 * failed write is an error answered to the client, and nothing is acknowledged that the
 * broker would not find again after a restart. Creating many topics at once (a Metadata
 * request naming thousands) is one write.
 *
 * A data dir from before segments (`logs/<topic>/<n>.log`, one file per partition) is
 * migrated on start: each file becomes the first segment of its partition.
 * @module
 */
import { join } from "node:path";
import { ErrorCode } from "./error_codes.ts";
import { FileHandles, syncDir, type WriteFault, writeFileAtomicSync } from "./log_store.ts";
import {
  type CorruptionPolicy,
  describeCut,
  PartitionLog,
  type RecoveryReport,
  segmentFileName,
} from "./partition_log.ts";
import { topicConfig, topicConfigProblems } from "./configs.ts";

/** One topic. */
export interface Topic {
  name: string;
  /** A UUID, fixed at creation (Metadata v10+ topic ids). */
  id: string;
  partitions: PartitionLog[];
  /**
   * The configs set on this topic (names and values as given); replaced, never changed in
   * place (configs.ts caches what it computes from it by identity).
   */
  configs: Record<string, string>;
}

/** A topic change that cannot be made, with the Kafka error code to answer. */
export class TopicError extends Error {
  override name = "TopicError";
  constructor(readonly code: number, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

interface MetadataFile {
  version: 1;
  clusterId: string;
  topics: { name: string; id: string; partitions: number; configs: Record<string, string> }[];
}

interface CheckpointFile {
  version: 1;
  /** By topic id: [log start offset, next offset] per partition. */
  topics: Record<string, [number, number][]>;
}

/** Why `name` is not a legal Kafka topic name, or undefined when it is. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return "a topic name cannot be empty";
  if (name === "." || name === "..") return `a topic cannot be named "${name}"`;
  if (name.length > 249) return `"${name.slice(0, 20)}…" is longer than 249 characters`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `"${name}" has characters other than ASCII letters, digits, ".", "_" and "-"`;
  }
  return undefined;
}

/** How the registry runs. */
export interface RegistryOptions {
  dataDir?: string;
  /** Ordinary log lines. */
  log: (line: string) => void;
  /** Lines about lost or damaged data: shown even when the broker is quiet. */
  warn?: (line: string) => void;
  /** The broker's topic config defaults (configs.ts brokerTopicDefaults). */
  defaults: Readonly<Record<string, string>>;
  /** What to do with a damaged log on start (default "truncate"). */
  onCorruption?: CorruptionPolicy;
  /** Most segment files open at once (default 256). */
  maxOpenFiles?: number;
  /** In memory: segments also roll at this size, so the memory cap drops in small steps. */
  memorySegmentBytes?: number;
  /** fsync directories after creating files in them. */
  syncDirs?: boolean;
  /** The clock (tests). */
  now?: () => number;
  /** Test hook: fails writes (see log_store.ts). */
  fault?: WriteFault;
}

/** One topic to create. */
export interface TopicSpec {
  name: string;
  partitions: number;
  configs?: Record<string, string>;
}

/** Topics and their partition logs, in memory or in a data dir. */
export class TopicRegistry {
  private topics = new Map<string, Topic>();
  /** Bytes held by in-memory segments. */
  readonly memory = { used: 0 };
  readonly handles: FileHandles;
  private checkpointed = "";
  private checkpointing: Promise<void> | undefined;

  private constructor(
    readonly dataDir: string | undefined,
    readonly clusterId: string,
    private readonly opts: RegistryOptions,
  ) {
    this.handles = new FileHandles(opts.maxOpenFiles ?? 256, opts.fault);
  }

  private warn(line: string): void {
    (this.opts.warn ?? this.opts.log)(line);
  }

  /** Opens the registry: empty in memory, or loaded (and recovered) from `dataDir`. */
  static async open(opts: RegistryOptions): Promise<TopicRegistry> {
    const dataDir = opts.dataDir;
    if (!dataDir) return new TopicRegistry(undefined, crypto.randomUUID(), opts);
    await Deno.mkdir(join(dataDir, "logs"), { recursive: true });
    const metaPath = join(dataDir, "metadata.json");
    let meta: MetadataFile | undefined;
    try {
      meta = JSON.parse(await Deno.readTextFile(metaPath)) as MetadataFile;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot read the broker metadata "${metaPath}"`, { cause: err });
      }
    }
    if (meta && meta.version !== 1) {
      throw new Error(
        `Cannot open the data dir "${dataDir}": its metadata.json has version ${meta.version}, this broker reads version 1`,
      );
    }
    const reg = new TopicRegistry(dataDir, meta?.clusterId ?? crypto.randomUUID(), opts);
    const checkpoints = readCheckpoints(join(dataDir, "checkpoints.json"));
    const totals = { partitions: 0, cutRecords: 0, cutBytes: 0, cuts: 0, repairs: 0 };
    try {
      for (const t of meta?.topics ?? []) {
        const topic: Topic = {
          name: t.name,
          id: t.id,
          partitions: [],
          configs: t.configs ?? {},
        };
        reg.migrateLegacy(t.name, t.partitions);
        const floors = checkpoints.topics[t.id] ?? [];
        for (let p = 0; p < t.partitions; p++) {
          const floor = floors[p] ? { logStartOffset: floors[p][0], nextOffset: floors[p][1] } : {
            logStartOffset: 0,
            nextOffset: 0,
          };
          const { log, report } = PartitionLog.open(t.name, p, {
            ...reg.logEnv(topic, p),
            floor,
          });
          reg.reportRecovery(t.name, p, report, totals);
          topic.partitions.push(log);
          totals.partitions++;
        }
        reg.topics.set(t.name, topic);
      }
    } catch (err) {
      await reg.close().catch(() => {});
      throw err;
    }
    if (totals.cuts) {
      reg.warn(
        `WARNING: recovery cut ${totals.cutRecords} record(s) (${totals.cutBytes} bytes) out of ` +
          `${totals.cuts} damaged region(s); their bytes are in ${join(dataDir, "corrupt")}, ` +
          `and their offsets will not be given out again (start with --on-corruption refuse ` +
          `to stop instead)`,
      );
    }
    // Log directories metadata.json does not list: an interrupted delete, or a metadata.json
    // that lost topics. Kept aside, never deleted.
    for await (const e of Deno.readDir(join(dataDir, "logs"))) {
      if (!e.isDirectory || reg.topics.has(e.name)) continue;
      const path = join(dataDir, "logs", e.name);
      if (e.name.startsWith(".deleting-")) {
        await Deno.remove(path, { recursive: true }).catch(() => {});
        continue;
      }
      const dest = join(dataDir, "orphaned", `${e.name}-${Date.now()}`);
      await Deno.mkdir(join(dataDir, "orphaned"), { recursive: true });
      await Deno.rename(path, dest);
      reg.warn(
        `WARNING: the logs of topic "${e.name}" are not in metadata.json: moved to ${dest} (a ` +
          `delete that was interrupted, or a lost metadata.json; nothing was deleted)`,
      );
    }
    if (!meta) reg.persist([]);
    opts.log(
      `opened ${reg.topics.size} topic(s), ${totals.partitions} partition(s) from ${dataDir}`,
    );
    return reg;
  }

  /** Moves `logs/<topic>/<n>.log` files (before segments) to `logs/<topic>/<n>/<offset>.log`. */
  private migrateLegacy(topic: string, partitions: number): void {
    const dir = join(this.dataDir!, "logs", topic);
    for (let p = 0; p < partitions; p++) {
      const old = join(dir, `${p}.log`);
      let size: number;
      try {
        size = Deno.statSync(old).size;
      } catch {
        continue;
      }
      let base = 0;
      if (size >= 8) {
        const f = Deno.openSync(old, { read: true });
        const head = new Uint8Array(8);
        f.readSync(head);
        f.close();
        base = Number(new DataView(head.buffer).getBigInt64(0));
        if (base < 0 || base > 2 ** 52) base = 0;
      }
      Deno.mkdirSync(join(dir, String(p)), { recursive: true });
      Deno.renameSync(old, join(dir, String(p), segmentFileName(base)));
      this.opts.log(`migrated ${topic}-${p} to segments (${size} bytes)`);
    }
  }

  private reportRecovery(
    topic: string,
    p: number,
    r: RecoveryReport,
    totals: { cutRecords: number; cutBytes: number; cuts: number; repairs: number },
  ): void {
    for (const line of r.repairs) {
      this.warn(`recovered ${topic}-${p}: repaired ${line}`);
      totals.repairs++;
    }
    for (const c of r.cuts) {
      const kept = c.savedTo ? `kept in ${c.savedTo}` : "could NOT be saved to a side file";
      const what = c.torn ? "a torn tail (a write cut short by a crash)" : "DAMAGED DATA";
      this.warn(
        `WARNING: recovered ${topic}-${p}: cut ${what}: ${
          describeCut(c)
        }; the cut bytes are ${kept}`,
      );
      totals.cuts++;
      totals.cutRecords += c.records;
      totals.cutBytes += c.end - c.start;
    }
    if (r.nextOffset > r.lastKept) {
      this.warn(
        `recovered ${topic}-${p}: the next offset is ${r.nextOffset}, not ${r.lastKept}: ` +
          `offsets ${r.lastKept}–${r.nextOffset - 1} were given out before and are not reused`,
      );
    }
  }

  /** What a partition log of `topic` needs. */
  private logEnv(topic: Topic, p: number) {
    return {
      dir: this.dataDir ? join(this.dataDir, "logs", topic.name, String(p)) : undefined,
      handles: this.handles,
      config: () => topicConfig(topic, this.opts.defaults),
      now: this.opts.now,
      memory: this.memory,
      maxSegmentBytes: this.dataDir ? undefined : this.opts.memorySegmentBytes,
      quarantineDir: this.dataDir ? join(this.dataDir, "corrupt") : undefined,
      onCorruption: this.opts.onCorruption,
      syncDirs: this.opts.syncDirs,
    };
  }

  /** A new partition: nothing to recover, no file until its first append. */
  private newLog(topic: Topic, p: number): PartitionLog {
    return PartitionLog.create(topic.name, p, this.logEnv(topic, p));
  }

  /** The topic called `name`. */
  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  /** The topic whose id is `id` (Metadata v12, Fetch v13+, DeleteTopics v6+). */
  byId(id: string): Topic | undefined {
    for (const t of this.topics.values()) if (t.id === id) return t;
    return undefined;
  }

  /** All topics, by name. */
  all(): Topic[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every partition log. */
  *partitions(): Iterable<PartitionLog> {
    for (const t of this.topics.values()) yield* t.partitions;
  }

  /**
   * Creates topics (with one metadata.json write for all of them), each answered with its
   * Topic or a TopicError: an illegal or taken name, a bad partition count or config, or a
   * failed write (KAFKA_STORAGE_ERROR, and then none of them is created).
   */
  createMany(specs: TopicSpec[], how = "created"): (Topic | TopicError)[] {
    const out: (Topic | TopicError)[] = [];
    const fresh: Topic[] = [];
    const wanted = new Map<string, number>();
    for (const s of specs) {
      const configs = s.configs ?? {};
      const problem = topicNameProblem(s.name);
      const configProblem = topicConfigProblems(
        Object.entries(configs).map(([name, value]) => ({ name, value })),
      )[0];
      if (problem) out.push(new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem));
      else if (this.topics.has(s.name) || wanted.has(s.name)) {
        out.push(
          new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${s.name}" already exists`),
        );
      } else if (!Number.isInteger(s.partitions) || s.partitions < 1) {
        out.push(new TopicError(ErrorCode.INVALID_PARTITIONS, `${s.partitions} partitions`));
      } else if (configProblem) out.push(new TopicError(ErrorCode.INVALID_CONFIG, configProblem));
      else {
        const t: Topic = {
          name: s.name,
          id: crypto.randomUUID(),
          partitions: [],
          configs,
        };
        wanted.set(s.name, s.partitions);
        fresh.push(t);
        out.push(t);
      }
    }
    if (fresh.length === 0) return out;
    try {
      this.persist(fresh, undefined, wanted);
    } catch (err) {
      const e = new TopicError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `cannot write ${join(this.dataDir ?? "", "metadata.json")}: ${errText(err)}`,
        { cause: err },
      );
      this.warn(
        `could not create ${fresh.length} topic(s) (${fresh.slice(0, 3).map((t) => `"${t.name}"`)}${
          fresh.length > 3 ? ", …" : ""
        }): ${e.message}`,
      );
      return out.map((t) => (fresh.includes(t as Topic) ? e : t));
    }
    for (const t of fresh) {
      for (let p = 0; p < wanted.get(t.name)!; p++) t.partitions.push(this.newLog(t, p));
      this.topics.set(t.name, t);
    }
    if (fresh.length <= 3) {
      for (const t of fresh) {
        this.opts.log(`${how} topic "${t.name}" with ${t.partitions.length} partition(s)`);
      }
    } else {
      this.opts.log(`${how} ${fresh.length} topics ("${fresh[0].name}", …)`);
    }
    return out;
  }

  /**
   * Creates one topic (metadata.json written before it is visible); throws TopicError
   * (INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS, INVALID_CONFIG, KAFKA_STORAGE_ERROR).
   */
  create(
    name: string,
    partitions: number,
    configs: Record<string, string> = {},
    how = "created",
  ): Topic {
    const [t] = this.createMany([{ name, partitions, configs }], how);
    if (t instanceof TopicError) throw t;
    return t;
  }

  /**
   * Deletes a topic: metadata.json first (a failed write throws TopicError and keeps the
   * topic), then its logs.
   */
  async delete(name: string): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) return;
    this.persistOrThrow([], name);
    this.topics.delete(name);
    for (const p of topic.partitions) p.discard();
    if (this.dataDir) {
      const dir = join(this.dataDir, "logs", name);
      const gone = join(this.dataDir, "logs", `.deleting-${topic.id}`);
      try {
        Deno.renameSync(dir, gone); // a topic created again under this name gets a clean dir
        await Deno.remove(gone, { recursive: true });
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          this.opts.log(`could not remove the logs of deleted topic "${name}": ${errText(err)}`);
        }
      }
    }
    this.opts.log(`deleted topic "${name}"`);
  }

  /**
   * Replaces the configs set on a topic (validated, written to metadata.json, then applied
   * at once: the next append and retention check use them). Throws TopicError.
   */
  setConfigs(name: string, configs: Record<string, string>, validateOnly = false): void {
    const topic = this.topics.get(name);
    if (!topic) {
      throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${name}"`);
    }
    const problem = topicConfigProblems(
      Object.entries(configs).map(([name, value]) => ({ name, value })),
    )[0];
    if (problem) throw new TopicError(ErrorCode.INVALID_CONFIG, problem);
    if (validateOnly) return;
    const before = topic.configs;
    topic.configs = configs;
    try {
      this.persistOrThrow([]);
    } catch (err) {
      topic.configs = before;
      throw err;
    }
    this.opts.log(`set the configs of topic "${name}": ${JSON.stringify(configs)}`);
  }

  /**
   * Grows a topic to `total` partitions (CreatePartitions; written to metadata.json before
   * they are visible). Throws TopicError (INVALID_PARTITIONS when not more than now).
   */
  addPartitions(name: string, total: number, validateOnly = false): void {
    const topic = this.topics.get(name);
    if (!topic) {
      throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic "${name}"`);
    }
    const now = topic.partitions.length;
    if (!Number.isInteger(total) || total <= now) {
      throw new TopicError(
        ErrorCode.INVALID_PARTITIONS,
        `topic "${name}" has ${now} partition(s): the new count must be larger, not ${total}`,
      );
    }
    if (validateOnly) return;
    const wanted = new Map([[name, total]]);
    this.persistOrThrow([], undefined, wanted);
    for (let p = now; p < total; p++) topic.partitions.push(this.newLog(topic, p));
    this.opts.log(`topic "${name}" now has ${total} partition(s)`);
  }

  /**
   * DeleteRecords on one partition: the log start offset moves to `offset` (-1 = the high
   * watermark), written to checkpoints.json before the answer. Answers the new log start
   * offset, or a Kafka error code (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE,
   * KAFKA_STORAGE_ERROR).
   */
  deleteRecords(
    name: string,
    partition: number,
    offset: number,
  ): { lowWatermark: number } | { error: number; message: string } {
    const log = this.topics.get(name)?.partitions[partition];
    if (!log) {
      return {
        error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        message: `unknown partition ${name}-${partition}`,
      };
    }
    const res = log.deleteRecordsBefore(offset);
    if ("error" in res) {
      return {
        error: res.error,
        message: `offset ${offset} is past the high watermark ${log.nextOffset}`,
      };
    }
    try {
      this.writeCheckpointSync();
    } catch (err) {
      return { error: ErrorCode.KAFKA_STORAGE_ERROR, message: errText(err) };
    }
    return { lowWatermark: res.logStartOffset };
  }

  /** Applies every topic's retention; answers the bytes deleted. */
  enforceRetention(now?: number): number {
    let freed = 0;
    for (const t of this.topics.values()) {
      for (const p of t.partitions) {
        try {
          freed += p.enforceRetention(now);
        } catch (err) {
          this.opts.log(`retention on ${t.name}-${p.partition} failed: ${errText(err)}`);
        }
      }
    }
    return freed;
  }

  /**
   * Drops the oldest segments across partitions (oldest first) until in-memory segments
   * hold at most `cap` bytes; answers the bytes dropped.
   */
  enforceMemoryCap(cap: number): number {
    let freed = 0;
    while (this.memory.used > cap) {
      let oldest: PartitionLog | undefined;
      for (const p of this.partitions()) {
        if (p.size > 0 && (!oldest || p.oldestSegmentTime < oldest.oldestSegmentTime)) oldest = p;
      }
      if (!oldest) break;
      const n = oldest.dropOldestSegment();
      if (n === 0) break;
      freed += n;
    }
    return freed;
  }

  /** Forgets idempotent producers idle for `maxAgeMs`. */
  expireProducers(now: number, maxAgeMs?: number): number {
    let n = 0;
    for (const p of this.partitions()) n += p.expireProducers(now, maxAgeMs);
    return n;
  }

  private checkpointText(): string {
    const file: CheckpointFile = { version: 1, topics: {} };
    for (const t of this.topics.values()) {
      file.topics[t.id] = t.partitions.map((p) => [p.logStartOffset, p.nextOffset]);
    }
    return JSON.stringify(file);
  }

  /** Writes checkpoints.json now (DeleteRecords, close). */
  writeCheckpointSync(): void {
    if (!this.dataDir) return;
    const text = this.checkpointText();
    if (text === this.checkpointed) return;
    writeFileAtomicSync(join(this.dataDir, "checkpoints.json"), text, {
      fault: this.opts.fault,
      sync: this.opts.syncDirs !== false,
    });
    this.checkpointed = text;
  }

  /** Writes checkpoints.json in the background when offsets moved since the last one. */
  checkpointSoon(): Promise<void> {
    if (!this.dataDir || this.checkpointing) return this.checkpointing ?? Promise.resolve();
    const text = this.checkpointText();
    if (text === this.checkpointed) return Promise.resolve();
    const path = join(this.dataDir, "checkpoints.json");
    const tmp = `${path}.tmp`;
    this.checkpointing = (async () => {
      try {
        this.opts.fault?.(path);
        await Deno.writeTextFile(tmp, text);
        if (this.opts.syncDirs !== false) {
          const f = await Deno.open(tmp, { write: true });
          try {
            await f.syncData();
          } finally {
            f.close();
          }
        }
        await Deno.rename(tmp, path);
        this.checkpointed = text;
      } catch (err) {
        this.opts.log(`could not write ${path}: ${errText(err)}`);
      } finally {
        this.checkpointing = undefined;
      }
    })();
    return this.checkpointing;
  }

  /**
   * Writes metadata.json for the current topics plus `adding`, minus `removing`, with
   * partition counts from `counts` where given.
   */
  private persist(adding: Topic[], removing?: string, counts?: Map<string, number>): void {
    if (!this.dataDir) return;
    const list = [...this.topics.values(), ...adding].filter((t) => t.name !== removing);
    list.sort((a, b) => a.name.localeCompare(b.name));
    const meta: MetadataFile = {
      version: 1,
      clusterId: this.clusterId,
      topics: list.map((t) => ({
        name: t.name,
        id: t.id,
        partitions: counts?.get(t.name) ?? t.partitions.length,
        configs: t.configs,
      })),
    };
    writeFileAtomicSync(join(this.dataDir, "metadata.json"), JSON.stringify(meta, null, 1) + "\n", {
      fault: this.opts.fault,
    });
    if (this.opts.syncDirs !== false) syncDir(this.dataDir);
  }

  private persistOrThrow(adding: Topic[], removing?: string, counts?: Map<string, number>): void {
    try {
      this.persist(adding, removing, counts);
    } catch (err) {
      throw new TopicError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `cannot write ${join(this.dataDir ?? "", "metadata.json")}: ${errText(err)}`,
        { cause: err },
      );
    }
  }

  /** fdatasyncs every log with unsynced appends. */
  async syncAll(): Promise<void> {
    await this.syncLogs(this.partitions());
  }

  /**
   * fdatasyncs `logs`, a few at a time: each sync holds its file open, and thousands at
   * once would run the process out of descriptors.
   */
  syncLogs(logs: Iterable<PartitionLog>): Promise<void> {
    return eachLimited(logs, this.ioConcurrency, (p) => p.sync());
  }

  private get ioConcurrency(): number {
    return Math.max(1, Math.min(32, Math.floor(this.handles.max / 4)));
  }

  /** Flushes and closes every log, and writes the checkpoints. */
  async close(): Promise<void> {
    await this.checkpointing;
    await eachLimited(this.partitions(), this.ioConcurrency, (p) => p.close());
    try {
      this.writeCheckpointSync();
    } catch (err) {
      this.opts.log(`could not write the checkpoints: ${errText(err)}`);
    }
  }
}

/** Runs `fn` on each of `items`, at most `limit` at a time. */
async function eachLimited<T>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const it = items[Symbol.iterator]();
  const worker = async () => {
    for (let n = it.next(); !n.done; n = it.next()) await fn(n.value);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

function readCheckpoints(path: string): CheckpointFile {
  try {
    const f = JSON.parse(Deno.readTextFileSync(path)) as CheckpointFile;
    if (f.version === 1 && f.topics && typeof f.topics === "object") return f;
  } catch { /* none yet, or unreadable: the logs alone decide */ }
  return { version: 1, topics: {} };
}

function errText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
