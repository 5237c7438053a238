/**
 * Shared test fixtures: environment-dependent tests (kcat, MariaDB, Chromium, python3, and
 * the engines tests/setup.ts provisions: Apache Kafka, PySpark, Airflow, cfn-lint, moto)
 * that skip loudly where the tool is missing and fail instead under PINPIPE_STRICT=1
 * (CI sets it), temp directories, and a private MariaDB database per test.
 * @module
 */
import { join } from "node:path";
import { createConnection } from "../lib/deps/mysql2.ts";
import { S3Client } from "../lib/deps/aws_s3.ts";
import { S3rver } from "./deps/s3rver.ts";
import { run, type RunResult } from "../bench/_process.ts";
import { type Broker, type BrokerOptions, startBroker } from "../lib/broker/broker.ts";
import {
  connect4Classpath,
  connectFileClasspath,
  franzGoBin,
  javaClientClasspath,
  kafka4Classpath,
  kafkaClasspath,
  kafkaStreamsClasspath,
  mskIamAuthClasspath,
  mskIamPython,
  nodeClientsPath,
  SYSTEM_PYTHON,
  venvBin,
} from "./_engines.ts";
import { awsVenvBin, checkovPython } from "./_aws_engines.ts";

/** CI sets PINPIPE_STRICT=1: a test whose environment is missing then fails, not skips. */
export const STRICT = Deno.env.get("PINPIPE_STRICT") === "1";

/** The repository root (tests run from anywhere). */
export const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Something a test needs from the machine. `kafka` (Apache Kafka 3.9), `kafka-4` (Apache
 * Kafka 4.x, the KIP-848 oracle) and `engines` (the venv
 * with PySpark, Airflow, cfn-lint and moto) come from tests/setup.ts's engine cache, as do
 * the client matrix's `java-clients`, `node-clients` and `franz-go`, and `msk-iam-python`
 * (aws-msk-iam-sasl-signer-python over Debian's confluent-kafka); `confluent-python` and
 * `kafka-python` are Debian packages for /usr/bin/python3.
 */
export type Need =
  | "kcat"
  | "mysql"
  | "chromium"
  | "python3"
  | "kafka"
  | "kafka-4"
  | "engines"
  | "aws-engines"
  | "java-clients"
  | "node-clients"
  | "franz-go"
  | "kafka-streams"
  | "connect-file"
  | "connect-4"
  | "confluent-python"
  | "kafka-python"
  | "curl"
  | "tmux"
  | "msk-iam-auth"
  | "msk-iam-python";

export { SYSTEM_PYTHON };

/** Base URL of the MariaDB/MySQL server tests may use (they create and drop their own database). */
export const TEST_MYSQL_URL = Deno.env.get("PINPIPE_TEST_MYSQL_URL") ??
  "mysql://root@127.0.0.1:3306";

/** Where Debian's chromium lives, or PINPIPE_CHROMIUM. */
export const CHROMIUM = Deno.env.get("PINPIPE_CHROMIUM") ?? "/usr/bin/chromium";

/** True when `cmd` can be started (`cmd args…` exits at all). */
export async function hasCommand(cmd: string, args = ["--version"]): Promise<boolean> {
  const { code } = await run(cmd, args);
  return code === 0 || code === 1;
}

async function mysqlReachable(): Promise<boolean> {
  try {
    const conn = await createConnection({ uri: TEST_MYSQL_URL, connectTimeout: 2000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

const checks: Record<Need, () => Promise<boolean>> = {
  kcat: () => hasCommand("kcat", ["-V"]),
  curl: () => hasCommand("curl"),
  tmux: () => hasCommand("tmux", ["-V"]),
  mysql: mysqlReachable,
  chromium: async () => {
    try {
      return (await Deno.stat(CHROMIUM)).isFile;
    } catch {
      return false;
    }
  },
  python3: () => hasCommand("python3"),
  kafka: async () =>
    (await kafkaClasspath()) !== undefined && await hasCommand("java", ["-version"]),
  "kafka-4": async () =>
    (await kafka4Classpath()) !== undefined && await hasCommand("java", ["-version"]),
  engines: async () => (await venvBin()) !== undefined,
  "aws-engines": async () =>
    (await awsVenvBin()) !== undefined && (await checkovPython()) !== undefined,
  "java-clients": async () =>
    (await javaClientClasspath("3")) !== undefined && await hasCommand("java", ["-version"]),
  "node-clients": async () => (await nodeClientsPath()) !== undefined && await hasCommand("node"),
  "msk-iam-auth": async () =>
    (await mskIamAuthClasspath()) !== undefined && await hasCommand("java", ["-version"]),
  "msk-iam-python": async () => {
    const python = await mskIamPython();
    return python !== undefined &&
      (await run(python, ["-c", "import confluent_kafka, aws_msk_iam_sasl_signer"])).code === 0;
  },
  "franz-go": async () => (await franzGoBin()) !== undefined,
  "kafka-streams": async () =>
    (await kafkaStreamsClasspath()) !== undefined && await hasCommand("java", ["-version"]),
  "connect-file": async () =>
    (await connectFileClasspath()) !== undefined && await hasCommand("java", ["-version"]),
  "connect-4": async () =>
    (await connect4Classpath()) !== undefined && await hasCommand("java", ["-version"]),
  "confluent-python": () => pythonImports("confluent_kafka"),
  "kafka-python": () => pythonImports("kafka, snappy, lz4, zstandard"),
};

/** Whether SYSTEM_PYTHON can import `modules`. */
async function pythonImports(modules: string): Promise<boolean> {
  return (await run(SYSTEM_PYTHON, ["-c", `import ${modules}`])).code === 0;
}
const cache = new Map<Need, Promise<boolean>>();

/** Whether the machine has `need` (checked once per test process). */
export function available(need: Need): Promise<boolean> {
  if (!cache.has(need)) cache.set(need, checks[need]());
  return cache.get(need)!;
}

/** A Deno.test definition minus the function. */
type TestOpts = Omit<Deno.TestDefinition, "fn" | "name">;

/**
 * Registers a test that needs `needs` from the machine. Where one is missing it is
 * skipped with a loud warning, or fails under PINPIPE_STRICT=1.
 */
export async function envTest(
  name: string,
  needs: Need[],
  fn: (t: Deno.TestContext) => void | Promise<void>,
  opts: TestOpts = {},
): Promise<void> {
  const missing: Need[] = [];
  for (const n of needs) if (!(await available(n))) missing.push(n);
  if (missing.length === 0) {
    Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false, ...opts });
    return;
  }
  const why = `needs ${missing.join(", ")}, which this machine does not have`;
  if (STRICT) {
    Deno.test({
      name,
      fn: () => {
        throw new Error(`Cannot run "${name}": it ${why} (PINPIPE_STRICT=1 forbids skipping)`);
      },
    });
  } else {
    console.warn(`\n*** SKIPPED "${name}": it ${why}. Set PINPIPE_STRICT=1 to fail instead. ***\n`);
    Deno.test({ name, ignore: true, fn: () => {} });
  }
}

/** Runs `fn` with a fresh temp directory, removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "pinpipe-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs `fn` with the URL of a uniquely named, empty MariaDB database, dropped afterwards,
 * so no test depends on (or changes) the server's other databases.
 */
export async function withMysqlDatabase<T>(
  fn: (url: string, db: string) => Promise<T>,
): Promise<T> {
  const db = `pinpipe_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = await createConnection({ uri: TEST_MYSQL_URL });
  try {
    await admin.query(`CREATE DATABASE \`${db}\``);
    try {
      return await fn(`${TEST_MYSQL_URL.replace(/\/+$/, "")}/${db}`, db);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    }
  } finally {
    await admin.end();
  }
}

/** Runs a command to its end (the one process helper, bench/_process.ts). */
export { run, type RunResult };

/** Waits until `cond()` is true, polling every `everyMs`, or throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts an embedded broker for a test: ephemeral port, in memory unless `dataDir` is
 * given. Its log lines go to stderr when PINPIPE_BROKER_LOG=1. Close it when done (or use
 * `withBroker`). kafkajs clients leave timers behind: tests using them need
 * `sanitizeOps: false, sanitizeResources: false`.
 */
export function startTestBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const log = Deno.env.get("PINPIPE_BROKER_LOG") === "1"
    ? (line: string) => console.error(`[broker] ${line}`)
    : undefined;
  return startBroker({ port: 0, logger: log, ...opts });
}

/** Runs `fn` with a fresh embedded broker (see startTestBroker), closed afterwards. */
export async function withBroker<T>(
  fn: (broker: Broker) => Promise<T>,
  opts: BrokerOptions = {},
): Promise<T> {
  const broker = await startTestBroker(opts);
  try {
    return await fn(broker);
  } finally {
    await broker.close();
  }
}

/**
 * A raw TCP connection to a Kafka broker, for protocol tests: write any bytes, read whole
 * size-prefixed response frames.
 */
export class RawKafkaConn {
  private buf = new Uint8Array(0);
  private pending: Promise<Uint8Array | null> | undefined;
  private constructor(readonly conn: Deno.TcpConn) {}

  /** Connects to `host:port`. */
  static async open(bootstrap: string): Promise<RawKafkaConn> {
    const i = bootstrap.lastIndexOf(":");
    const conn = await Deno.connect({
      hostname: bootstrap.slice(0, i),
      port: Number(bootstrap.slice(i + 1)),
    });
    return new RawKafkaConn(conn);
  }

  /** Writes all of `bytes`. */
  async send(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) done += await this.conn.write(bytes.subarray(done));
  }

  /**
   * The next response frame without its size prefix (correlation id first), or null when
   * the broker closed the connection. Throws after `timeoutMs` without a whole frame.
   */
  async readFrame(timeoutMs = 10_000): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.byteLength >= 4) {
        const size = new DataView(this.buf.buffer, this.buf.byteOffset).getInt32(0);
        if (this.buf.byteLength >= 4 + size) {
          const frame = this.buf.slice(4, 4 + size);
          this.buf = this.buf.slice(4 + size);
          return frame;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for a response frame`);
      }
      // A read outlives a timed-out wait and is picked up by the next call.
      this.pending ??= (async () => {
        const chunk = new Uint8Array(64 * 1024);
        const n = await this.conn.read(chunk).catch(() => null);
        return n === null ? null : chunk.subarray(0, n);
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        this.pending,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (got === "timeout") continue;
      this.pending = undefined;
      if (got === null) return null;
      const next = new Uint8Array(this.buf.byteLength + got.byteLength);
      next.set(this.buf);
      next.set(got, this.buf.byteLength);
      this.buf = next;
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A running s3rver and a client for it. */
export interface TestS3 {
  client: S3Client;
  /** `http://127.0.0.1:PORT`, for `--s3-endpoint`. */
  endpoint: string;
}

/**
 * Runs `fn` against s3rver (a local S3 server) on an ephemeral port, storing in a temp
 * directory, with `buckets` created; the server and its data are gone afterwards.
 */
export async function withS3rver<T>(buckets: string[], fn: (s3: TestS3) => Promise<T>): Promise<T> {
  return await withTempDir(async (dir) => {
    const srv = new S3rver({
      port: 0,
      address: "127.0.0.1",
      directory: dir,
      silent: true,
      configureBuckets: buckets.map((name) => ({ name })),
    });
    const { port } = await srv.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new S3Client({
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    try {
      return await fn({ client, endpoint });
    } finally {
      client.destroy();
      await srv.close();
    }
  }, "pinpipe-s3-");
}

/** The repository served read-only over HTTP on 127.0.0.1 (see `serveRepo`). */
export interface ServedRepo {
  /** `http://127.0.0.1:<port>/<id>`: the repository's root. */
  base: string;
  /** The paths asked for so far, in order. */
  requested: string[];
  close(): Promise<void>;
}

/**
 * Serves the repository read-only over HTTP on an ephemeral loopback port, as a task or
 * module is served when it runs from a URL. The root is a path of its own per call, so Deno's
 * cache of remote modules never hands back a file an earlier call served on the same port.
 */
export function serveRepo(): ServedRepo {
  const ac = new AbortController();
  const requested: string[] = [];
  const root = `/${crypto.randomUUID()}`;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const full = decodeURIComponent(new URL(req.url).pathname);
      if (!full.startsWith(`${root}/`)) return new Response("not found", { status: 404 });
      const path = full.slice(root.length);
      requested.push(path);
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      try {
        const body = await Deno.readFile(join(ROOT, path));
        const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}${root}`,
    requested,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}
