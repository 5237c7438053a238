/**
 * The real engines the test suite runs pinpipe's code on: Apache Kafka (broker and CLI
 * tools, from Maven Central) and a Python venv with PySpark, Airflow with the Databricks
 * provider, cfn-lint and moto (from PyPI). `provision()` installs them once into a
 * git-ignored cache (`.pinpipe/engines`, or `PINPIPE_ENGINES_DIR`) and reuses it while the
 * pinned inputs in `tests/engines/` are unchanged; it also builds the client matrix's
 * clients (kafka-clients 3.9 and 4.x with tests/clients/java compiled against each,
 * @confluentinc/kafka-javascript from source, tests/clients/go with franz-go) the same
 * way. `tests/setup.ts` calls it before `deno test`. Where the engines live and Apache Kafka
 * run from them (`startKafka()`, `kafkaTool()`) are bench/_engines.ts, re-exported here.
 * @module
 */
import { join } from "node:path";
import { run } from "../bench/_process.ts";
import {
  ENGINES_DIR,
  KAFKA4_VERSION,
  kafka4Classpath,
  kafka4Dir,
  kafka4Stamp,
  KAFKA_VERSION,
  kafkaClasspath,
  kafkaDir,
  type KafkaMajor,
  kafkaStamp,
  lastLines,
  MSK_IAM_POM,
  mskIamAuthClasspath,
  mskIamAuthDir,
  mskIamAuthVersion,
  pythonStamp,
  readOr,
  sha256,
  venvBin,
  venvDir,
} from "../bench/_engines.ts";

export * from "../bench/_engines.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const INPUTS = join(ROOT, "tests", "engines");

/** An engine the suite can provision. */
export type EngineName =
  | "kafka"
  | "kafka-4"
  | "python"
  | "java-clients"
  | "node-clients"
  | "franz-go"
  | "msk-iam-auth"
  | "msk-iam-python"
  | "kafka-streams"
  | "connect-file"
  | "connect-4";

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

/** Runs `cmd` to its end: its exit code and its stdout and stderr together. */
async function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string }> {
  const r = await run(cmd, args, opts);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Apache Kafka `major` (3: KAFKA_VERSION, 4: KAFKA4_VERSION) from its pom into the cache. */
async function provisionKafka(
  major: KafkaMajor = 3,
): Promise<Omit<EngineReport, "engine" | "seconds">> {
  const version = `Kafka ${major === 4 ? KAFKA4_VERSION : KAFKA_VERSION}`;
  const dir = major === 4 ? kafka4Dir() : kafkaDir();
  if (await (major === 4 ? kafka4Classpath() : kafkaClasspath())) {
    return { ok: true, how: "cached", versions: version };
  }
  const java = await exec("java", ["-version"]);
  if (java.code !== 0) return { ok: false, error: `java is needed to run Kafka: ${java.out}` };
  const tmp = `${dir}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const mvn = await exec("mvn", [
    "-q",
    "-B",
    "-f",
    join(INPUTS, major === 4 ? "kafka-4.pom.xml" : "kafka.pom.xml"),
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${join(tmp, "libs")}`,
  ]);
  if (mvn.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return { ok: false, error: `mvn dependency:copy-dependencies failed:\n${lastLines(mvn.out)}` };
  }
  await Deno.writeTextFile(join(tmp, ".stamp"), await (major === 4 ? kafka4Stamp() : kafkaStamp()));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, dir);
  return { ok: true, how: "installed", versions: version };
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

async function provisionMskIamAuth(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  const versions = `aws-msk-iam-auth ${mskIamAuthVersion()}`;
  if (await mskIamAuthClasspath()) return { ok: true, how: "cached", versions };
  const tmp = `${mskIamAuthDir()}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const mvn = await exec("mvn", [
    "-q",
    "-B",
    "-f",
    MSK_IAM_POM(),
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${join(tmp, "libs")}`,
  ]);
  if (mvn.code !== 0) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    return { ok: false, error: `mvn (aws-msk-iam-auth) failed:\n${lastLines(mvn.out)}` };
  }
  await Deno.writeTextFile(join(tmp, ".stamp"), await sha256(readOr(MSK_IAM_POM())));
  await Deno.remove(mskIamAuthDir(), { recursive: true }).catch(() => {});
  await Deno.rename(tmp, mskIamAuthDir());
  return { ok: true, how: "installed", versions };
}

// ---------------------------------------------------------------------------------------
// aws-msk-iam-sasl-signer-python beside Debian's confluent-kafka

/** The Python the Debian Kafka clients (python3-confluent-kafka, python3-kafka) are for. */
export const SYSTEM_PYTHON = "/usr/bin/python3";

const mskIamPythonDir = () => join(ENGINES_DIR, "msk-iam-python");
const MSK_IAM_PYTHON_PINS = () => join(INPUTS, "msk-iam-python.txt");

/**
 * The python of the venv with aws-msk-iam-sasl-signer-python, built on the system python
 * with its site packages (Debian's python3-confluent-kafka), or undefined when not
 * provisioned.
 */
export async function mskIamPython(): Promise<string | undefined> {
  const stamp = readOr(join(mskIamPythonDir(), ".stamp")).trim();
  if (stamp !== await sha256(readOr(MSK_IAM_PYTHON_PINS()))) return undefined;
  return join(mskIamPythonDir(), "bin", "python");
}

async function provisionMskIamPython(): Promise<Omit<EngineReport, "engine" | "seconds">> {
  const versions = readOr(MSK_IAM_PYTHON_PINS()).split("\n")
    .find((l) => l.startsWith("aws-msk-iam-sasl-signer-python=="))?.replace("==", " ");
  if (await mskIamPython()) return { ok: true, how: "cached", versions };
  // A venv is not relocatable, so it is built in place; the stamp, written last, marks it whole.
  await Deno.remove(mskIamPythonDir(), { recursive: true }).catch(() => {});
  const venv = await exec(SYSTEM_PYTHON, [
    "-m",
    "venv",
    "--system-site-packages",
    mskIamPythonDir(),
  ]);
  if (venv.code !== 0) {
    return { ok: false, error: `${SYSTEM_PYTHON} -m venv failed:\n${lastLines(venv.out)}` };
  }
  const pip = await exec(join(mskIamPythonDir(), "bin", "pip"), [
    "install",
    "--disable-pip-version-check",
    "-q",
    "-r",
    MSK_IAM_PYTHON_PINS(),
  ]);
  if (pip.code !== 0) {
    return { ok: false, error: `pip install (msk-iam-python.txt) failed:\n${lastLines(pip.out)}` };
  }
  await Deno.writeTextFile(
    join(mskIamPythonDir(), ".stamp"),
    await sha256(readOr(MSK_IAM_PYTHON_PINS())),
  );
  return { ok: true, how: "installed", versions };
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
 * An engine that is one pom's jars with their dependencies (`mvn dependency:copy-dependencies`
 * into `ENGINES_DIR/<name>/libs`, stamped with the pom's hash): its pinned version (the pom's
 * `<versionTag>` property), its classpath entry once provisioned, and its provisioning.
 */
function pomEngine(name: string, pom: string, versionTag: string) {
  const dir = () => join(ENGINES_DIR, name);
  const pomFile = () => join(INPUTS, pom);
  const version = () =>
    new RegExp(`<${versionTag.replaceAll(".", "\\.")}>([^<]+)<`).exec(readOr(pomFile()))?.[1] ??
      "?";
  const classpath = async (): Promise<string | undefined> => {
    const stamp = readOr(join(dir(), ".stamp")).trim();
    if (stamp !== await sha256(readOr(pomFile()))) return undefined;
    return join(dir(), "libs", "*");
  };
  const provision = async (): Promise<Omit<EngineReport, "engine" | "seconds">> => {
    const versions = `${name} ${version()}`;
    if (await classpath()) return { ok: true, how: "cached", versions };
    const tmp = `${dir()}.tmp-${Deno.pid}`;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const mvn = await exec("mvn", [
      "-q",
      "-B",
      "-f",
      pomFile(),
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${join(tmp, "libs")}`,
    ]);
    if (mvn.code !== 0) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      return { ok: false, error: `mvn (${name}) failed:\n${lastLines(mvn.out)}` };
    }
    await Deno.writeTextFile(join(tmp, ".stamp"), await sha256(readOr(pomFile())));
    await Deno.remove(dir(), { recursive: true }).catch(() => {});
    await Deno.rename(tmp, dir());
    return { ok: true, how: "installed", versions };
  };
  return { version, classpath, provision };
}

/** Kafka Connect's FileStream connectors 3.9 (Kafka's own jars have the Connect runtime). */
const connectFile = pomEngine("connect-file", "connect-file.pom.xml", "connect.file.version");
/** The pinned connect-file version. */
export const connectFileVersion = connectFile.version;
/** connect-file's classpath entry (to append to Kafka's), or undefined when not provisioned. */
export const connectFileClasspath = connectFile.classpath;

/** Kafka Connect 4.x: its runtime and FileStream connectors, on their own. */
const connect4 = pomEngine("connect-4", "connect-4.pom.xml", "connect.version");
/** The pinned Kafka Connect 4.x version. */
export const connect4Version = connect4.version;
/** Kafka Connect 4.x's classpath entry (the whole worker), or undefined when not provisioned. */
export const connect4Classpath = connect4.classpath;

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
      ["kafka-4", () => provisionKafka(4)],
      ["python", provisionPython],
      ["java-clients", provisionJavaClients],
      ["node-clients", provisionNodeClients],
      ["franz-go", provisionFranzGo],
      ["msk-iam-auth", provisionMskIamAuth],
      ["msk-iam-python", provisionMskIamPython],
      ["kafka-streams", provisionKafkaStreams],
      ["connect-file", connectFile.provision],
      ["connect-4", connect4.provision],
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
