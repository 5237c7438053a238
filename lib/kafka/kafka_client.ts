/**
 * One way to build a kafkajs client for every task that talks to Kafka (emulate, topics,
 * sink, rest-proxy): the same flags, the same auth modes (none, SCRAM-SHA-512, MSK IAM
 * through OAUTHBEARER tokens), TLS, and kafkajs's logging sent to stderr with secrets masked.
 *
 * Folder `lib/kafka/`: the Kafka client side the stages share: building kafkajs clients
 * (kafka_client.ts), the pipeline's topics and their creation (topics.ts), and the faster varint
 * codec producers install (kafkajs_varints.ts). May import: `lib/shell/`, `lib/deps/`.
 * @module
 */
import { Kafka, logLevel } from "../deps/kafkajs.ts";
import type { KafkaConfig, SASLOptions } from "../deps/kafkajs.ts";
import {
  type FlagDef,
  type FlagTable,
  type FlagValues,
  type ParsedFlags,
  REGION_FLAG,
} from "../shell/flags.ts";
import { importLazily } from "../shell/lazy.ts";
import { logLine } from "../shell/log.ts";
import { registerSecret } from "../shell/redact.ts";

/** How a client authenticates. */
export type KafkaAuth = "none" | "scram-sha-512" | "aws-iam";
/** The auth modes, for `--auth`. */
export const KAFKA_AUTHS: readonly KafkaAuth[] = ["none", "scram-sha-512", "aws-iam"];

/** Everything needed to reach a Kafka cluster. */
export interface KafkaClientOptions {
  /** `host:port[,host:port…]` */
  bootstrap: string;
  /** Where `bootstrap` came from, for messages: `--bootstrap`, `PINPIPE_BOOTSTRAP`, … */
  bootstrapFrom?: string;
  clientId?: string;
  auth?: KafkaAuth;
  /** TLS to the brokers (always on with aws-iam). */
  tls?: boolean;
  /** SCRAM user and password (the password from the environment, never a flag). */
  username?: string;
  password?: string;
  /** AWS region for aws-iam tokens. */
  region?: string;
  /**
   * aws-iam: sign with these credentials instead of the default AWS chain (the demo's clients
   * of its own broker, each as one of the stacks' roles).
   */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** PEM of a CA to trust besides the system's (the embedded broker's local CA, in process). */
  ca?: string;
  /** kafkajs log level: nothing (default), error, warn, info, debug. */
  log?: "nothing" | "error" | "warn" | "info" | "debug";
  /**
   * How long connecting to Kafka may take (`--connect-timeout`): the first TCP check (default
   * FIRST_CONNECT_MS), the first answers (default FIRST_ANSWER_MS) and kafkajs'
   * connectionTimeout (default 5 s).
   */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** What lengthens a connection's wait, for the errors that say it ran out. */
export const CONNECT_TIMEOUT_HINT = "--connect-timeout or PINPIPE_CONNECT_TIMEOUT gives it longer";

/** How long the first connection to Kafka may take before a task gives up: 4 s. */
export const FIRST_CONNECT_MS = 4000;

/**
 * How long a client may wait, after its TCP connection, for Kafka to answer its first
 * requests (API versions, SASL, metadata): 20 s, unless a connect timeout is given.
 */
export const FIRST_ANSWER_MS = 20_000;

/** Why `bootstrap` is not a list of brokers, or undefined. */
function bootstrapProblem(bootstrap: string): string | undefined {
  return bootstrap.split(",").every((b) => /^[^:\s]+:\d{1,5}$/.test(b.trim()))
    ? undefined
    : "expected host:port[,host:port…]";
}

/** `--bootstrap`: the Kafka brokers, in every task that talks to Kafka (and the connector). */
export const BOOTSTRAP_FLAG = {
  type: "string",
  arg: "HOST:PORT,…",
  help: "Kafka bootstrap servers (on AWS the SASL/IAM brokers saved by deploy)",
  env: "PINPIPE_BOOTSTRAP",
  config: "bootstrapBrokers",
  check: bootstrapProblem,
} as const satisfies FlagDef;

/** The flags of a task's kafkajs client, for `readFlags`; read back with `kafkaClientOptions`. */
export const KAFKA_CLIENT_FLAGS = {
  bootstrap: { ...BOOTSTRAP_FLAG, section: "Kafka (as in every task that talks to Kafka)" },
  auth: {
    type: "choice",
    arg: "MODE",
    choices: KAFKA_AUTHS,
    help: "none | scram-sha-512 | aws-iam. scram reads PINPIPE_KAFKA_USER and " +
      "PINPIPE_KAFKA_PASSWORD (secrets: never a flag); aws-iam signs with the default AWS " +
      "credentials in --region",
    env: "PINPIPE_KAFKA_AUTH",
    default: "none",
  },
  tls: {
    type: "boolean",
    help: "TLS to the brokers (implied by aws-iam)",
    env: "PINPIPE_KAFKA_TLS",
  },
  "kafka-log": {
    type: "choice",
    arg: "LEVEL",
    choices: ["nothing", "error", "warn", "info", "debug"],
    help: "kafkajs logging on stderr: nothing | error | warn | info | debug",
    env: "PINPIPE_KAFKA_LOG",
    default: "nothing",
  },
  "connect-timeout": {
    type: "duration",
    help: "how long connecting to Kafka may take: the TCP connection, then Kafka's first answers",
    idea: "how long the first connection may take (to Kafka, MySQL or a REST proxy)",
    env: "PINPIPE_CONNECT_TIMEOUT",
    defaultText: `${FIRST_CONNECT_MS / 1000}s, then ${FIRST_ANSWER_MS / 1000}s`,
    min: 100,
  },
  region: { ...REGION_FLAG, help: "the AWS region of --auth aws-iam" },
} as const satisfies FlagTable;

/**
 * The client options from flags read with KAFKA_CLIENT_FLAGS in the table, recording the
 * problems (no brokers when `required`; SCRAM without its user and password) on `p`.
 */
export function kafkaClientOptions(
  p: ParsedFlags<FlagTable>,
  opts: { required?: boolean; clientId?: string } = {},
): KafkaClientOptions {
  const v = p.values as unknown as FlagValues<typeof KAFKA_CLIENT_FLAGS>;
  const bootstrap = v.bootstrap ?? "";
  if (opts.required !== false && !p.given("bootstrap")) {
    p.problem("Missing --bootstrap (or PINPIPE_BOOTSTRAP): where is Kafka?");
  }
  const k: KafkaClientOptions = {
    bootstrap,
    bootstrapFrom: p.from("bootstrap") ?? "--bootstrap",
    clientId: opts.clientId,
    auth: v.auth,
    tls: v.tls || v.auth === "aws-iam",
    log: v.kafkaLog,
    connectionTimeoutMs: v.connectTimeout,
  };
  if (v.auth === "scram-sha-512") {
    k.username = p.env.PINPIPE_KAFKA_USER;
    k.password = p.env.PINPIPE_KAFKA_PASSWORD;
    if (!k.username || !k.password) {
      p.problem("--auth scram-sha-512 needs PINPIPE_KAFKA_USER and PINPIPE_KAFKA_PASSWORD set");
    }
  }
  if (v.auth === "aws-iam") k.region = v.region;
  return k;
}

const LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/** A kafkajs client for `opts`. */
export function createKafka(opts: KafkaClientOptions): Kafka {
  registerSecret(opts.password);
  registerSecret(opts.awsCredentials?.secretAccessKey);
  registerSecret(opts.awsCredentials?.sessionToken);
  let sasl: SASLOptions | undefined;
  if (opts.auth === "scram-sha-512") {
    sasl = { mechanism: "scram-sha-512", username: opts.username!, password: opts.password! };
  } else if (opts.auth === "aws-iam") {
    const region = opts.region!;
    const credentials = opts.awsCredentials;
    sasl = {
      mechanism: "oauthbearer",
      // A fresh token on every (re)authentication: they expire after at most 15 minutes.
      oauthBearerProvider: async () => {
        const signer = await importLazily<typeof import("../deps/msk_iam.ts")>(
          new URL("../deps/msk_iam.ts", import.meta.url),
        );
        const { token } = credentials
          ? await signer.generateAuthTokenFromCredentialsProvider({
            region,
            awsCredentialsProvider: () => Promise.resolve(credentials),
          })
          : await signer.generateAuthToken({ region });
        return { value: token };
      },
    };
  }
  const level = LEVELS[opts.log ?? "nothing"];
  const config: KafkaConfig = {
    clientId: opts.clientId ?? "pinpipe",
    brokers: opts.bootstrap.split(",").map((b) => b.trim()).filter(Boolean),
    ssl: opts.tls || opts.auth === "aws-iam" ? (opts.ca ? { ca: [opts.ca] } : true) : undefined,
    sasl,
    connectionTimeout: opts.connectionTimeoutMs ?? 5000,
    requestTimeout: opts.requestTimeoutMs ?? 30000,
    logLevel: level,
    logCreator: () => ({ namespace, level: l, log }) => {
      if (l > level) return;
      const { message, ...extra } = log as { message?: string };
      const detail = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : "";
      logLine(`kafkajs ${namespace}: ${message ?? ""}${detail}`);
    },
  };
  return new Kafka(config);
}

/**
 * Runs `connecting` (a kafkajs client's `connect()`) with a deadline, so a server that
 * accepts TCP connections but never answers as Kafka would (a TLS listener reached without
 * `--tls`, another service on that port) is an error naming it instead of minutes of kafkajs
 * retries. `what` names the client: `the REST proxy's producer`.
 */
export async function kafkaAnswered<T>(
  connecting: Promise<T>,
  what: string,
  opts: Pick<KafkaClientOptions, "bootstrap" | "bootstrapFrom" | "connectionTimeoutMs" | "tls">,
): Promise<T> {
  const ms = opts.connectionTimeoutMs ?? FIRST_ANSWER_MS;
  // kafkajs goes on retrying after the deadline; its failure then is no longer anyone's.
  connecting.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() =>
      reject(
        new Error(
          `Cannot connect to Kafka at "${opts.bootstrap}" (${
            opts.bootstrapFrom ?? "--bootstrap"
          }): it took the connection but did not answer ${what} within ${ms / 1000} s (${
            opts.tls ? "" : "is it a TLS listener? then add --tls; "
          }${CONNECT_TIMEOUT_HINT})`,
        ),
      ), ms);
  });
  try {
    return await Promise.race([connecting, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks, before anything else talks to Kafka, that at least one bootstrap server accepts a
 * TCP connection within `timeoutMs` (default the options' connectionTimeoutMs, else
 * FIRST_CONNECT_MS; all tried at once). Otherwise throws one error naming the servers, where
 * the address came from (`--bootstrap`) and what each one did, instead of kafkajs's half
 * minute of retries ending in a bare `ECONNREFUSED`.
 */
export async function checkKafkaReachable(
  opts: Pick<KafkaClientOptions, "bootstrap" | "bootstrapFrom" | "connectionTimeoutMs" | "tls">,
  timeoutMs = opts.connectionTimeoutMs ?? FIRST_CONNECT_MS,
): Promise<void> {
  const servers = opts.bootstrap.split(",").map((b) => b.trim()).filter(Boolean);
  // Without TLS the first request can be sent here too: something other than Kafka on the
  // port (an HTTP proxy taking every address, a database) is told at once, not after kafkajs'
  // retries. With TLS (or where it is not known) only the TCP connection is checked.
  const probe = opts.tls === false;
  const problems = await Promise.all(servers.map((s) => tcpProblem(s, timeoutMs, probe)));
  if (problems.some((p) => p === undefined)) return;
  const what = servers.length === 1
    ? problems[0]
    : servers.map((s, i) => `${s}: ${problems[i]}`).join("; ");
  throw new Error(
    `Cannot connect to Kafka at "${opts.bootstrap}" (${
      opts.bootstrapFrom ?? "--bootstrap"
    }): ${what}`,
  );
}

/**
 * How long the probe waits for the answer to its ApiVersions request. Kafka answers it at
 * once, before any authentication; a server that says nothing in this time is left to the
 * clients' own, longer wait (FIRST_ANSWER_MS), which names --tls and --connect-timeout.
 */
const PROBE_ANSWER_MS = 2000;

/** The correlation id of the probe's request. */
const PROBE_ID = 0x70706970;

/** An ApiVersions v0 request (every Kafka since 0.10 answers it), correlation id PROBE_ID. */
const API_VERSIONS_V0 = (() => {
  const clientId = new TextEncoder().encode("pinpipe-probe");
  const bytes = new Uint8Array(4 + 10 + clientId.length);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, bytes.length - 4); // size
  view.setInt16(4, 18); // ApiVersions
  view.setInt16(6, 0); // version 0
  view.setUint32(8, PROBE_ID);
  view.setInt16(12, clientId.length);
  bytes.set(clientId, 14);
  return bytes;
})();

/**
 * Sends ApiVersions on `conn` and reads the answer's size and correlation id: undefined when
 * they are Kafka's (or nothing came in time), else what the server did instead.
 */
async function notKafka(conn: Deno.Conn): Promise<string | undefined> {
  const got = new Uint8Array(8);
  let n = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, PROBE_ANSWER_MS);
  try {
    await conn.write(API_VERSIONS_V0);
    while (n < got.length) {
      const r = await conn.read(got.subarray(n));
      if (r === null) break;
      n += r;
    }
  } catch (err) {
    if (timedOut && n === 0) return undefined;
    if (n === 0) {
      return `it took the connection, then dropped it without answering as Kafka (${
        (err as Error).message
      })`;
    }
  } finally {
    clearTimeout(timer);
  }
  if (timedOut && n === 0) return undefined;
  if (new TextDecoder().decode(got.subarray(0, 4)) === "HTTP") {
    return "an HTTP server answered, not Kafka (a proxy, or a REST proxy's port?)";
  }
  if (n >= 2 && got[0] === 0x15 && got[1] === 0x03) {
    return "a TLS server answered, not plain Kafka (add --tls)";
  }
  if (n < got.length) {
    return "it took the connection, then closed it without answering as Kafka (another " +
      "service on that port?)";
  }
  return new DataView(got.buffer).getUint32(4) === PROBE_ID
    ? undefined
    : "what answered is not Kafka (another service on that port?)";
}

/**
 * Why `hostPort` does not accept a TCP connection (or, with `probe`, does not answer Kafka's
 * first request as Kafka would), or undefined when it does.
 */
async function tcpProblem(
  hostPort: string,
  timeoutMs: number,
  probe = false,
): Promise<string | undefined> {
  const cut = hostPort.lastIndexOf(":");
  const hostname = hostPort.slice(0, cut).replace(/^\[|\]$/g, "");
  const port = Number(hostPort.slice(cut + 1));
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({ hostname, port, signal });
    try {
      return probe ? await notKafka(conn) : undefined;
    } finally {
      try {
        conn.close();
      } catch {
        // Closed already, by the probe's deadline.
      }
    }
  } catch (err) {
    if (signal.aborted) {
      return `no answer within ${timeoutMs / 1000} s (${CONNECT_TIMEOUT_HINT})`;
    }
    if (err instanceof Deno.errors.ConnectionRefused) return "the connection was refused";
    if (err instanceof Deno.errors.NotFound || /resolve|lookup|dns/i.test(String(err))) {
      return `the host name "${hostname}" does not resolve`;
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw err;
    }
    return (err as Error).message ?? String(err);
  }
}
