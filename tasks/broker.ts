#!/usr/bin/env -S deno run -A
/**
 * `deno task broker`: runs the embedded single-node Kafka-protocol broker until Ctrl-C,
 * for kafkajs and librdkafka (kcat) clients, with no JVM and no Docker.
 *
 *     deno task broker --port 9092 --data-dir .pinpipe/kafka --partitions 3 --auto-create
 *     deno run -A https://…/tasks/broker.ts --memory --port 0
 *
 * Prints its bootstrap address (`127.0.0.1:9092`, or JSON with --json) on stdout once
 * listening; log lines go to stderr. Changes: the data dir (topic logs, metadata.json,
 * offsets.log), unless --memory. A re-run on the same data dir is safe: it recovers what
 * was there (repairing or cutting out damaged batches, loudly, their bytes kept aside; or
 * refusing to start with --on-corruption refuse) and serves it. Exit codes: 0 stopped by
 * Ctrl-C or SIGTERM, 1 failure (port in use, unreadable or damaged data dir), 2 bad flags.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import {
  type Broker,
  type CorruptionPolicy,
  type FsyncPolicy,
  startBroker,
} from "../lib/broker/broker.ts";
import { parseConnectionOverrides } from "../lib/broker/limits.ts";

export const HELP = `Usage: deno task broker [flags]

Runs a single-node Kafka-protocol broker until Ctrl-C. Prints its bootstrap address.

Flags (environment variable; default):
  --port N               port to listen on, 0 = any free one (PINPIPE_BROKER_PORT; 9092)
  --host HOST            address to bind and advertise (PINPIPE_BROKER_HOST; 127.0.0.1)
  --data-dir DIR         where logs, topic metadata and group offsets live
                         (PINPIPE_BROKER_DATA_DIR; .pinpipe/kafka)
  --memory               keep everything in memory instead, lost on exit
                         (PINPIPE_BROKER_MEMORY=1; off)
  --partitions N         partitions of auto-created topics and of CreateTopics with -1
                         (PINPIPE_BROKER_PARTITIONS; 1)
  --auto-create          create unknown topics on Metadata and Produce
                         (PINPIPE_BROKER_AUTO_CREATE=1; off)
  --fsync MODE           always | interval | never (PINPIPE_BROKER_FSYNC; interval).
                         interval fdatasyncs once a second: a crash of the broker loses
                         nothing, a crash of the machine up to the last second of
                         acknowledged writes; always syncs before every acknowledgement
  --max-frame-bytes SIZE largest request accepted, e.g. 100MiB
                         (PINPIPE_BROKER_MAX_FRAME_BYTES; 100MiB)
  --max-request-memory SIZE  memory all connections hold together beyond 4 KiB each:
                         read buffers, requests being read, fetched records being sent.
                         A request that does not fit waits unread; a fetch gets less
                         (PINPIPE_BROKER_MAX_REQUEST_MEMORY; 256MiB)
  --max-connections N    connections at once, the last eighth kept for addresses holding
                         few (PINPIPE_BROKER_MAX_CONNECTIONS; and at most: what the
                         open-file limit allows)
  --max-connections-per-ip N  connections one address may hold, or "none"
                         (PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP; none)
  --max-connections-per-ip-overrides HOST:N,…  limits for particular addresses or host
                         names, e.g. 10.0.0.7:50,localhost:500 (0 refuses the host)
                         (PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP_OVERRIDES; none)
  --idle-timeout DURATION  close connections idle this long (PINPIPE_BROKER_IDLE_TIMEOUT; 10m)
  --retention DURATION   default retention.ms of topics, or "forever"
                         (PINPIPE_BROKER_RETENTION; 168h, Kafka's week)
  --retention-bytes SIZE default retention.bytes of a partition, or "none"
                         (PINPIPE_BROKER_RETENTION_BYTES; none)
  --segment-bytes SIZE   default segment.bytes (PINPIPE_BROKER_SEGMENT_BYTES; 1GiB)
  --max-memory SIZE      with --memory: records kept before the oldest segments are dropped
                         (in memory segments also roll at 1/16 of it, 1 to 64 MiB)
                         (PINPIPE_BROKER_MAX_MEMORY; a quarter of RAM, at most 1GiB)
  --on-corruption MODE   truncate | refuse: a damaged log on start is cut out (its bytes kept
                         in <data-dir>/corrupt/, its offsets never reused) or stops the broker
                         (PINPIPE_BROKER_ON_CORRUPTION; truncate)
  --quiet                no log lines on stderr, except about damaged or dropped data
                         (PINPIPE_BROKER_QUIET=1; off)
  --json                 print {"bootstrap","host","port","dataDir"} instead of the address
  --help                 this text
`;

/** What the task runs with. */
export interface BrokerTaskOptions {
  port: number;
  host: string;
  dataDir?: string;
  partitions: number;
  autoCreate: boolean;
  fsync: FsyncPolicy;
  maxFrameBytes: number;
  maxRequestMemory: number;
  /** Undefined: what the open-file limit allows. */
  maxConnections?: number;
  /** Undefined: no limit per address. */
  maxConnectionsPerIp?: number;
  maxConnectionsPerIpOverrides: Map<string, number>;
  idleTimeoutMs: number;
  retentionMs: number;
  retentionBytes: number;
  segmentBytes?: number;
  maxMemoryBytes?: number;
  onCorruption: CorruptionPolicy;
  quiet: boolean;
  json: boolean;
}

/** Reads the task's options from flags and environment, reporting every problem at once. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
): BrokerTaskOptions {
  const { values } = parseFlags(args, {
    port: { type: "string" },
    host: { type: "string" },
    "data-dir": { type: "string" },
    memory: { type: "boolean" },
    partitions: { type: "string" },
    "auto-create": { type: "boolean" },
    fsync: { type: "string" },
    "max-frame-bytes": { type: "string" },
    "max-request-memory": { type: "string" },
    "max-connections": { type: "string" },
    "max-connections-per-ip": { type: "string" },
    "max-connections-per-ip-overrides": { type: "string" },
    "idle-timeout": { type: "string" },
    retention: { type: "string" },
    "retention-bytes": { type: "string" },
    "segment-bytes": { type: "string" },
    "max-memory": { type: "string" },
    "on-corruption": { type: "string" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
  });
  const o = new Options(values, env);
  const memory = o.bool("memory", { env: "PINPIPE_BROKER_MEMORY" });
  const opts: BrokerTaskOptions = {
    port: o.int("port", { env: "PINPIPE_BROKER_PORT", default: 9092, min: 0, max: 65535 }),
    host: o.string("host", { env: "PINPIPE_BROKER_HOST", default: "127.0.0.1" })!,
    dataDir: memory
      ? undefined
      : o.string("data-dir", { env: "PINPIPE_BROKER_DATA_DIR", default: ".pinpipe/kafka" }),
    partitions: o.int("partitions", {
      env: "PINPIPE_BROKER_PARTITIONS",
      default: 1,
      min: 1,
      max: 10_000,
    }),
    autoCreate: o.bool("auto-create", { env: "PINPIPE_BROKER_AUTO_CREATE" }),
    fsync: o.choice("fsync", ["interval", "always", "never"] as const, {
      env: "PINPIPE_BROKER_FSYNC",
      default: "interval",
    }),
    maxFrameBytes: o.bytes("max-frame-bytes", {
      env: "PINPIPE_BROKER_MAX_FRAME_BYTES",
      default: 100 * 1024 * 1024,
      min: 1024,
    }),
    maxRequestMemory: o.bytes("max-request-memory", {
      env: "PINPIPE_BROKER_MAX_REQUEST_MEMORY",
      default: 256 * 1024 * 1024,
      min: 1024 * 1024,
    }),
    maxConnections: o.string("max-connections", { env: "PINPIPE_BROKER_MAX_CONNECTIONS" }) ===
        undefined
      ? undefined
      : o.int("max-connections", { env: "PINPIPE_BROKER_MAX_CONNECTIONS", min: 1 }),
    maxConnectionsPerIp: /^(none|-1)$/.test(
        o.string("max-connections-per-ip", { env: "PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP" }) ??
          "none",
      )
      ? undefined
      : o.int("max-connections-per-ip", { env: "PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP", min: 0 }),
    maxConnectionsPerIpOverrides: overrides(o),
    idleTimeoutMs: o.duration("idle-timeout", {
      env: "PINPIPE_BROKER_IDLE_TIMEOUT",
      default: 600_000,
      min: 1000,
    }),
    retentionMs:
      /^(forever|-1)$/.test(o.string("retention", { env: "PINPIPE_BROKER_RETENTION" }) ?? "")
        ? -1
        : o.duration("retention", { env: "PINPIPE_BROKER_RETENTION", default: 168 * 3600_000 }),
    retentionBytes: /^(none|-1)$/.test(
        o.string("retention-bytes", { env: "PINPIPE_BROKER_RETENTION_BYTES" }) ?? "none",
      )
      ? -1
      : o.bytes("retention-bytes", { env: "PINPIPE_BROKER_RETENTION_BYTES", min: 0 }),
    segmentBytes: o.string("segment-bytes", { env: "PINPIPE_BROKER_SEGMENT_BYTES" }) === undefined
      ? undefined
      : o.bytes("segment-bytes", { env: "PINPIPE_BROKER_SEGMENT_BYTES", min: 1024 }),
    maxMemoryBytes: o.string("max-memory", { env: "PINPIPE_BROKER_MAX_MEMORY" }) === undefined
      ? undefined
      : o.bytes("max-memory", { env: "PINPIPE_BROKER_MAX_MEMORY", min: 1024 * 1024 }),
    onCorruption: o.choice("on-corruption", ["truncate", "refuse"] as const, {
      env: "PINPIPE_BROKER_ON_CORRUPTION",
      default: "truncate",
    }),
    quiet: o.bool("quiet", { env: "PINPIPE_BROKER_QUIET" }),
    json: o.bool("json"),
  };
  if (!memory && typeof values["max-memory"] === "string") {
    o.problem("Cannot use --max-memory without --memory: it caps an in-memory broker");
  }
  if (memory && typeof values["data-dir"] === "string") {
    o.problem("Cannot use --memory with --data-dir: choose one");
  }
  if (!opts.host) o.problem('Invalid --host "": give an address to bind, such as 127.0.0.1');
  o.done();
  return opts;
}

/** Reads --max-connections-per-ip-overrides, recording a problem if it does not read. */
function overrides(o: Options): Map<string, number> {
  const r = o.raw("max-connections-per-ip-overrides", {
    env: "PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP_OVERRIDES",
  });
  if (!r) return new Map();
  try {
    return parseConnectionOverrides(r.text);
  } catch (err) {
    o.problem(`Invalid ${r.from} "${r.text}": ${(err as Error).message}`);
    return new Map();
  }
}

/** How a run ended. */
export interface BrokerRunResult {
  bootstrap: string;
  dataDir?: string;
  uptimeSec: number;
}

/**
 * Starts the broker, reports its address through `onListening`, serves until `signal`
 * aborts, then closes it cleanly (connections closed, logs flushed).
 */
export async function runBroker(
  opts: BrokerTaskOptions,
  deps: {
    signal: AbortSignal;
    log: (line: string) => void;
    /** Lines about damaged or dropped data (default: `log`); printed even with --quiet. */
    warn?: (line: string) => void;
    onListening: (broker: Broker) => void;
  },
): Promise<BrokerRunResult> {
  const started = performance.now();
  const broker = await startBroker({
    port: opts.port,
    host: opts.host,
    dataDir: opts.dataDir,
    partitions: opts.partitions,
    autoCreate: opts.autoCreate,
    fsync: opts.fsync,
    maxFrameBytes: opts.maxFrameBytes,
    maxRequestMemory: opts.maxRequestMemory,
    maxConnections: opts.maxConnections,
    maxConnectionsPerIp: opts.maxConnectionsPerIp,
    maxConnectionsPerIpOverrides: opts.maxConnectionsPerIpOverrides,
    idleTimeoutMs: opts.idleTimeoutMs,
    retentionMs: opts.retentionMs,
    retentionBytes: opts.retentionBytes,
    segmentBytes: opts.segmentBytes,
    maxMemoryBytes: opts.maxMemoryBytes,
    onCorruption: opts.onCorruption,
    logger: opts.quiet ? undefined : deps.log,
    warn: deps.warn ?? deps.log,
  });
  deps.onListening(broker);
  if (!deps.signal.aborted) {
    await new Promise<void>((resolve) =>
      deps.signal.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  await broker.close();
  return {
    bootstrap: broker.bootstrap,
    dataDir: opts.dataDir,
    uptimeSec: (performance.now() - started) / 1000,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env);
    const log = (line: string) => console.error(`${new Date().toISOString()} broker: ${line}`);
    const result = await runBroker(opts, {
      signal,
      log,
      onListening: (b) => {
        console.log(
          opts.json
            ? JSON.stringify({
              bootstrap: b.bootstrap,
              host: b.host,
              port: b.port,
              dataDir: opts.dataDir ?? null,
            })
            : b.bootstrap,
        );
      },
    });
    console.error(
      `broker ${result.bootstrap} stopped cleanly after ${result.uptimeSec.toFixed(1)} s${
        result.dataDir ? ` (data kept in ${result.dataDir})` : ""
      }`,
    );
    return 0;
  });
}
