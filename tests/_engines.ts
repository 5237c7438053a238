/**
 * The real engines the test suite runs pinpipe's code on: Apache Kafka (broker and CLI
 * tools, from Maven Central) and a Python venv with PySpark, Airflow with the Databricks
 * provider, cfn-lint and moto (from PyPI). `provision()` installs them once into a
 * git-ignored cache (`.pinpipe/engines`, or `PINPIPE_ENGINES_DIR`) and reuses it while the
 * pinned inputs in `tests/engines/` are unchanged; it also builds the client matrix's
 * clients (kafka-clients 3.9 and 4.x with tests/clients/java compiled against each,
 * @confluentinc/kafka-javascript from source, tests/clients/go with franz-go) the same
 * way. `tests/setup.ts` calls it before `deno test`. `startKafka()` runs a KRaft single-node Apache Kafka on free loopback ports
 * in a temp dir, for a test or a benchmark, and stops it by its PID.
 * @module
 */
import { join } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const INPUTS = join(ROOT, "tests", "engines");

/** Where provisioned engines live (git-ignored under `.pinpipe/`). */
export const ENGINES_DIR = Deno.env.get("PINPIPE_ENGINES_DIR") ??
  join(ROOT, ".pinpipe", "engines");

/** The Apache Kafka version the tests and benchmarks run (from tests/engines/kafka.pom.xml). */
export const KAFKA_VERSION = /<kafka\.version>([^<]+)</.exec(
  Deno.readTextFileSync(join(INPUTS, "kafka.pom.xml")),
)![1];

/** An engine the suite can provision. */
export type EngineName =
  | "kafka"
  | "python"
  | "java-clients"
  | "node-clients"
  | "franz-go"
  | "kafka-streams";

/** What provisioning one engine did. */
export interface EngineReport {
  engine: EngineName;
  ok: boolean;
  /** "cached" when the cache was already up to date, "installed" when this run filled it. */
  how?: "cached" | "installed";
  seconds: number;
  /** Versions installed, for the log. */
  versions?: string;
  /** Why it could not be provisioned. */
  error?: string;
}

async function sha256(...texts: string[]): Promise<string> {
  const data = new TextEncoder().encode(texts.join("\0"));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function readOr(path: string, fallback = ""): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

async function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string }> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } catch (e) {
    return { code: 127, out: `cannot start ${cmd}: ${(e as Error).message}` };
  }
}

function lastLines(text: string, n = 15): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

const kafkaDir = () => join(ENGINES_DIR, "kafka");
const venvDir = () => join(ENGINES_DIR, "venv");

async function kafkaStamp(): Promise<string> {
  return await sha256(readOr(join(INPUTS, "kafka.pom.xml")));
}

async function pythonStamp(): Promise<string> {
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

/** The `bin/` directory of the provisioned venv, or undefined when not provisioned. */
export async function venvBin(): Promise<string | undefined> {
  const stamp = readOr(join(venvDir(), ".stamp")).trim();
  return stamp === await pythonStamp() ? join(venvDir(), "bin") : undefined;
}

async function provisionKafka(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  if (await kafkaClasspath()) {
    return { ok: true, how: "cached", versions: `Kafka ${KAFKA_VERSION}` };
  }
  const java = await exec("java", ["-version"]);
  if (java.code !== 0) return { ok: false, error: `java is needed to run Kafka: ${java.out}` };
  const tmp = `${kafkaDir()}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const mvn = await exec("mvn", [
    "-q",
    "-B",
    "-f",
    join(INPUTS, "kafka.pom.xml"),
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${join(tmp, "libs")}`,
  ]);
  if (mvn.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return { ok: false, error: `mvn dependency:copy-dependencies failed:\n${lastLines(mvn.out)}` };
  }
  await Deno.writeTextFile(join(tmp, ".stamp"), await kafkaStamp());
  await Deno.remove(kafkaDir(), { recursive: true }).catch(() => {});
  await Deno.rename(tmp, kafkaDir());
  return { ok: true, how: "installed", versions: `Kafka ${KAFKA_VERSION}` };
}

/** The python3 to build the venv with: 3.11, as MWAA 2.10.3 and Databricks 15.4 run. */
async function basePython(): Promise<string | undefined> {
  for (const cmd of [Deno.env.get("PINPIPE_PYTHON"), "python3.11", "python3"]) {
    if (!cmd) continue;
    const r = await exec(cmd, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
    if (r.code === 0 && r.out.trim() === "3.11") return cmd;
  }
  return undefined;
}

function pinnedVersions(): string {
  const pins = readOr(join(INPUTS, "requirements.txt")).split("\n")
    .filter((l) => /^[A-Za-z]/.test(l))
    .map((l) => l.trim().replace(/\[.*\]/, ""));
  return pins.join(", ");
}

async function provisionPython(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  if (await venvBin()) return { ok: true, how: "cached", versions: pinnedVersions() };
  const python = await basePython();
  if (!python) return { ok: false, error: "Python 3.11 is needed (python3.11 or python3)" };
  // A venv is not relocatable, so it is built in place; the stamp, written last, marks it whole.
  await Deno.remove(venvDir(), { recursive: true }).catch(() => {});
  const venv = await exec(python, ["-m", "venv", venvDir()]);
  if (venv.code !== 0) {
    return { ok: false, error: `python -m venv failed:\n${lastLines(venv.out)}` };
  }
  const pip = await exec(join(venvDir(), "bin", "pip"), [
    "install",
    "--disable-pip-version-check",
    "-q",
    "-r",
    join(INPUTS, "requirements.txt"),
    "-c",
    join(INPUTS, "constraints.txt"),
  ]);
  if (pip.code !== 0) {
    return { ok: false, error: `pip install failed:\n${lastLines(pip.out)}` };
  }
  await Deno.writeTextFile(join(venvDir(), ".stamp"), await pythonStamp());
  return { ok: true, how: "installed", versions: pinnedVersions() };
}

// ---------------------------------------------------------------------------------------
// Independent Kafka clients for the client matrix (tests/broker_clients_*_test.ts)

const CLIENTS = join(ROOT, "tests", "clients");
const javaClientsDir = () => join(ENGINES_DIR, "java-clients");
const nodeClientsDir = () => join(ENGINES_DIR, "node-clients");
const franzGoDir = () => join(ENGINES_DIR, "franz-go");

/** The Java client majors the matrix runs, each pinned in tests/engines/kafka-clients-N.pom.xml. */
export const JAVA_CLIENT_MAJORS = ["3", "4"] as const;
/** A Java client major version. */
export type JavaClientMajor = typeof JAVA_CLIENT_MAJORS[number];

/** The exact kafka-clients version pinned for `major`. */
export function javaClientVersion(major: JavaClientMajor): string {
  const pom = readOr(join(INPUTS, `kafka-clients-${major}.pom.xml`));
  return /<kafka\.clients\.version>([^<]+)</.exec(pom)?.[1] ?? "?";
}

async function javaClientsStamp(): Promise<string> {
  return await sha256(
    ...JAVA_CLIENT_MAJORS.map((m) => readOr(join(INPUTS, `kafka-clients-${m}.pom.xml`))),
    readOr(join(CLIENTS, "java", "ClientMatrix.java")),
  );
}

/**
 * The classpath running ClientMatrix (tests/clients/java) on kafka-clients `major`, or
 * undefined when not provisioned.
 */
export async function javaClientClasspath(major: JavaClientMajor): Promise<string | undefined> {
  const stamp = readOr(join(javaClientsDir(), ".stamp")).trim();
  if (stamp !== await javaClientsStamp()) return undefined;
  const dir = join(javaClientsDir(), major);
  return `${join(dir, "classes")}:${join(dir, "libs", "*")}`;
}

function javaClientVersions(): string {
  return JAVA_CLIENT_MAJORS.map((m) => `kafka-clients ${javaClientVersion(m)}`).join(", ");
}

async function provisionJavaClients(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  if (await javaClientClasspath("3")) {
    return { ok: true, how: "cached", versions: javaClientVersions() };
  }
  const tmp = `${javaClientsDir()}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  for (const major of JAVA_CLIENT_MAJORS) {
    const dir = join(tmp, major);
    const mvn = await exec("mvn", [
      "-q",
      "-B",
      "-f",
      join(INPUTS, `kafka-clients-${major}.pom.xml`),
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${join(dir, "libs")}`,
    ]);
    if (mvn.code !== 0) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      return { ok: false, error: `mvn (kafka-clients ${major}.x) failed:\n${lastLines(mvn.out)}` };
    }
    const javac = await exec("javac", [
      "-nowarn",
      "-cp",
      join(dir, "libs", "*"),
      "-d",
      join(dir, "classes"),
      join(CLIENTS, "java", "ClientMatrix.java"),
    ]);
    if (javac.code !== 0) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      return {
        ok: false,
        error: `javac ClientMatrix.java (kafka-clients ${major}.x) failed:\n${
          lastLines(javac.out)
        }`,
      };
    }
  }
  await Deno.writeTextFile(join(tmp, ".stamp"), await javaClientsStamp());
  await Deno.remove(javaClientsDir(), { recursive: true }).catch(() => {});
  await Deno.rename(tmp, javaClientsDir());
  return { ok: true, how: "installed", versions: javaClientVersions() };
}

async function nodeClientsStamp(): Promise<string> {
  return await sha256(
    readOr(join(INPUTS, "node", "package.json")),
    readOr(join(INPUTS, "node", "package-lock.json")),
  );
}

/**
 * The directory whose node_modules holds the Node clients (@confluentinc/kafka-javascript,
 * built from source), or undefined when not provisioned.
 */
export async function nodeClientsPath(): Promise<string | undefined> {
  const stamp = readOr(join(nodeClientsDir(), ".stamp")).trim();
  return stamp === await nodeClientsStamp() ? nodeClientsDir() : undefined;
}

function nodeClientVersions(): string {
  const pkg = JSON.parse(readOr(join(INPUTS, "node", "package.json"), "{}")) as {
    dependencies?: Record<string, string>;
  };
  return Object.entries(pkg.dependencies ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
}

async function provisionNodeClients(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  if (await nodeClientsPath()) return { ok: true, how: "cached", versions: nodeClientVersions() };
  const tmp = `${nodeClientsDir()}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) {
    await Deno.copyFile(join(INPUTS, "node", f), join(tmp, f));
  }
  // Its prebuilt binary is downloaded from GitHub, which is unreachable here: build
  // librdkafka and the addon from source, linked to the system's zlib, OpenSSL, zstd, lz4.
  const npm = await exec("npm", ["ci", "--no-audit", "--no-fund", "--build-from-source"], {
    cwd: tmp,
    env: { CKJS_LINKING: "dynamic" },
  });
  if (npm.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return { ok: false, error: `npm ci (tests/engines/node) failed:\n${lastLines(npm.out)}` };
  }
  await Deno.writeTextFile(join(tmp, ".stamp"), await nodeClientsStamp());
  await Deno.remove(nodeClientsDir(), { recursive: true }).catch(() => {});
  await Deno.rename(tmp, nodeClientsDir());
  return { ok: true, how: "installed", versions: nodeClientVersions() };
}

async function franzGoStamp(): Promise<string> {
  return await sha256(
    ...["go.mod", "go.sum", "main.go"].map((f) => readOr(join(CLIENTS, "go", f))),
  );
}

/** The franz-go matrix driver (tests/clients/go, built once), or undefined when not built. */
export async function franzGoBin(): Promise<string | undefined> {
  const stamp = readOr(join(franzGoDir(), ".stamp")).trim();
  return stamp === await franzGoStamp() ? join(franzGoDir(), "franz-matrix") : undefined;
}

function franzGoVersion(): string {
  return /github\.com\/twmb\/franz-go (v\S+)/.exec(readOr(join(CLIENTS, "go", "go.mod")))?.[1] ??
    "?";
}

async function provisionFranzGo(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  const versions = `franz-go ${franzGoVersion()}`;
  if (await franzGoBin()) return { ok: true, how: "cached", versions };
  await Deno.mkdir(franzGoDir(), { recursive: true });
  // Modules from the Go module proxy, checked against go.sum, kept in the cache.
  const go = await exec(
    "go",
    ["build", "-mod=readonly", "-o", join(franzGoDir(), "franz-matrix")],
    {
      cwd: join(CLIENTS, "go"),
      env: { GOMODCACHE: join(franzGoDir(), "mod"), GOFLAGS: "-modcacherw", GOTOOLCHAIN: "local" },
    },
  );
  if (go.code !== 0) {
    return { ok: false, error: `go build (tests/clients/go) failed:\n${lastLines(go.out)}` };
  }
  await Deno.writeTextFile(join(franzGoDir(), ".stamp"), await franzGoStamp());
  return { ok: true, how: "installed", versions };
}

const kafkaStreamsDir = () => join(ENGINES_DIR, "kafka-streams");

async function kafkaStreamsStamp(): Promise<string> {
  return await sha256(
    readOr(join(INPUTS, "kafka-streams.pom.xml")),
    readOr(join(CLIENTS, "java", "EosWordCount.java")),
  );
}

/** The pinned Kafka Streams version. */
export function kafkaStreamsVersion(): string {
  const pom = readOr(join(INPUTS, "kafka-streams.pom.xml"));
  return /<kafka\.streams\.version>([^<]+)</.exec(pom)?.[1] ?? "?";
}

/**
 * The classpath running tests/clients/java/EosWordCount.java on Kafka Streams, or undefined
 * when not provisioned.
 */
export async function kafkaStreamsClasspath(): Promise<string | undefined> {
  const stamp = readOr(join(kafkaStreamsDir(), ".stamp")).trim();
  if (stamp !== await kafkaStreamsStamp()) return undefined;
  return `${join(kafkaStreamsDir(), "classes")}:${join(kafkaStreamsDir(), "libs", "*")}`;
}

async function provisionKafkaStreams(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  const versions = `kafka-streams ${kafkaStreamsVersion()}`;
  if (await kafkaStreamsClasspath()) return { ok: true, how: "cached", versions };
  const tmp = `${kafkaStreamsDir()}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const mvn = await exec("mvn", [
    "-q",
    "-B",
    "-f",
    join(INPUTS, "kafka-streams.pom.xml"),
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${join(tmp, "libs")}`,
  ]);
  if (mvn.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return { ok: false, error: `mvn (kafka-streams) failed:\n${lastLines(mvn.out)}` };
  }
  const javac = await exec("javac", [
    "-nowarn",
    "-cp",
    join(tmp, "libs", "*"),
    "-d",
    join(tmp, "classes"),
    join(CLIENTS, "java", "EosWordCount.java"),
  ]);
  if (javac.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return { ok: false, error: `javac EosWordCount.java failed:\n${lastLines(javac.out)}` };
  }
  await Deno.writeTextFile(join(tmp, ".stamp"), await kafkaStreamsStamp());
  await Deno.remove(kafkaStreamsDir(), { recursive: true }).catch(() => {});
  await Deno.rename(tmp, kafkaStreamsDir());
  return { ok: true, how: "installed", versions };
}

/**
 * Installs every engine that is missing or out of date into ENGINES_DIR (one process at a
 * time: a lock file serialises concurrent test runs) and reports what each took.
 */
export async function provision(
  log: (line: string) => void = () => {},
): Promise<EngineReport[]> {
  await Deno.mkdir(ENGINES_DIR, { recursive: true });
  const lock = await Deno.open(join(ENGINES_DIR, ".lock"), { create: true, write: true });
  await lock.lock(true);
  try {
    const reports: EngineReport[] = [];
    const steps: [EngineName, () => Promise<Omit<EngineReport, "engine" | "seconds">>][] = [
      ["kafka", provisionKafka],
      ["python", provisionPython],
      ["java-clients", provisionJavaClients],
      ["node-clients", provisionNodeClients],
      ["franz-go", provisionFranzGo],
      ["kafka-streams", provisionKafkaStreams],
    ];
    for (const [engine, step] of steps) {
      const t0 = performance.now();
      log(`engines: ${engine}: checking ${ENGINES_DIR}`);
      const r = await step();
      reports.push({ engine, seconds: (performance.now() - t0) / 1000, ...r });
    }
    return reports;
  } finally {
    await lock.unlock().catch(() => {});
    lock.close();
  }
}

// ---------------------------------------------------------------------------------------
// Apache Kafka, KRaft single node

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

async function requireKafka(): Promise<string> {
  const cp = await kafkaClasspath();
  if (!cp) {
    throw new Error(
      `Cannot run Apache Kafka: it is not provisioned in ${ENGINES_DIR} (run deno run -A tests/setup.ts)`,
    );
  }
  return cp;
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
  const cp = await requireKafka();
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "pinpipe-kafka-" });
  const port = freePort();
  const controller = freePort();
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${controller}`,
    "listeners": `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
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
  const log4j = join(dir, "log4j.properties");
  await Deno.writeTextFile(log4j, log4jConfig(logFile, "INFO"));
  const jvmLog = [`-Dlog4j.configuration=file:${log4j}`, `-Dkafka.logs.dir=${dir}`];

  const format = await exec("java", [
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
    throw new Error(`Cannot format Kafka's storage in ${dir}:\n${lastLines(format.out)}`);
  }

  let child: Deno.ChildProcess;
  let startupMs = 0;
  const launch = async () => {
    const t0 = performance.now();
    child = new Deno.Command("java", {
      args: [...BROKER_JVM, ...jvmLog, "-cp", cp, "kafka.Kafka", propsFile],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const exited = child.status.then(() => true);
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
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
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
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, waitMs);
    await child.status;
    clearTimeout(timer);
  };

  return {
    bootstrap: `127.0.0.1:${port}`,
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
): Promise<{ cmd: string; args: string[] }> {
  const main = KAFKA_TOOLS[name];
  if (!main) throw new Error(`Unknown Kafka tool "${name}": have ${Object.keys(KAFKA_TOOLS)}`);
  const cp = await requireKafka();
  const log4j = join(ENGINES_DIR, "tools-log4j.properties");
  if (!readOr(log4j)) await Deno.writeTextFile(log4j, log4jConfig(undefined, "WARN"));
  return {
    cmd: "java",
    args: [...TOOL_JVM, `-Dlog4j.configuration=file:${log4j}`, "-cp", cp, main, ...args],
  };
}

/** Runs one of Apache Kafka's CLI tools (a KAFKA_TOOLS name) and returns its output. */
export async function kafkaTool(
  name: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const main = KAFKA_TOOLS[name];
  if (!main) throw new Error(`Unknown Kafka tool "${name}": have ${Object.keys(KAFKA_TOOLS)}`);
  const cp = await requireKafka();
  const log4j = join(ENGINES_DIR, "tools-log4j.properties");
  if (!readOr(log4j)) await Deno.writeTextFile(log4j, log4jConfig(undefined, "WARN"));
  const child = new Deno.Command("java", {
    args: [...TOOL_JVM, `-Dlog4j.configuration=file:${log4j}`, "-cp", cp, main, ...args],
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? 120_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
