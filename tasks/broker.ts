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
import { runMain } from "../lib/shell/cli.ts";
import { commaList, type FlagTable, helpText, readFlags } from "../lib/shell/flags.ts";
import {
  type BrokerOptions,
  DEFAULT_BROKER_HOST,
  DEFAULT_BROKER_PARTITIONS,
  DEFAULT_BROKER_PORT,
  DEFAULT_DATA_DIR,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_REQUEST_MEMORY,
  runBroker,
} from "../lib/broker/broker.ts";
import { KAFKA_LOG_DEFAULTS } from "../lib/broker/configs.ts";
import {
  DEFAULT_CONSUMER_HEARTBEAT_INTERVAL_MS,
  DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
} from "../lib/broker/consumer_groups.ts";
import { parseConnectionOverrides } from "../lib/broker/limits.ts";
import { KNOWN_MECHANISMS, parseListener } from "../lib/broker/sasl.ts";
import { TRUSTSTORE_PASSWORD } from "../lib/broker/tls.ts";
import { DEFAULT_IAM_REGION, IAM_MECHANISMS } from "../lib/broker/iam.ts";

/** The broker's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  port: {
    type: "int",
    help: "port to listen on, 0 = any free one",
    env: "PINPIPE_BROKER_PORT",
    default: DEFAULT_BROKER_PORT,
    min: 0,
    max: 65535,
  },
  host: {
    type: "string",
    help: "address to bind and advertise",
    env: "PINPIPE_BROKER_HOST",
    default: DEFAULT_BROKER_HOST,
    check: (h: string) => h ? undefined : "give an address to bind, such as 127.0.0.1",
  },
  "data-dir": {
    type: "string",
    arg: "DIR",
    help: "where logs, topic metadata and group offsets live",
    env: "PINPIPE_BROKER_DATA_DIR",
    default: DEFAULT_DATA_DIR,
  },
  memory: {
    type: "boolean",
    help: "keep everything in memory instead, lost on exit",
    env: "PINPIPE_BROKER_MEMORY",
  },
  partitions: {
    type: "int",
    help: "partitions of auto-created topics and of CreateTopics with -1",
    env: "PINPIPE_BROKER_PARTITIONS",
    default: DEFAULT_BROKER_PARTITIONS,
    min: 1,
    max: 10_000,
  },
  "auto-create": {
    type: "boolean",
    help: "create unknown topics on Metadata and Produce",
    env: "PINPIPE_BROKER_AUTO_CREATE",
  },
  fsync: {
    type: "choice",
    choices: ["interval", "always", "never"],
    help: "interval fdatasyncs once a second: a crash of the broker loses nothing, a crash " +
      "of the machine up to the last second of acknowledged writes; always syncs before " +
      "every acknowledgement",
    env: "PINPIPE_BROKER_FSYNC",
    default: "interval",
  },
  "max-frame-bytes": {
    type: "bytes",
    help: "largest request accepted",
    env: "PINPIPE_BROKER_MAX_FRAME_BYTES",
    default: DEFAULT_MAX_FRAME_BYTES,
    min: 1024,
  },
  "max-request-memory": {
    type: "bytes",
    help: "memory all connections hold together beyond 4 KiB each: read buffers, requests " +
      "being read, fetched records being sent; a request that does not fit waits unread, a " +
      "fetch gets less",
    env: "PINPIPE_BROKER_MAX_REQUEST_MEMORY",
    default: DEFAULT_MAX_REQUEST_MEMORY,
    min: 1024 * 1024,
  },
  "max-connections": {
    type: "int",
    help: "connections at once, the last eighth kept for addresses holding few",
    env: "PINPIPE_BROKER_MAX_CONNECTIONS",
    defaultText: "what the open-file limit allows, also the most it takes",
    min: 1,
  },
  "max-connections-per-ip": {
    type: "int",
    help: 'connections one address may hold, or "none"',
    env: "PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP",
    keywords: { none: -1 },
    default: -1,
    min: 0,
  },
  "max-connections-per-ip-overrides": {
    type: "string",
    arg: "HOST:N,…",
    help: "limits for particular addresses or host names, e.g. 10.0.0.7:50,localhost:500 " +
      "(0 refuses the host)",
    env: "PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP_OVERRIDES",
    defaultText: "none",
    check: overridesProblem,
  },
  "idle-timeout": {
    type: "duration",
    help: "close connections idle this long",
    env: "PINPIPE_BROKER_IDLE_TIMEOUT",
    default: DEFAULT_IDLE_TIMEOUT_MS,
    min: 1000,
  },
  "consumer-session-timeout": {
    type: "duration",
    help: "remove a consumer group member (group.protocol=consumer) silent this long " +
      "(Kafka's group.consumer.session.timeout.ms)",
    env: "PINPIPE_BROKER_CONSUMER_SESSION_TIMEOUT",
    default: DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
    min: 100,
  },
  "consumer-heartbeat-interval": {
    type: "duration",
    help: "how often consumer group members (group.protocol=consumer) are told to heartbeat " +
      "(Kafka's group.consumer.heartbeat.interval.ms; below --consumer-session-timeout)",
    env: "PINPIPE_BROKER_CONSUMER_HEARTBEAT_INTERVAL",
    default: DEFAULT_CONSUMER_HEARTBEAT_INTERVAL_MS,
    min: 10,
  },
  retention: {
    type: "duration",
    help: 'default retention.ms of topics, or "forever"',
    env: "PINPIPE_BROKER_RETENTION",
    keywords: { forever: -1 },
    default: KAFKA_LOG_DEFAULTS.retentionMs,
    defaultText: "168h, Kafka's week",
    min: 1,
  },
  "retention-bytes": {
    type: "bytes",
    help: 'default retention.bytes of a partition, or "none"',
    env: "PINPIPE_BROKER_RETENTION_BYTES",
    keywords: { none: -1 },
    default: KAFKA_LOG_DEFAULTS.retentionBytes,
    min: 0,
  },
  "segment-bytes": {
    type: "bytes",
    help: "default segment.bytes",
    env: "PINPIPE_BROKER_SEGMENT_BYTES",
    default: KAFKA_LOG_DEFAULTS.segmentBytes,
    min: 1024,
  },
  "max-memory": {
    type: "bytes",
    help: "with --memory: records kept before the oldest segments are dropped (in memory " +
      "segments also roll at 1/16 of it, 1 to 64 MiB)",
    env: "PINPIPE_BROKER_MAX_MEMORY",
    defaultText: "a quarter of RAM, at most 1GiB",
    min: 1024 * 1024,
  },
  "on-corruption": {
    type: "choice",
    choices: ["truncate", "refuse"],
    help: "a damaged log on start is cut out (its bytes kept in <data-dir>/corrupt/, its " +
      "offsets never reused) or stops the broker",
    env: "PINPIPE_BROKER_ON_CORRUPTION",
    default: "truncate",
  },
  listener: {
    type: "list",
    arg: "NAME=PROTO://HOST:PORT",
    help: "serve these listeners side by side instead of --host/--port (PLAINTEXT, SSL, " +
      "SASL_PLAINTEXT, SASL_SSL; repeat or comma-separate); each client is told the address " +
      "of the listener it came in on",
    env: "PINPIPE_BROKER_LISTENERS",
    defaultText: "PLAINTEXT on --host:--port",
    check: listenerProblem,
  },
  "tls-cert": {
    type: "string",
    arg: "FILE",
    help: "PEM certificate (chain) of SSL and SASL_SSL listeners",
    env: "PINPIPE_BROKER_TLS_CERT",
    defaultText:
      `a local CA made once in the data dir (tls/ca.pem, tls/truststore.p12 password "${TRUSTSTORE_PASSWORD}")`,
  },
  "tls-key": {
    type: "string",
    arg: "FILE",
    help: "PEM private key of --tls-cert",
    env: "PINPIPE_BROKER_TLS_KEY",
    defaultText: "the local CA's server key",
  },
  "sasl-users": {
    type: "string",
    arg: "FILE",
    help: 'JSON users of SASL listeners: {"name": "password"} or Kafka\'s stored SCRAM ' +
      "credentials; kafka-configs --alter adds more (kept in the data dir)",
    env: "PINPIPE_BROKER_SASL_USERS",
    defaultText: "none",
  },
  "sasl-mechanisms": {
    type: "list",
    arg: "M,…",
    help: "mechanisms of SASL listeners (PLAIN only on SASL_SSL)",
    env: "PINPIPE_BROKER_SASL_MECHANISMS",
    defaultText: `${KNOWN_MECHANISMS.join(",")}, and ${
      IAM_MECHANISMS.join(",")
    } with --iam-principals`,
    check: (ms: string[]) =>
      commaList(ms).every((m) => [...KNOWN_MECHANISMS, ...IAM_MECHANISMS].includes(m))
        ? undefined
        : `have ${[...KNOWN_MECHANISMS, ...IAM_MECHANISMS].join(", ")}`,
  },
  "iam-principals": {
    type: "string",
    arg: "FILE",
    help: 'MSK IAM on SASL listeners: JSON {"<access key id>": {"secretAccessKey", "principal": ' +
      '"<ARN>", "sessionToken"?}} that AWS_MSK_IAM and OAUTHBEARER (signer) tokens are checked against',
    env: "PINPIPE_BROKER_IAM_PRINCIPALS",
    defaultText: "no IAM",
  },
  "iam-region": {
    type: "string",
    arg: "REGION",
    help: "the region IAM tokens must be signed for",
    env: "PINPIPE_BROKER_IAM_REGION",
    default: DEFAULT_IAM_REGION,
  },
  "iam-cluster-arn": {
    type: "string",
    arg: "ARN",
    help: "the cluster ARN IAM policies name (topic and group ARNs follow it); the default is " +
      "what deploy --local-policies renders for",
    env: "PINPIPE_BROKER_IAM_CLUSTER_ARN",
    defaultText: "arn:aws:kafka:<iam-region>:000000000000:cluster/pinpipe-local/…",
  },
  "reauth-ms": {
    type: "duration",
    help: "connections.max.reauth.ms: SASL sessions end after this long unless the client " +
      're-authenticates (KIP-368), or "none"',
    env: "PINPIPE_BROKER_REAUTH",
    keywords: { none: 0 },
    default: 0,
    min: 0,
  },
  quiet: {
    type: "boolean",
    help: "no log lines on stderr, except about damaged or dropped data",
    env: "PINPIPE_BROKER_QUIET",
  },
  json: {
    type: "boolean",
    help: 'print {"bootstrap","host","port","dataDir"} as JSON instead of the address',
    env: "PINPIPE_JSON",
  },
} as const satisfies FlagTable;

/** Why `text` is not a listener, or undefined. */
function listenerProblem(texts: string[]): string | undefined {
  try {
    commaList(texts).forEach(parseListener);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Why `text` is not a list of host:count overrides, or undefined. */
function overridesProblem(text: string): string | undefined {
  try {
    parseConnectionOverrides(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const HELP = helpText({
  about: "Runs a single-node Kafka-protocol broker until Ctrl-C. Prints its bootstrap address.",
  usage: "deno task broker [flags]",
  flags: FLAGS,
});

/** What the task runs with: the broker's options, and how to print. */
export interface BrokerTaskOptions {
  broker: BrokerOptions;
  quiet: boolean;
  json: boolean;
}

/** Reads the task's options from flags and environment, reporting every problem at once. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
): BrokerTaskOptions {
  const p = readFlags(FLAGS, args, env);
  const v = p.values;
  if (!v.memory && p.given("max-memory")) {
    p.problem("Cannot use --max-memory without --memory: it caps an in-memory broker");
  }
  if (v.memory && p.from("data-dir") === "--data-dir") {
    p.problem("Cannot use --memory with --data-dir: choose one");
  }
  if (p.given("listener") && (p.given("host") || p.given("port"))) {
    p.problem("Cannot use --listener with --host or --port: the listeners say where to listen");
  }
  if (v.consumerHeartbeatInterval >= v.consumerSessionTimeout) {
    p.problem(
      `--consumer-heartbeat-interval (${v.consumerHeartbeatInterval} ms) must be below ` +
        `--consumer-session-timeout (${v.consumerSessionTimeout} ms), as Kafka requires`,
    );
  }
  if (p.given("tls-cert") !== p.given("tls-key")) {
    p.problem("Cannot use --tls-cert or --tls-key alone: give both");
  }
  p.done();
  return {
    broker: {
      port: v.port,
      host: v.host,
      dataDir: v.memory ? undefined : v.dataDir,
      partitions: v.partitions,
      autoCreate: v.autoCreate,
      fsync: v.fsync,
      maxFrameBytes: v.maxFrameBytes,
      maxRequestMemory: v.maxRequestMemory,
      maxConnections: v.maxConnections,
      maxConnectionsPerIp: v.maxConnectionsPerIp < 0 ? undefined : v.maxConnectionsPerIp,
      maxConnectionsPerIpOverrides: parseConnectionOverrides(v.maxConnectionsPerIpOverrides ?? ""),
      idleTimeoutMs: v.idleTimeout,
      consumerSessionTimeoutMs: v.consumerSessionTimeout,
      consumerHeartbeatIntervalMs: v.consumerHeartbeatInterval,
      retentionMs: v.retention,
      retentionBytes: v.retentionBytes,
      segmentBytes: v.segmentBytes,
      maxMemoryBytes: v.maxMemory,
      onCorruption: v.onCorruption,
      listeners: v.listener.length ? commaList(v.listener).map(parseListener) : undefined,
      tlsCertFile: v.tlsCert,
      tlsKeyFile: v.tlsKey,
      saslUsersFile: v.saslUsers,
      saslMechanisms: v.saslMechanisms.length ? commaList(v.saslMechanisms) : undefined,
      reauthMs: v.reauthMs,
      iamPrincipalsFile: v.iamPrincipals,
      iamRegion: v.iamRegion,
      iamClusterArn: v.iamClusterArn,
    },
    quiet: v.quiet,
    json: v.json,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env);
    const log = (line: string) => console.error(`${new Date().toISOString()} broker: ${line}`);
    const broker = { ...opts.broker, logger: opts.quiet ? undefined : log, warn: log };
    const result = await runBroker(broker, {
      signal,
      onListening: (b) => {
        console.log(
          opts.json
            ? JSON.stringify({
              bootstrap: b.bootstrap,
              host: b.host,
              port: b.port,
              dataDir: broker.dataDir ?? null,
              listeners: b.listeners,
              tls: b.tls ?? null,
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
