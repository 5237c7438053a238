/**
 * Everything a request handler can reach: the broker's identity and bound address, its
 * options, the topic registry, the group coordinator and the committed offsets, the
 * producer ids it hands out, plus the fsync policy applied after writes and the
 * maintenance timer (retention, the memory cap, checkpoints, producer expiry).
 * @module
 */
import { join } from "node:path";
import { ErrorCode } from "./error_codes.ts";
import { ConsumerGroupCoordinator } from "./consumer_groups.ts";
import { GroupCoordinator } from "./groups.ts";
import { type WriteFault, writeFileAtomicSync } from "./log_store.ts";
import { OffsetStore } from "./offsets.ts";
import type { CorruptionPolicy, PartitionLog } from "./partition_log.ts";
import { brokerTopicDefaults, type LogDefaults } from "./configs.ts";
import { type Topic, TopicError, topicNameProblem, TopicRegistry } from "./topics.ts";
import { TransactionCoordinator } from "./transactions.ts";

/** When appended data is fsynced. */
export type FsyncPolicy = "always" | "interval" | "never";

/** How often `interval` fsyncs. */
export const FSYNC_INTERVAL_MS = 1000;
/** How often checkpoints.json is rewritten while offsets move. */
const CHECKPOINT_INTERVAL_MS = 5000;
/** How often idle idempotent producers are forgotten. */
const PRODUCER_EXPIRY_CHECK_MS = 10 * 60 * 1000;
/** Producer ids taken from producer_ids.json at a time. */
const PRODUCER_ID_BLOCK = 1000;

/** Resolved broker settings. */
export interface BrokerSettings {
  host: string;
  dataDir?: string;
  partitions: number;
  autoCreate: boolean;
  fsync: FsyncPolicy;
  maxFrameBytes: number;
  logger: (line: string) => void;
  /** Lines about lost or damaged data (default: `logger`). */
  warn?: (line: string) => void;
  /** What a damaged log or offsets.log does on start. */
  onCorruption: CorruptionPolicy;
  /** Defaults of the applied topic configs. */
  logDefaults: LogDefaults;
  /** In memory: bytes of records kept before the oldest segments are dropped. */
  maxMemoryBytes: number;
  /** Segment files open at once. */
  maxOpenFiles: number;
  /** Client connections at once (more are closed when accepted). */
  maxConnections: number;
  /** Connections one address may hold (Kafka's max.connections.per.ip). */
  maxConnectionsPerIp: number;
  /** Limits for particular hosts, as given (Kafka's max.connections.per.ip.overrides). */
  maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** Bytes all connections hold beyond their small read buffers, together. */
  maxRequestMemory: number;
  /** A connection with no request for this long is closed. */
  idleTimeoutMs: number;
  /** A request frame must arrive whole within this long of its first byte. */
  frameTimeoutMs: number;
  /** How often retention and the memory cap are applied. */
  maintenanceMs: number;
  /** Consumer groups' (KIP-848) session timeout (Kafka's group.consumer.session.timeout.ms). */
  consumerSessionTimeoutMs?: number;
  /** Consumer groups' heartbeat interval (Kafka's group.consumer.heartbeat.interval.ms). */
  consumerHeartbeatIntervalMs?: number;
  /** The clock (tests). */
  now?: () => number;
  /** Test hook: fails writes to files (see log_store.ts). */
  fault?: WriteFault;
}

/** The broker's shared state. */
export class BrokerState {
  /** This broker's node id: also the controller and every group's coordinator. */
  readonly nodeId = 0;
  /** The bound port (set once listening). */
  port = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private lock?: Deno.FsFile;
  private nextProducerId = 0;
  private producerIdLimit = 0;
  private warnedMemoryCap = false;
  private lastCheckpoint = 0;
  private lastExpiry = 0;
  /** The transaction coordinator (transactional ids, their epochs and open transactions). */
  txns!: TransactionCoordinator;
  /** The consumer groups of the KIP-848 protocol (the classic ones are `groups`). */
  consumerGroups!: ConsumerGroupCoordinator;

  private constructor(
    readonly settings: BrokerSettings,
    readonly topics: TopicRegistry,
    readonly offsets: OffsetStore,
    readonly groups: GroupCoordinator,
  ) {}

  /** Opens (and with a data dir, locks and recovers) the broker's state. */
  static async open(settings: BrokerSettings): Promise<BrokerState> {
    const log = settings.logger;
    const warn = settings.warn ?? log;
    const lock = settings.dataDir ? await lockDataDir(settings.dataDir) : undefined;
    let topics: TopicRegistry;
    let offsets: OffsetStore;
    try {
      topics = await TopicRegistry.open({
        dataDir: settings.dataDir,
        log,
        warn,
        defaults: brokerTopicDefaults(settings),
        onCorruption: settings.onCorruption,
        maxOpenFiles: settings.maxOpenFiles,
        memorySegmentBytes: Math.floor(
          Math.min(64 * 1024 ** 2, Math.max(1024 ** 2, settings.maxMemoryBytes / 16)),
        ),
        syncDirs: settings.fsync !== "never",
        now: settings.now,
        fault: settings.fault,
      });
      try {
        offsets = OffsetStore.open(settings.dataDir, log, {
          onCorruption: settings.onCorruption,
          warn,
          fault: settings.fault,
        });
      } catch (err) {
        await topics.close();
        throw err;
      }
    } catch (err) {
      lock?.close();
      throw err;
    }
    const groups = new GroupCoordinator(
      log,
      settings.dataDir
        ? { dataDir: settings.dataDir, sync: settings.fsync === "always" }
        : undefined,
    );
    const state = new BrokerState(settings, topics, offsets, groups);
    state.lock = lock;
    state.consumerGroups = new ConsumerGroupCoordinator({
      topic: (name) => {
        const t = state.topics.get(name);
        return t ? { id: t.id, partitions: t.partitions.length } : undefined;
      },
      topicName: (id) => state.topics.byId(id)?.name,
      topicNames: () => state.topics.all().map((t) => t.name),
      classicMembers: (id) => state.groups.groups.get(id)?.members.size ?? 0,
      dropClassic: (id) => void state.groups.groups.delete(id),
      sessionTimeoutMs: settings.consumerSessionTimeoutMs,
      heartbeatIntervalMs: settings.consumerHeartbeatIntervalMs,
      log,
      dataDir: settings.dataDir,
      sync: settings.fsync === "always",
    });
    state.readProducerIds();
    state.txns = new TransactionCoordinator({
      dataDir: settings.dataDir,
      sync: settings.fsync === "always",
      now: () => state.now(),
      log,
      warn,
      partition: (topic, p) => state.topics.get(topic)?.partitions[p],
      allocateProducerId: () => state.allocateProducerId(),
      commitOffsets: (group, offsets) => state.offsets.commit(group, offsets, state.now()),
      afterWrite: (logs, offsets) => state.afterWrite(logs, offsets),
    });
    try {
      await state.txns.open();
    } catch (err) {
      await state.close();
      throw err;
    }
    if (settings.dataDir && settings.fsync === "interval") {
      state.every(FSYNC_INTERVAL_MS, () => state.syncAll());
    }
    state.every(settings.maintenanceMs, () => state.maintain());
    return state;
  }

  private every(ms: number, job: () => void | Promise<void>): void {
    let running = false;
    const t = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await job();
      } catch (err) {
        this.log(`background work failed: ${err instanceof Error ? err.message : err}`);
      } finally {
        running = false;
      }
    }, ms);
    Deno.unrefTimer(t);
    this.timers.push(t);
  }

  private now(): number {
    return this.settings.now ? this.settings.now() : Date.now();
  }

  /** Retention, the memory cap, checkpoints and producer expiry (the maintenance timer). */
  async maintain(): Promise<void> {
    const now = this.now();
    this.topics.enforceRetention(now);
    this.enforceMemoryCap();
    if (now - this.lastExpiry >= PRODUCER_EXPIRY_CHECK_MS) {
      this.lastExpiry = now;
      this.topics.expireProducers(now);
    }
    if (now - this.lastCheckpoint >= CHECKPOINT_INTERVAL_MS) {
      this.lastCheckpoint = now;
      await this.topics.checkpointSoon();
    }
  }

  private enforceMemoryCap(): void {
    if (this.settings.dataDir) return;
    const cap = this.settings.maxMemoryBytes;
    if (this.topics.memory.used <= cap) return;
    const freed = this.topics.enforceMemoryCap(cap);
    if (freed > 0 && !this.warnedMemoryCap) {
      this.warnedMemoryCap = true;
      this.warn(
        `the in-memory broker reached its cap of ${mib(cap)} (--max-memory): dropping the ` +
          `oldest segments to stay under it; consumers behind them skip to the oldest record ` +
          `kept (said once)`,
      );
    }
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

  /** Writes a line about lost or damaged data (shown even when the broker is quiet). */
  warn(line: string): void {
    (this.settings.warn ?? this.settings.logger)(line);
  }

  /**
   * The topic `name`, auto-created when allowed and the name is legal. Answers the topic
   * or the Kafka error code (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION,
   * KAFKA_STORAGE_ERROR when metadata.json could not be written).
   */
  topicOrCreate(name: string, allowCreate: boolean): Topic | number {
    return this.topicsOrCreate([name], allowCreate).get(name)!;
  }

  /**
   * The topics `names`, the unknown ones auto-created when allowed, all with one write of
   * metadata.json. Answers each name's topic or Kafka error code (see topicOrCreate).
   */
  topicsOrCreate(names: Iterable<string>, allowCreate: boolean): Map<string, Topic | number> {
    const out = new Map<string, Topic | number>();
    const missing: string[] = [];
    for (const name of names) {
      if (out.has(name)) continue;
      const t = this.topics.get(name);
      if (t) out.set(name, t);
      else if (topicNameProblem(name)) out.set(name, ErrorCode.INVALID_TOPIC_EXCEPTION);
      else if (!allowCreate || !this.settings.autoCreate) {
        out.set(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      } else {
        missing.push(name);
        out.set(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
    }
    if (missing.length) {
      const made = this.topics.createMany(
        missing.map((name) => ({ name, partitions: this.settings.partitions })),
        "auto-created",
      );
      missing.forEach((name, i) => {
        const t = made[i];
        out.set(name, t instanceof TopicError ? t.code : t);
      });
    }
    return out;
  }

  /**
   * A new producer id for InitProducerId (ids are taken from producer_ids.json a block at a
   * time, written before use, so an id is never handed out twice across restarts); throws
   * TopicError(COORDINATOR_NOT_AVAILABLE) when the block cannot be written.
   */
  allocateProducerId(): number {
    if (this.nextProducerId >= this.producerIdLimit) {
      const limit = this.producerIdLimit + PRODUCER_ID_BLOCK;
      if (this.settings.dataDir) {
        const path = join(this.settings.dataDir, "producer_ids.json");
        try {
          writeFileAtomicSync(path, JSON.stringify({ version: 1, next: limit }) + "\n", {
            fault: this.settings.fault,
          });
        } catch (err) {
          throw new TopicError(
            ErrorCode.COORDINATOR_NOT_AVAILABLE,
            `cannot write ${path}: ${err instanceof Error ? err.message : err}`,
          );
        }
      }
      this.nextProducerId = this.producerIdLimit;
      this.producerIdLimit = limit;
    }
    return this.nextProducerId++;
  }

  private readProducerIds(): void {
    let next = 0;
    if (this.settings.dataDir) {
      try {
        const f = JSON.parse(
          Deno.readTextFileSync(join(this.settings.dataDir, "producer_ids.json")),
        ) as { next?: number };
        if (typeof f.next === "number" && f.next >= 0) next = f.next;
      } catch { /* none handed out yet */ }
    }
    // Never below an id already in a log (a lost producer_ids.json).
    for (const p of this.topics.partitions()) next = Math.max(next, p.producers.maxProducerId + 1);
    this.nextProducerId = this.producerIdLimit = next;
  }

  /** Applies the fsync policy and the memory cap after appends to `logs` (and offset commits). */
  async afterWrite(logs: Iterable<PartitionLog>, offsets = false): Promise<void> {
    this.enforceMemoryCap();
    if (this.settings.fsync !== "always") return;
    await Promise.all([this.topics.syncLogs(logs), offsets ? this.offsets.sync() : undefined]);
  }

  /** fdatasyncs every log and the offsets. */
  async syncAll(): Promise<void> {
    await Promise.all([this.topics.syncAll(), this.offsets.sync()]);
  }

  /** Stops timers, answers held group requests, flushes and closes every file. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.txns?.close();
    this.groups.close();
    this.consumerGroups?.close();
    await this.topics.close();
    await this.offsets.close();
    this.lock?.close(); // releases the lock
    this.lock = undefined;
  }
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(0)} MiB`;
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
