/**
 * An embedded, single-node, Kafka-protocol broker: `startBroker()` listens on a host and
 * port (0 = ephemeral) and serves kafkajs 2.2.4 and librdkafka (kcat) clients, in memory
 * or with an on-disk data dir.
 *
 *     const broker = await startBroker({ port: 0 });
 *     const kafka = new Kafka({ brokers: [broker.bootstrap] });
 *     …
 *     await broker.close();
 *
 * One module per Kafka API (`NN_name.ts`, each with its behaviour and version notes),
 * registered in registry.ts, which both the dispatcher and ApiVersions read.
 *
 * Skipped on purpose (see each API module for details):
 * - more than one broker: node 0 is the controller, every group's coordinator and the
 *   only replica; replication factors above 1 are refused
 * - of transactions (transactions.ts): transactional id expiry, KIP-890 part 2 (an epoch
 *   bump per transaction, Kafka 4.0), WriteTxnMarkers as an API (markers are written
 *   in-process), the KIP-848 consumer group protocol
 * - fetch sessions (KIP-227, refused as Kafka refuses them with a full cache), follower
 *   fetching, and message-format conversion (magic 0/1 is refused; Fetch v0–v3 gets
 *   UNSUPPORTED_VERSION)
 * - compaction (a topic whose cleanup.policy lacks "delete" keeps everything); of the
 *   topic configs segment.*, retention.*, cleanup.policy, max.message.bytes and
 *   min.insync.replicas are applied, the others stored (configs.ts)
 * - LogAppendTime; ListOffsets by timestamp answers at batch precision
 * - offset expiry; static membership beyond reusing a member id; the initial rebalance
 *   delay (deliberately: groups form at once)
 * - ACLs, quotas (throttle_time is always 0), dynamic broker configs, and the admin APIs
 *   not listed in registry.ts
 * - a separate advertised address: a listener's bound host:port is what clients are told
 *
 * Listeners (`listeners`): PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL side by side, each
 * connection told (Metadata, FindCoordinator, DescribeCluster) the address of the listener
 * it came in on; TLS with the given certificate or a local CA (tls.ts); SASL with SCRAM and
 * PLAIN (sasl.ts, scram.ts).
 *
 * Folder `lib/broker/`: the embedded broker: this entry point, the server and its limits, the
 * storage (logs, segments, offsets, producer state), the codec and one file per Kafka API. May
 * import: `lib/deps/`.
 * @module
 */
import { noDelay } from "./nodelay.ts";
import type { Api } from "./api.ts";
import {
  ConnectionLimits,
  type FilePlan,
  NO_CONNECTION_LIMIT,
  planFiles,
  resolveConnectionOverrides,
} from "./limits.ts";
import type { WriteFault } from "./log_store.ts";
import type { CorruptionPolicy } from "./partition_log.ts";
import { APIS, capVersions } from "./registry.ts";
import { BrokerServer } from "./server.ts";
import { BrokerState, type FsyncPolicy } from "./state.ts";
import { KAFKA_LOG_DEFAULTS } from "./configs.ts";
import { type ServedListener } from "./server.ts";
import {
  KNOWN_MECHANISMS,
  type ListenerInfo,
  type SaslConfig,
  type SecurityProtocol,
} from "./sasl.ts";
import { ScramStore } from "./scram.ts";
import {
  DEFAULT_IAM_REGION,
  IAM_MECHANISMS,
  IamPrincipals,
  mskIamExchange,
  oauthIamExchange,
} from "./iam.ts";
import { localCertificates, readTlsFiles, type TlsMaterial } from "./tls.ts";

export type { CorruptionPolicy, FsyncPolicy };

/** How to start a broker. */
export interface BrokerOptions {
  /** Port to listen on: default 9092 for the CLI; 0 = ephemeral (the default here). */
  port?: number;
  /** Host to bind and advertise (default "127.0.0.1"). */
  host?: string;
  /** Directory for logs, topic metadata and committed offsets; undefined = in memory. */
  dataDir?: string;
  /** Partitions of auto-created topics and of CreateTopics with -1 (default 1). */
  partitions?: number;
  /** Auto-create unknown topics on Metadata and Produce (default false). */
  autoCreate?: boolean;
  /**
   * When appended data is fdatasynced (default "interval": once a second). "interval" and
   * "never" lose nothing if the broker process dies (data is in the OS page cache) but may
   * lose the last second (interval) or more (never) of acknowledged writes if the machine
   * crashes or loses power; "always" syncs before each acknowledgement and is slower.
   */
  fsync?: FsyncPolicy;
  /** Largest request frame accepted, in bytes (default 100 MiB), checked before allocating. */
  maxFrameBytes?: number;
  /**
   * Bytes all connections hold together beyond their 4 KiB read buffers: larger read
   * buffers (kept between requests or in use), requests being read, Fetch responses being
   * written (default 256 MiB, at least maxFrameBytes). A connection whose frame does not
   * fit waits, unread; a Fetch answers with what fits.
   */
  maxRequestMemory?: number;
  /** A connection with no request for this long is closed (default 10 min, Kafka's). */
  idleTimeoutMs?: number;
  /**
   * A request must arrive whole within this long of its first byte, and a response must
   * make progress at least this often, else the connection is closed (default 2 min).
   */
  frameTimeoutMs?: number;
  /**
   * A consumer group (KIP-848) member not heard from this long is removed (default 45 s,
   * Kafka's group.consumer.session.timeout.ms).
   */
  consumerSessionTimeoutMs?: number;
  /** The heartbeat interval consumer group members are told (default 5 s, Kafka's). */
  consumerHeartbeatIntervalMs?: number;
  /**
   * Client connections at once; more are closed (default, and at most: what the open-file
   * limit allows). The last eighth is kept for addresses holding few connections.
   */
  maxConnections?: number;
  /** Connections one address may hold (Kafka's max.connections.per.ip; default no limit). */
  maxConnectionsPerIp?: number;
  /**
   * Limits for particular hosts (addresses or names, looked up on start), e.g.
   * `{ "10.0.0.7": 50 }` (Kafka's max.connections.per.ip.overrides).
   */
  maxConnectionsPerIpOverrides?: ReadonlyMap<string, number> | Record<string, number>;
  /** Segment files open at once (default: a quarter of the open-file limit left, ≤ 1,024). */
  maxOpenFiles?: number;
  /**
   * What a damaged log or offsets.log does on start: "truncate" (default) cuts the damaged
   * bytes out, keeps them in `corrupt/` and says so; "refuse" stops the broker instead.
   */
  onCorruption?: CorruptionPolicy;
  /** Default retention.ms of topics (default 7 days, -1 = keep forever). */
  retentionMs?: number;
  /** Default retention.bytes of a partition (default -1: no limit). */
  retentionBytes?: number;
  /**
   * Default segment.bytes (default 1 GiB). In memory a segment also rolls at a sixteenth of
   * the memory cap (1 to 64 MiB), so the cap drops records in small steps.
   */
  segmentBytes?: number;
  /** Default segment.ms (default 7 days). */
  segmentMs?: number;
  /**
   * In memory: bytes of records kept before the oldest segments are dropped (default a
   * quarter of the machine's memory, at most 1 GiB).
   */
  maxMemoryBytes?: number;
  /** How often retention and the memory cap are applied (default 1 s). */
  maintenanceMs?: number;
  /** Receives one line per notable event (default: silent). */
  logger?: (line: string) => void;
  /** Receives lines about lost or damaged data (default: the logger, else stderr). */
  warn?: (line: string) => void;
  /** Test hook: the clock the logs use (retention, segment.ms). */
  now?: () => number;
  /** Test hook: called before each file write with its path; throw to fail it (a full disk). */
  fault?: WriteFault;
  /** Caps advertised max versions by API name, e.g. `{ Fetch: 4 }` (tests posing as an older broker). */
  maxVersions?: Record<string, number>;
  /**
   * Listeners to serve side by side instead of `host`/`port` (PLAINTEXT): the first is the
   * broker's `bootstrap`. Port 0 = ephemeral.
   */
  listeners?: ListenerOption[];
  /** PEM certificate (chain) and key files for SSL and SASL_SSL listeners (default: a local CA, tls.ts). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Where the local CA is made when no certificate is given (default: the data dir, in memory `.pinpipe/tls-local`). */
  tlsDir?: string;
  /** Mechanisms of SASL listeners (default SCRAM-SHA-512, SCRAM-SHA-256, and PLAIN on SASL_SSL). */
  saslMechanisms?: string[];
  /** JSON file of users and passwords or SCRAM credentials (scram.ts). */
  saslUsersFile?: string;
  /** connections.max.reauth.ms (default 0: sessions are not limited, as Kafka's default). */
  reauthMs?: number;
  /**
   * JSON file of IAM principals (iam.ts): with it SASL listeners also take MSK IAM
   * (AWS_MSK_IAM and OAUTHBEARER), verified against these credentials.
   */
  iamPrincipalsFile?: string;
  /** The region IAM tokens must be signed for (default us-east-1). */
  iamRegion?: string;
  /** The cluster ARN IAM policies name (default iam_policy.ts's localClusterArn(region)). */
  iamClusterArn?: string;
}

/** One listener to serve. */
export interface ListenerOption {
  name: string;
  protocol: SecurityProtocol;
  host: string;
  port: number;
}

/** A listener being served. */
export interface ServedListenerInfo extends ListenerOption {
  /** "host:port" of the bound address. */
  bootstrap: string;
}

/** A running broker. */
export interface Broker {
  /** "host:port" of the bound address. */
  bootstrap: string;
  host: string;
  port: number;
  /** Stops listening, closes connections, flushes and closes logs. */
  close(): Promise<void>;
  /** Every listener, the first being `bootstrap`'s. */
  listeners: ServedListenerInfo[];
  /** Where the CA clients trust is (PEM and PKCS12), when the broker made it. */
  tls?: { caFile?: string; truststoreFile?: string };
}

/** The port `deno task broker` listens on unless told: Kafka's. */
export const DEFAULT_BROKER_PORT = 9092;
/** The address the broker binds and advertises unless told. */
export const DEFAULT_BROKER_HOST = "127.0.0.1";
/** Where `deno task broker` keeps its logs, topics and offsets unless told. */
export const DEFAULT_DATA_DIR = ".pinpipe/kafka";
/** Partitions of auto-created topics (and of CreateTopics with -1) unless told. */
export const DEFAULT_BROKER_PARTITIONS = 1;
/** A connection with no request for this long is closed: Kafka's 10 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** Default largest frame: 100 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;
/** Default budget for request frames being read: 256 MiB. */
export const DEFAULT_MAX_REQUEST_MEMORY = 256 * 1024 * 1024;

/** The default memory cap of an in-memory broker: a quarter of the machine, at most 1 GiB. */
export function defaultMaxMemory(): number {
  let total = 4 * 1024 ** 3;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch { /* not permitted: assume 4 GiB */ }
  return Math.min(1024 ** 3, Math.floor(total / 4));
}

/** Starts a broker (in memory unless `dataDir` is given); resolves once it is listening. */
export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const host = opts.host ?? DEFAULT_BROKER_HOST;
  const partitions = opts.partitions ?? DEFAULT_BROKER_PARTITIONS;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(
      `Cannot start the broker with ${partitions} default partitions: need 1 or more`,
    );
  }
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const maxMemoryBytes = opts.maxMemoryBytes ?? defaultMaxMemory();
  const files = planFiles();
  const { maxConnections, maxConnectionsPerIp, overrides, limits } = await connectionLimits(
    opts,
    files,
  );
  const state = await BrokerState.open({
    host,
    dataDir: opts.dataDir,
    partitions,
    autoCreate: opts.autoCreate ?? false,
    fsync: opts.fsync ?? "interval",
    maxFrameBytes,
    logger: opts.logger ?? (() => {}),
    // Damaged or dropped data is never silent: without a logger it goes to stderr.
    warn: opts.warn ?? opts.logger ?? ((line) => console.error(`broker: ${line}`)),
    onCorruption: opts.onCorruption ?? "truncate",
    logDefaults: {
      segmentBytes: opts.segmentBytes ?? KAFKA_LOG_DEFAULTS.segmentBytes,
      segmentMs: opts.segmentMs ?? KAFKA_LOG_DEFAULTS.segmentMs,
      retentionMs: opts.retentionMs ?? KAFKA_LOG_DEFAULTS.retentionMs,
      retentionBytes: opts.retentionBytes ?? KAFKA_LOG_DEFAULTS.retentionBytes,
    },
    maxMemoryBytes,
    maxOpenFiles: opts.maxOpenFiles ?? files.maxOpenFiles,
    maxConnections,
    maxConnectionsPerIp,
    maxConnectionsPerIpOverrides: overrides,
    // A largest frame and its size prefix always fit.
    maxRequestMemory: Math.max(
      opts.maxRequestMemory ?? DEFAULT_MAX_REQUEST_MEMORY,
      maxFrameBytes + 4,
    ),
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    frameTimeoutMs: opts.frameTimeoutMs ?? 2 * 60 * 1000,
    consumerSessionTimeoutMs: opts.consumerSessionTimeoutMs,
    consumerHeartbeatIntervalMs: opts.consumerHeartbeatIntervalMs,
    maintenanceMs: opts.maintenanceMs ?? 1000,
    now: opts.now,
    fault: opts.fault,
  });
  let served: ServedListener[];
  let tls: TlsMaterial | undefined;
  try {
    ({ served, tls } = await openListeners(opts, host, state.log.bind(state)));
  } catch (err) {
    await state.close();
    throw err;
  }
  const port = served[0].info.port;
  state.port = port;
  const apis: ReadonlyMap<number, Api> = opts.maxVersions ? capVersions(opts.maxVersions) : APIS;
  const server = new BrokerServer(served, state, apis, limits);
  const bootstrap = hostPort(served[0].info.host, port);
  const st = state.settings;
  state.log(
    `listening on ${bootstrap}${
      opts.dataDir ? ` with data in ${opts.dataDir}` : ` (in memory, up to ${mib(maxMemoryBytes)})`
    }; up to ${st.maxConnections} connections (${perAddress(st)}; the last ` +
      `${limits.headroom.slots} kept for addresses holding fewer than ${limits.headroom.few}), ` +
      `${st.maxOpenFiles} open segment files, ${mib(st.maxRequestMemory)} for all ` +
      `connections' requests (open-file limit ${files.limit})`,
  );
  let closing: Promise<void> | undefined;
  if (served.length > 1 || served[0].info.protocol !== "PLAINTEXT") {
    state.log(
      `listeners: ${
        served.map(({ info: l }) =>
          `${l.name}=${l.protocol}://${hostPort(l.host, l.port)}${
            l.sasl ? ` (${l.sasl.mechanisms.join(", ")})` : ""
          }`
        ).join(", ")
      }${tls?.caFile ? `; clients trust ${tls.caFile} (Java: ${tls.truststoreFile})` : ""}`,
    );
  }
  return {
    bootstrap,
    host: served[0].info.host,
    port,
    listeners: served.map(({ info: l }) => ({
      name: l.name,
      protocol: l.protocol,
      host: l.host,
      port: l.port,
      bootstrap: hostPort(l.host, l.port),
    })),
    tls: tls ? { caFile: tls.caFile, truststoreFile: tls.truststoreFile } : undefined,
    close() {
      closing ??= (async () => {
        await server.close(() => state.groups.close());
        await state.close();
        state.log("stopped");
      })();
      return closing;
    },
  };
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The default local CA directory of an in-memory broker. */
export const DEFAULT_TLS_DIR = ".pinpipe/tls-local";

/** Binds every listener `opts` ask for (closing those bound if one fails). */
async function openListeners(
  opts: BrokerOptions,
  host: string,
  log: (line: string) => void,
): Promise<{ served: ServedListener[]; tls?: TlsMaterial }> {
  const wanted: ListenerOption[] = opts.listeners?.length
    ? opts.listeners
    : [{ name: "PLAINTEXT", protocol: "PLAINTEXT", host, port: opts.port ?? 0 }];
  const names = new Set<string>();
  for (const l of wanted) {
    if (names.has(l.name)) {
      throw new Error(`Cannot start the broker: listener ${l.name} is given twice`);
    }
    names.add(l.name);
  }
  let tls: TlsMaterial | undefined;
  if (wanted.some((l) => l.protocol === "SSL" || l.protocol === "SASL_SSL")) {
    if (opts.tlsCertFile || opts.tlsKeyFile) {
      if (!opts.tlsCertFile || !opts.tlsKeyFile) {
        throw new Error("Cannot start the broker: give both --tls-cert and --tls-key, or neither");
      }
      tls = await readTlsFiles(opts.tlsCertFile, opts.tlsKeyFile);
    } else {
      const dir = opts.tlsDir ?? opts.dataDir ?? DEFAULT_TLS_DIR;
      tls = await localCertificates(dir, [...new Set(wanted.map((l) => l.host))]);
    }
  }
  let sasl: SaslConfig | undefined;
  const scram = await ScramStore.open(opts.dataDir, opts.saslUsersFile);
  const iam = opts.iamPrincipalsFile
    ? await IamPrincipals.load(
      opts.iamPrincipalsFile,
      opts.iamRegion ?? DEFAULT_IAM_REGION,
      opts.now,
      opts.iamClusterArn,
    )
    : undefined;
  for (const p of iam?.byKey.values() ?? []) {
    log(
      `IAM principal ${p.principal} (${p.accessKeyId}): ${
        p.policies
          ? `${p.policies.statements.length} policy statements from ${
            p.policies.sources.join(", ")
          }`
          : "no policies, every request allowed"
      }`,
    );
  }
  if (wanted.some((l) => l.protocol.startsWith("SASL_"))) {
    const known = [...KNOWN_MECHANISMS, ...IAM_MECHANISMS];
    const mechanisms = opts.saslMechanisms ??
      (iam ? [...KNOWN_MECHANISMS, ...IAM_MECHANISMS] : KNOWN_MECHANISMS);
    for (const m of mechanisms) {
      if (!known.includes(m)) {
        throw new Error(
          `Cannot start the broker: unknown SASL mechanism "${m}" (have ${known.join(", ")})`,
        );
      }
      if (IAM_MECHANISMS.includes(m) && !iam) {
        throw new Error(
          `Cannot start the broker with SASL mechanism ${m}: it needs --iam-principals, the ` +
            "credentials IAM tokens are checked against",
        );
      }
    }
    sasl = { mechanisms, scram, reauthMs: opts.reauthMs ?? 0 };
    if (scram.names().length === 0 && mechanisms.some((m) => KNOWN_MECHANISMS.includes(m))) {
      log("no SASL users yet: add some with --sasl-users or kafka-configs --alter --add-config");
    }
  }
  const served: ServedListener[] = [];
  try {
    for (const l of wanted) {
      const secure = l.protocol === "SSL" || l.protocol === "SASL_SSL";
      let listener: Deno.Listener;
      try {
        listener = secure
          ? Deno.listenTls({ hostname: l.host, port: l.port, cert: tls!.cert, key: tls!.key })
          : Deno.listen({ hostname: l.host, port: l.port, transport: "tcp" });
      } catch (err) {
        throw new Error(`Cannot listen on ${hostPort(l.host, l.port)} (${l.name})`, { cause: err });
      }
      const info: ListenerInfo = {
        ...l,
        port: (listener.addr as Deno.NetAddr).port,
        scram,
      };
      if (secure) {
        // Deno's TLS connections cannot turn Nagle's algorithm off themselves (nodelay.ts).
        const why = noDelay(info.port);
        if (why) log(`${l.name}: TLS connections keep Nagle's algorithm on (${why}): slower`);
      }
      if (l.protocol.startsWith("SASL_")) {
        // PLAIN sends the password itself: only over TLS.
        const mechanisms = sasl!.mechanisms.filter((m) => m !== "PLAIN" || secure);
        info.sasl = {
          ...sasl!,
          mechanisms,
          others: iam
            ? {
              AWS_MSK_IAM: () => mskIamExchange(iam, l.host),
              OAUTHBEARER: () => oauthIamExchange(iam),
            }
            : undefined,
        };
      }
      served.push({ listener, info });
    }
  } catch (err) {
    for (const s of served) s.listener.close();
    throw err;
  }
  return { served, tls };
}

/**
 * The connection limits `opts` ask for, checked, within what the open-file plan allows,
 * with the host names of the overrides looked up.
 */
async function connectionLimits(opts: BrokerOptions, files: FilePlan) {
  const maxConnections = Math.min(opts.maxConnections ?? Infinity, files.maxConnections);
  const maxConnectionsPerIp = opts.maxConnectionsPerIp ?? NO_CONNECTION_LIMIT;
  const given = opts.maxConnectionsPerIpOverrides;
  const overrides = new Map(given instanceof Map ? given : Object.entries(given ?? {}));
  const counts: [string, number, number][] = [
    ["maxConnections", maxConnections, 1],
    ["maxConnectionsPerIp", maxConnectionsPerIp, 0],
    ...[...overrides].map(([host, n]): [string, number, number] => [`the limit of ${host}`, n, 0]),
  ];
  for (const [name, n, min] of counts) {
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(
        `Cannot start the broker with ${name} ${n}: need a whole number ≥ ${min}`,
      );
    }
  }
  const limits = new ConnectionLimits({
    maxConnections,
    maxConnectionsFrom: maxConnections === files.maxConnections
      ? `the open-file limit ${files.limit}`
      : undefined,
    maxPerAddress: maxConnectionsPerIp,
    overrides: await resolveConnectionOverrides(overrides),
  });
  return { maxConnections, maxConnectionsPerIp, overrides, limits };
}

function perAddress(st: BrokerState["settings"]): string {
  const each = st.maxConnectionsPerIp === NO_CONNECTION_LIMIT
    ? "no limit per address"
    : `${st.maxConnectionsPerIp} per address`;
  const o = [...st.maxConnectionsPerIpOverrides].map(([h, n]) => `${h} ${n}`).join(", ");
  return o ? `${each}, ${o}` : each;
}

function mib(n: number): string {
  return `${Math.round(n / 1024 / 1024)} MiB`;
}

/** How a run of `runBroker` ended. */
export interface BrokerRunResult {
  bootstrap: string;
  dataDir?: string;
  uptimeSec: number;
}

/**
 * Starts the broker, reports its address through `onListening`, serves until `signal`
 * aborts, then closes it cleanly (connections closed, logs flushed): `deno task broker`.
 */
export async function runBroker(
  opts: BrokerOptions,
  deps: { signal: AbortSignal; onListening: (broker: Broker) => void },
): Promise<BrokerRunResult> {
  const started = performance.now();
  const broker = await startBroker(opts);
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
