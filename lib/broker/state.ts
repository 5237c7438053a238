/**
 * Everything a request handler can reach: the broker's identity and bound address, its
 * options, the topic registry, the group coordinator and the committed offsets, plus the
 * fsync policy applied after writes.
 * @module
 */
import { join } from "node:path";
import { ErrorCode } from "./error_codes.ts";
import { GroupCoordinator } from "./groups.ts";
import { OffsetStore } from "./offsets.ts";
import type { PartitionLog } from "./partition_log.ts";
import { type Topic, topicNameProblem, TopicRegistry } from "./topics.ts";

/** When appended data is fsynced. */
export type FsyncPolicy = "always" | "interval" | "never";

/** How often `interval` fsyncs. */
export const FSYNC_INTERVAL_MS = 1000;

/** Resolved broker settings. */
export interface BrokerSettings {
  host: string;
  dataDir?: string;
  partitions: number;
  autoCreate: boolean;
  fsync: FsyncPolicy;
  maxFrameBytes: number;
  logger: (line: string) => void;
}

/** The broker's shared state. */
export class BrokerState {
  /** This broker's node id: also the controller and every group's coordinator. */
  readonly nodeId = 0;
  /** The bound port (set once listening). */
  port = 0;
  private fsyncTimer?: ReturnType<typeof setInterval>;
  private lock?: Deno.FsFile;

  private constructor(
    readonly settings: BrokerSettings,
    readonly topics: TopicRegistry,
    readonly offsets: OffsetStore,
    readonly groups: GroupCoordinator,
  ) {}

  /** Opens (and with a data dir, locks and recovers) the broker's state. */
  static async open(settings: BrokerSettings): Promise<BrokerState> {
    const log = settings.logger;
    const lock = settings.dataDir ? await lockDataDir(settings.dataDir) : undefined;
    let topics: TopicRegistry;
    let offsets: OffsetStore;
    try {
      topics = await TopicRegistry.open(settings.dataDir, log);
      offsets = OffsetStore.open(settings.dataDir, log);
    } catch (err) {
      lock?.close();
      throw err;
    }
    const state = new BrokerState(settings, topics, offsets, new GroupCoordinator(log));
    state.lock = lock;
    if (settings.dataDir && settings.fsync === "interval") {
      state.fsyncTimer = setInterval(() => {
        state.syncAll().catch((err) => log(`fsync failed: ${err}`));
      }, FSYNC_INTERVAL_MS);
      Deno.unrefTimer(state.fsyncTimer);
    }
    return state;
  }

  /** The advertised host. */
  get host(): string {
    return this.settings.host;
  }

  /** The cluster id (kept in the data dir). */
  get clusterId(): string {
    return this.topics.clusterId;
  }

  /** Writes a log line, if a logger was given. */
  log(line: string): void {
    this.settings.logger(line);
  }

  /**
   * The topic `name`, auto-created when allowed and the name is legal. Answers the topic
   * or the Kafka error code (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION).
   */
  topicOrCreate(name: string, allowCreate: boolean): Topic | number {
    const t = this.topics.get(name);
    if (t) return t;
    if (topicNameProblem(name)) return ErrorCode.INVALID_TOPIC_EXCEPTION;
    if (!allowCreate || !this.settings.autoCreate) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    return this.topics.create(name, this.settings.partitions, {}, "auto-created");
  }

  /** Applies the fsync policy after appends to `logs` (and offset commits). */
  async afterWrite(logs: Iterable<PartitionLog>, offsets = false): Promise<void> {
    if (this.settings.fsync !== "always") return;
    const work: Promise<void>[] = [];
    for (const l of logs) work.push(l.store.sync());
    if (offsets) work.push(this.offsets.sync());
    await Promise.all(work);
  }

  /** fdatasyncs every log and the offsets. */
  async syncAll(): Promise<void> {
    await Promise.all([this.topics.syncAll(), this.offsets.sync()]);
  }

  /** Stops timers, answers held group requests, flushes and closes every file. */
  async close(): Promise<void> {
    clearInterval(this.fsyncTimer);
    this.groups.close();
    await this.topics.close();
    await this.offsets.close();
    this.lock?.close(); // releases the lock
    this.lock = undefined;
  }
}

/**
 * Takes the data dir's lock (`<dataDir>/.lock`, an exclusive flock released when the
 * process dies), so two brokers never write the same logs.
 */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = join(dataDir, ".lock");
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
  } catch (err) {
    file.close();
    throw new Error(`Cannot lock the data dir "${dataDir}"`, { cause: err });
  }
  if (!locked) {
    file.close();
    throw new Error(
      `Cannot open the data dir "${dataDir}": another broker is using it (it holds ${path})`,
    );
  }
  return file;
}
