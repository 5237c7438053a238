/**
 * Where the engines `tests/setup.ts` provisions live (the git-ignored engine cache,
 * `.pinpipe/engines` or `PINPIPE_ENGINES_DIR`), and Apache Kafka run from there: `startKafka()`
 * runs a KRaft single-node Apache Kafka on free loopback ports in a temp dir, for a test or a
 * benchmark, and stops it by its PID; `kafkaTool()` runs one of its CLI tools. Benchmarks and
 * tests both use it (bench/ imports nothing from tests/); provisioning is tests/_engines.ts.
 * @module
 */
import { join } from "node:path";
import { run, type Running, start } from "./_process.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const INPUTS = join(ROOT, "tests", "engines");

/** Where provisioned engines live (git-ignored under `.pinpipe/`). */
export const ENGINES_DIR = Deno.env.get("PINPIPE_ENGINES_DIR") ??
  join(ROOT, ".pinpipe", "engines");

/** The Apache Kafka version the tests and benchmarks run (from tests/engines/kafka.pom.xml). */
export const KAFKA_VERSION = /<kafka\.version>([^<]+)</.exec(
  Deno.readTextFileSync(join(INPUTS, "kafka.pom.xml")),
)![1];

/**
 * The Apache Kafka 4.x the tests run beside it (from tests/engines/kafka-4.pom.xml): the
 * oracle for what 3.9 lacks or serves only as a preview (KIP-848 as GA, regex subscriptions).
 */
export const KAFKA4_VERSION = /<kafka\.version>([^<]+)</.exec(
  Deno.readTextFileSync(join(INPUTS, "kafka-4.pom.xml")),
)![1];

/** SHA-256 of `texts` joined, in hex: the stamp of an engine's pinned inputs. */
export async function sha256(...texts: string[]): Promise<string> {
  const data = new TextEncoder().encode(texts.join("\0"));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The text of `path`, or `fallback` when it cannot be read. */
export function readOr(path: string, fallback = ""): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

/** The last `n` lines of `text`, for an error message. */
export function lastLines(text: string, n = 15): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

/** Where Apache Kafka is provisioned. */
export const kafkaDir = () => join(ENGINES_DIR, "kafka");
/** Where Apache Kafka 4.x is provisioned. */
export const kafka4Dir = () => join(ENGINES_DIR, "kafka-4");
/** Where the Python venv is provisioned. */
export const venvDir = () => join(ENGINES_DIR, "venv");

/** The stamp of Kafka's pinned inputs. */
export async function kafkaStamp(): Promise<string> {
  return await sha256(readOr(join(INPUTS, "kafka.pom.xml")));
}

/** The stamp of Kafka 4.x's pinned inputs. */
export async function kafka4Stamp(): Promise<string> {
  return await sha256(readOr(join(INPUTS, "kafka-4.pom.xml")));
}

/** The stamp of the venv's pinned inputs. */
export async function pythonStamp(): Promise<string> {
  return await sha256(
    readOr(join(INPUTS, "requirements.txt")),
    readOr(join(INPUTS, "constraints.txt")),
  );
}

/** The classpath glob of the provisioned Kafka jars, or undefined when not provisioned. */
export async function kafkaClasspath(): Promise<string | undefined> {
  const stamp = readOr(join(kafkaDir(), ".stamp")).trim();
  return stamp === await kafkaStamp() ? join(kafkaDir(), "libs", "*") : undefined;
}

/** The classpath glob of the provisioned Kafka 4.x jars, or undefined when not provisioned. */
export async function kafka4Classpath(): Promise<string | undefined> {
  const stamp = readOr(join(kafka4Dir(), ".stamp")).trim();
  return stamp === await kafka4Stamp() ? join(kafka4Dir(), "libs", "*") : undefined;
}

/** The `bin/` directory of the provisioned venv, or undefined when not provisioned. */
export async function venvBin(): Promise<string | undefined> {
  const stamp = readOr(join(venvDir(), ".stamp")).trim();
  return stamp === await pythonStamp() ? join(venvDir(), "bin") : undefined;
}

// ---------------------------------------------------------------------------------------
// Apache Kafka, KRaft single node

export const mskIamAuthDir = () => join(ENGINES_DIR, "msk-iam-auth");
export const MSK_IAM_POM = () => join(INPUTS, "aws-msk-iam-auth.pom.xml");

/** The pinned aws-msk-iam-auth version. */
export function mskIamAuthVersion(): string {
  return /<aws\.msk\.iam\.auth\.version>([^<]+)</.exec(readOr(MSK_IAM_POM()))?.[1] ?? "?";
}

/**
 * The classpath entry of aws-msk-iam-auth and its dependencies (to append to Kafka's), or
 * undefined when not provisioned.
 */
export async function mskIamAuthClasspath(): Promise<string | undefined> {
  const stamp = readOr(join(mskIamAuthDir(), ".stamp")).trim();
  if (stamp !== await sha256(readOr(MSK_IAM_POM()))) return undefined;
  return join(mskIamAuthDir(), "libs", "*");
}

/** Apache Kafka's CLI tools by script name, and the main class each script runs. */
export const KAFKA_TOOLS: Record<string, string> = {
  "kafka-topics": "org.apache.kafka.tools.TopicCommand",
  "kafka-console-producer": "kafka.tools.ConsoleProducer",
  "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
  "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
  "kafka-configs": "kafka.admin.ConfigCommand",
  "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
  "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
  "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
  "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
  "kafka-storage": "kafka.tools.StorageTool",
  "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
  "kafka-verifiable-producer": "org.apache.kafka.tools.VerifiableProducer",
  "kafka-verifiable-consumer": "org.apache.kafka.tools.VerifiableConsumer",
  // No script: Kafka's transactional system tests run the class.
  "transactional-message-copier": "org.apache.kafka.tools.TransactionalMessageCopier",
};

/** kafka-run-class.sh's JVM options for the broker (kafka-server-start.sh defaults). */
const BROKER_JVM = [
  "-Xmx1G",
  "-Xms1G",
  "-server",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-Djava.awt.headless=true",
];
/** kafka-run-class.sh's defaults for a tool: a small heap. */
const TOOL_JVM = ["-Xmx512M", "-XX:+UseG1GC", "-Djava.awt.headless=true"];

function log4jConfig(file: string | undefined, level: string): string {
  const appender = file
    ? `log4j.appender.out=org.apache.log4j.FileAppender\nlog4j.appender.out.File=${file}\n`
    : `log4j.appender.out=org.apache.log4j.ConsoleAppender\nlog4j.appender.out.Target=System.err\n`;
  return `log4j.rootLogger=${level}, out\n${appender}` +
    "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n" +
    "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n";
}

/** Which Apache Kafka: 3 (the tests' KAFKA_VERSION) or 4 (KAFKA4_VERSION). */
export type KafkaMajor = 3 | 4;

async function requireKafka(major: KafkaMajor = 3): Promise<string> {
  const cp = major === 4 ? await kafka4Classpath() : await kafkaClasspath();
  if (!cp) {
    throw new Error(
      `Cannot run Apache Kafka ${
        major === 4 ? KAFKA4_VERSION : KAFKA_VERSION
      }: it is not provisioned in ${ENGINES_DIR} (run deno run -A tests/setup.ts)`,
    );
  }
  return cp;
}

/** log4j 2's configuration (Kafka 4) in properties form: to `file`, or to stderr. */
function log4j2Config(file: string | undefined, level: string): string {
  const appender = file
    ? `appender.out.type = File\nappender.out.fileName = ${file}\n`
    : "appender.out.type = Console\nappender.out.target = SYSTEM_ERR\n";
  return "status = warn\n" + appender + "appender.out.name = out\n" +
    "appender.out.layout.type = PatternLayout\n" +
    "appender.out.layout.pattern = [%d] %p %m (%c)%n\n" +
    `rootLogger.level = ${level}\nrootLogger.appenderRef.out.ref = out\n`;
}

/**
 * The JVM options pointing Kafka `major`'s logging at a config written to `dir` (log4j 1
 * for 3.x, log4j 2 for 4.x): to `file`, or to stderr when none.
 */
async function logOptions(
  major: KafkaMajor,
  dir: string,
  file: string | undefined,
  level: string,
): Promise<string[]> {
  if (major === 4) {
    const config = join(dir, file ? "log4j2.properties" : "tools-log4j2.properties");
    if (file || !readOr(config)) await Deno.writeTextFile(config, log4j2Config(file, level));
    return [`-Dlog4j2.configurationFile=${config}`];
  }
  const config = join(dir, file ? "log4j.properties" : "tools-log4j.properties");
  if (file || !readOr(config)) await Deno.writeTextFile(config, log4jConfig(file, level));
  return [`-Dlog4j.configuration=file:${config}`];
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A Kafka cluster id: 16 random bytes in URL-safe base64 without padding, as Uuid prints. */
function clusterId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    // One in 64 starts with "-", which kafka-storage's argument parser takes for an option
    // ("--cluster-id: expected one argument"); Kafka's own Uuid.randomUuid() skips those too.
    if (!id.startsWith("-")) return id;
  }
}

/** A running Apache Kafka. */
export interface KafkaServer {
  /** `127.0.0.1:PORT`. */
  bootstrap: string;
  /** `127.0.0.1:PORT` of every listener by name (PLAINTEXT and those asked for). */
  listeners: Record<string, string>;
  pid: number;
  /** Its temp dir: `server.properties`, `server.log`, `data/`. */
  dir: string;
  /** Milliseconds from starting the JVM to the broker accepting requests (format excluded). */
  startupMs: number;
  /** Resident set size now, in bytes (0 once it has ended). */
  rss(): number;
  /** The last lines of its log, for a failing test's message. */
  logTail(lines?: number): string;
  /** SIGKILLs the JVM (the data dir stays) and starts it again on the same ports and data. */
  restart(opts?: { kill?: boolean }): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL after 20 s) and removes its temp dir unless `keep`. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/** Options for startKafka. */
export interface KafkaOptions {
  /** Extra or overriding server.properties entries. */
  config?: Record<string, string | number | boolean>;
  /** Where to keep its files (default: a new temp dir, removed on stop). */
  dir?: string;
  /** Milliseconds to wait for it to start (default 60 s). */
  timeoutMs?: number;
  /**
   * More listeners beside PLAINTEXT, each on a free port (their settings, such as
   * `listener.name.<name>.…` JAAS lines, go in `config`).
   */
  listeners?: { name: string; protocol: "SSL" | "SASL_SSL" | "SASL_PLAINTEXT" }[];
  /** Which Apache Kafka (default 3: KAFKA_VERSION; 4: KAFKA4_VERSION). */
  major?: KafkaMajor;
}

/**
 * One Apache Kafka shared by a test file's cases: started with `opts` on the first call, the
 * same one after, SIGKILLed and its dir removed when the file's process unloads.
 */
export function kafkaPerFile(opts: KafkaOptions = {}): () => Promise<KafkaServer> {
  let once: Promise<KafkaServer> | undefined;
  return () =>
    once ??= startKafka(opts).then((k) => {
      globalThis.addEventListener("unload", () => {
        try {
          Deno.kill(k.pid, "SIGKILL");
        } catch { /* gone */ }
        try {
          Deno.removeSync(k.dir, { recursive: true });
        } catch { /* gone */ }
      });
      return k;
    });
}

/** The resident set size of `pid` in bytes, from /proc (0 when it is gone). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readOr(`/proc/${pid}/status`));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Starts Apache Kafka in KRaft mode (one node, broker and controller) on free loopback
 * ports, its storage formatted first, with the single-node settings a developer uses
 * (replication factors 1, no initial rebalance delay) and Kafka's defaults otherwise.
 */
export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaServer> {
  const major = opts.major ?? 3;
  const cp = await requireKafka(major);
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "pinpipe-kafka-" });
  const port = freePort();
  const controller = freePort();
  const listeners: Record<string, string> = { PLAINTEXT: `127.0.0.1:${port}` };
  for (const l of opts.listeners ?? []) listeners[l.name] = `127.0.0.1:${freePort()}`;
  const extra = (opts.listeners ?? []).map((l) => `${l.name}://${listeners[l.name]}`);
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${controller}`,
    "listeners": [`PLAINTEXT://127.0.0.1:${port}`, ...extra, `CONTROLLER://127.0.0.1:${controller}`]
      .join(","),
    "advertised.listeners": [`PLAINTEXT://127.0.0.1:${port}`, ...extra].join(","),
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": [
      "PLAINTEXT:PLAINTEXT",
      "CONTROLLER:PLAINTEXT",
      ...(opts.listeners ?? []).map((l) => `${l.name}:${l.protocol}`),
    ].join(","),
    "log.dirs": join(dir, "data"),
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "share.coordinator.state.topic.replication.factor": 1,
    "group.initial.rebalance.delay.ms": 0,
    ...opts.config,
  };
  const propsFile = join(dir, "server.properties");
  await Deno.writeTextFile(
    propsFile,
    Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n",
  );
  const logFile = join(dir, "server.log");
  const jvmLog = [...await logOptions(major, dir, logFile, "INFO"), `-Dkafka.logs.dir=${dir}`];

  const format = await run("java", [
    ...TOOL_JVM,
    ...jvmLog,
    "-cp",
    cp,
    KAFKA_TOOLS["kafka-storage"],
    "format",
    "-t",
    clusterId(),
    "-c",
    propsFile,
  ]);
  if (format.code !== 0) {
    throw new Error(
      `Cannot format Kafka's storage in ${dir}:\n${lastLines(format.stdout + format.stderr)}`,
    );
  }

  let child: Running;
  let startupMs = 0;
  const launch = async () => {
    const t0 = performance.now();
    child = start("java", [...BROKER_JVM, ...jvmLog, "-cp", cp, "kafka.Kafka", propsFile], {
      what: "Apache Kafka",
    });
    const exited = child.ended.then(() => true);
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let sizeSeen = 0;
    for (;;) {
      const text = readOr(logFile);
      // KafkaRaftServer logs this once the broker serves requests.
      if (text.indexOf("Kafka Server started", sizeSeen) >= 0) break;
      sizeSeen = Math.max(0, text.length - 100);
      const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(false), 50))]);
      if (done) {
        throw new Error(`Apache Kafka exited while starting:\n${lastLines(readOr(logFile), 30)}`);
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(
          `Apache Kafka did not start within ${opts.timeoutMs ?? 60_000} ms:\n` +
            lastLines(readOr(logFile), 30),
        );
      }
    }
    startupMs = performance.now() - t0;
  };
  await launch();

  const stopChild = async (signal: Deno.Signal, waitMs: number) => {
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), waitMs);
    await child.ended;
    clearTimeout(timer);
  };

  return {
    bootstrap: `127.0.0.1:${port}`,
    listeners,
    get pid() {
      return child.pid;
    },
    dir,
    get startupMs() {
      return startupMs;
    },
    rss: () => rssOf(child.pid),
    logTail: (lines = 30) => lastLines(readOr(logFile), lines),
    async restart({ kill = true } = {}) {
      await stopChild(kill ? "SIGKILL" : "SIGTERM", 20_000);
      // The log is appended to; only lines after the restart count for readiness.
      await Deno.writeTextFile(logFile, "");
      await launch();
    },
    async stop({ keep = false } = {}) {
      await stopChild("SIGTERM", 20_000);
      if (!keep && !opts.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Runs `fn` with a fresh Apache Kafka, stopped and removed afterwards. */
export async function withKafka<T>(
  fn: (kafka: KafkaServer) => Promise<T>,
  opts: KafkaOptions = {},
): Promise<T> {
  const kafka = await startKafka(opts);
  try {
    return await fn(kafka);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- Apache Kafka's log ---\n${kafka.logTail(20)}`;
    throw e;
  } finally {
    await kafka.stop();
  }
}

/**
 * The command line running one of Apache Kafka's CLI tools (a KAFKA_TOOLS name), for a
 * caller that keeps it running (a console consumer in a group).
 */
export async function kafkaToolCommand(
  name: string,
  args: string[],
  major: KafkaMajor = 3,
): Promise<{ cmd: string; args: string[] }> {
  const main = KAFKA_TOOLS[name];
  if (!main) throw new Error(`Unknown Kafka tool "${name}": have ${Object.keys(KAFKA_TOOLS)}`);
  const cp = await requireKafka(major);
  const log = await logOptions(major, ENGINES_DIR, undefined, "WARN");
  return { cmd: "java", args: [...TOOL_JVM, ...log, "-cp", cp, main, ...args] };
}

/** Runs one of Apache Kafka's CLI tools (a KAFKA_TOOLS name) and returns its output. */
export async function kafkaTool(
  name: string,
  args: string[],
  opts: {
    stdin?: string;
    timeoutMs?: number;
    /** Variables added to the tool's environment (AWS credentials). */
    env?: Record<string, string>;
    /** Appended to Kafka's classpath (aws-msk-iam-auth). */
    classpath?: string;
    /** Which Apache Kafka's tool (default 3: KAFKA_VERSION; 4: KAFKA4_VERSION). */
    major?: KafkaMajor;
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const main = KAFKA_TOOLS[name];
  if (!main) throw new Error(`Unknown Kafka tool "${name}": have ${Object.keys(KAFKA_TOOLS)}`);
  const major = opts.major ?? 3;
  const cp = (await requireKafka(major)) + (opts.classpath ? `:${opts.classpath}` : "");
  const log = await logOptions(major, ENGINES_DIR, undefined, "WARN");
  const child = start("java", [...TOOL_JVM, ...log, "-cp", cp, main, ...args], {
    stdin: opts.stdin,
    env: opts.env,
    what: name,
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
  const { code } = await child.ended;
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}
