/**
 * The broker's topics: names, partition counts and configs, each partition's
 * `PartitionLog`, and (with a data dir) their persistence. Layout of a data dir:
 *
 *     metadata.json             {"version":1,"clusterId":…,"topics":[{name,id,partitions,configs}]}
 *     logs/<topic>/<n>.log      one append-only file of raw record batches per partition
 *     offsets.log               committed group offsets (see offsets.ts)
 *
 * metadata.json is replaced atomically (write, fsync, rename) on every create and delete,
 * synchronously: a topic exists on disk before any record is acknowledged for it.
 * @module
 */
import { join } from "node:path";
import { PartitionLog } from "./partition_log.ts";

/** One topic. */
export interface Topic {
  name: string;
  /** A UUID, fixed at creation and kept in metadata.json (Metadata v10+, Fetch v13+). */
  id: string;
  partitions: PartitionLog[];
  configs: Record<string, string>;
}

interface MetadataFile {
  version: 1;
  clusterId: string;
  topics: { name: string; id: string; partitions: number; configs: Record<string, string> }[];
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

/** Writes `text` to `path` atomically: a temp file, fsync, rename. */
export function writeFileAtomicSync(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let done = 0;
    while (done < bytes.byteLength) done += f.writeSync(bytes.subarray(done));
    f.syncDataSync();
  } finally {
    f.close();
  }
  Deno.renameSync(tmp, path);
}

/** Topics and their partition logs, in memory or in a data dir. */
export class TopicRegistry {
  private topics = new Map<string, Topic>();

  private constructor(
    readonly dataDir: string | undefined,
    readonly clusterId: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Opens the registry: empty in memory, or loaded (and recovered) from `dataDir`. */
  static async open(
    dataDir: string | undefined,
    log: (line: string) => void,
  ): Promise<TopicRegistry> {
    if (!dataDir) return new TopicRegistry(undefined, crypto.randomUUID(), log);
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
    const reg = new TopicRegistry(dataDir, meta?.clusterId ?? crypto.randomUUID(), log);
    for (const t of meta?.topics ?? []) {
      const dir = join(dataDir, "logs", t.name);
      await Deno.mkdir(dir, { recursive: true });
      const partitions: PartitionLog[] = [];
      for (let p = 0; p < t.partitions; p++) {
        const { log: plog, scan } = PartitionLog.openFile(t.name, p, join(dir, `${p}.log`));
        if (scan.cutBytes > 0) {
          log(
            `recovered ${t.name}-${p}: kept ${scan.validBytes} bytes, cut ${scan.cutBytes} bytes after ${scan.reason}`,
          );
        }
        partitions.push(plog);
      }
      reg.topics.set(t.name, { name: t.name, id: t.id, partitions, configs: t.configs ?? {} });
    }
    // Logs of topics that are not in metadata.json are leftovers of an interrupted delete.
    for await (const e of Deno.readDir(join(dataDir, "logs"))) {
      if (e.isDirectory && !reg.topics.has(e.name)) {
        log(`removing the logs of deleted topic "${e.name}"`);
        await Deno.remove(join(dataDir, "logs", e.name), { recursive: true });
      }
    }
    if (!meta) reg.persist();
    return reg;
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
   * Creates a topic (the caller has validated the name and that it is new): its partition
   * files, then metadata.json, before it returns.
   */
  create(
    name: string,
    partitions: number,
    configs: Record<string, string> = {},
    how = "created",
  ): Topic {
    const topic: Topic = { name, id: crypto.randomUUID(), partitions: [], configs };
    for (let p = 0; p < partitions; p++) topic.partitions.push(this.newPartition(name, p));
    this.topics.set(name, topic);
    this.persist();
    this.log(`${how} topic "${name}" with ${partitions} partition(s)`);
    return topic;
  }

  /** Gives an existing topic more partitions, up to `count` in all (CreatePartitions). */
  addPartitions(name: string, count: number): void {
    const topic = this.topics.get(name);
    if (!topic) return;
    const before = topic.partitions.length;
    for (let p = before; p < count; p++) topic.partitions.push(this.newPartition(name, p));
    this.persist();
    this.log(`topic "${name}" grew from ${before} to ${count} partitions`);
  }

  private newPartition(name: string, p: number): PartitionLog {
    if (!this.dataDir) return PartitionLog.memory(name, p);
    const dir = join(this.dataDir, "logs", name);
    Deno.mkdirSync(dir, { recursive: true });
    return PartitionLog.openFile(name, p, join(dir, `${p}.log`)).log;
  }

  /** Deletes a topic and its logs. */
  async delete(name: string): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) return;
    this.topics.delete(name);
    for (const p of topic.partitions) p.wakeAll();
    this.persist();
    await Promise.all(topic.partitions.map((p) => p.store.close()));
    if (this.dataDir) {
      await Deno.remove(join(this.dataDir, "logs", name), { recursive: true }).catch(() => {});
    }
    this.log(`deleted topic "${name}"`);
  }

  /** Writes metadata.json (a few hundred bytes; synchronous, so writes never interleave). */
  persist(): void {
    if (!this.dataDir) return;
    const meta: MetadataFile = {
      version: 1,
      clusterId: this.clusterId,
      topics: this.all().map((t) => ({
        name: t.name,
        id: t.id,
        partitions: t.partitions.length,
        configs: t.configs,
      })),
    };
    writeFileAtomicSync(join(this.dataDir, "metadata.json"), JSON.stringify(meta, null, 2) + "\n");
  }

  /** fdatasyncs every log with unsynced appends. */
  async syncAll(): Promise<void> {
    await Promise.all([...this.partitions()].map((p) => p.store.sync()));
  }

  /** Flushes and closes every log. */
  async close(): Promise<void> {
    for (const p of this.partitions()) p.wakeAll();
    await Promise.all([...this.partitions()].map((p) => p.store.close()));
  }
}
