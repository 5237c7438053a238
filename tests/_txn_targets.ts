/**
 * The transactions cases' side-by-side targets (issue 24): each case runs on Apache Kafka
 * 3.9.1 (one per test file, SIGKILLed and restarted in place) and on the embedded broker (a
 * process and data dir of its own per case), through `onBoth()`; and the steps of
 * tests/clients/java/TxnCases.java (kafka-clients 3.9), compiled once per file, through
 * `txnStep()`. Used by tests/engine/broker_transactions_test.ts,
 * broker_connect_eos_test.ts and broker_verifiable_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { javaClientClasspath, KAFKA_VERSION, type KafkaServer } from "./_engines.ts";
import { ROOT } from "./_fixtures.ts";
import { run, spawnTask } from "../bench/_process.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

export const KAFKA = `Apache Kafka ${KAFKA_VERSION}`;
export const EMBEDDED = "the embedded broker";
export const BROKERS = [KAFKA, EMBEDDED] as const;
export type BrokerName = typeof BROKERS[number];

/** A broker a case runs on: its address, and how to SIGKILL and restart it (same address). */
export interface Target {
  bootstrap: string;
  killAndRestart(): Promise<void>;
  close(): Promise<void>;
}

let classes: Promise<string> | undefined;

/** TxnCases compiled once for the file, against kafka-clients 3.9. */
function compiled(): Promise<string> {
  classes ??= (async () => {
    const cp = (await javaClientClasspath("3"))!;
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-txncases-" });
    const out = await run("javac", [
      "-nowarn",
      "-cp",
      cp,
      "-d",
      dir,
      join(ROOT, "tests/clients/java/TxnCases.java"),
    ]);
    assert.equal(out.code, 0, out.stderr);
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    return `${dir}:${cp}`;
  })();
  return classes;
}

/** Runs one TxnCases step; answers its JSON. */
export async function txnStep(name: string, args: Record<string, string>): Promise<Any> {
  const cp = await compiled();
  const out = await run("java", [
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-cp",
    cp,
    "TxnCases",
    name,
    ...Object.entries(args).map(([k, v]) => `${k}=${v}`),
  ]);
  const text = out.stdout.trim().split("\n").at(-1) ?? "";
  if (out.code !== 0) {
    throw new Error(
      `TxnCases ${name} failed (${out.code}): ${text}\n${
        out.stderr.split("\n").slice(0, 30).join("\n")
      }`,
    );
  }
  return JSON.parse(text);
}

/**
 * The side-by-side targets of a test file whose Apache Kafka is `kafka` (a kafkaPerFile()):
 * `target(name)` starts or reuses one, `onBoth(fn)` runs `fn` on each and answers what each
 * gave, by broker. `brokerFlags` go to each embedded broker (`deno task broker`).
 */
export function sideBySide(kafka: () => Promise<KafkaServer>, brokerFlags: string[] = []) {
  /** The broker `name`: the shared Kafka, or an embedded broker of its own process and dir. */
  async function target(name: BrokerName): Promise<Target> {
    if (name === KAFKA) {
      const k = await kafka();
      return {
        bootstrap: k.bootstrap,
        killAndRestart: () => k.restart({ kill: true }),
        close: () => Promise.resolve(),
      };
    }
    const dataDir = await Deno.makeTempDir({ prefix: "pinpipe-txn-broker-" });
    /** Starts it on `port` (0: a free one); a restart takes the same port, as Kafka's does. */
    const spawn = async (port = 0) => {
      const child = await spawnTask("broker.ts", [
        "--port",
        String(port),
        "--data-dir",
        dataDir,
        "--partitions",
        "1",
        // As Apache Kafka's default: Kafka Streams relies on it for its output topic.
        "--auto-create",
        "--json",
        ...brokerFlags,
      ]);
      return {
        child,
        bootstrap: (JSON.parse(child.firstLine) as { bootstrap: string }).bootstrap,
      };
    };
    let running = await spawn();
    const t: Target = {
      bootstrap: running.bootstrap,
      async killAndRestart() {
        await running.child.stop("SIGKILL");
        running = await spawn(Number(running.bootstrap.split(":").pop()));
        t.bootstrap = running.bootstrap;
      },
      async close() {
        await running.child.stop("SIGTERM");
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      },
    };
    return t;
  }

  /** Runs `fn` on each broker; answers what each gave, by broker. */
  async function onBoth<T>(
    fn: (t: Target, tag: string) => Promise<T>,
  ): Promise<Record<string, T>> {
    const out: Record<string, T> = {};
    for (const name of BROKERS) {
      const t = await target(name);
      try {
        out[name] = await fn(t, crypto.randomUUID().slice(0, 8));
      } catch (err) {
        if (err instanceof Error) err.message = `on ${name}: ${err.message}`;
        throw err;
      } finally {
        await t.close();
      }
    }
    return out;
  }

  return { target, onBoth };
}

/** Asserts both brokers answered the same, and answers Kafka's. */
export function same<T>(got: Record<string, T>, what: string): T {
  assert.deepEqual(got[EMBEDDED], got[KAFKA], `${what}: ${EMBEDDED} (actual) against ${KAFKA}`);
  return got[KAFKA];
}
