/**
 * The consumer group protocol (KIP-848, issue 24), side by side: Java consumers from
 * kafka-clients 4.x with group.protocol=consumer (tests/clients/java/Kip848.java) against
 * Apache Kafka 3.9.1 — which serves the protocol as a preview when started with
 * group.coordinator.rebalance.protocols=classic,consumer (no unstable API versions
 * needed) — and against the embedded broker. Each case runs the same steps on both and
 * compares what the clients saw:
 * - three members join and split the partitions; each record is read once; one member is
 *   SIGKILLed and the others take its partitions once its session ends, keeping their own
 *   (incremental: no revocation); a member joining later gets one partition from each;
 * - a classic group and a consumer group side by side: Kafka's Admin
 *   (describeConsumerGroups) and `kafka-consumer-groups --describe` (3.9.1's tool) show both.
 * Both brokers run with a consumer session timeout of 10 s (Kafka's default is 45 s).
 * Assignments are compared by their shape (sizes, disjointness, what each member kept):
 * which member gets which partition is each assignor's choice.
 * Not compared here: a classic member joining a consumer group's id, which Kafka admits into
 * the consumer group and the embedded broker refuses (INCONSISTENT_GROUP_PROTOCOL).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  javaClientClasspath,
  KAFKA_VERSION,
  type KafkaServer,
  kafkaTool,
  startKafka,
} from "../_engines.ts";
import { envTest, ROOT, waitFor } from "../_fixtures.ts";
import { type Running, spawnTask, start } from "../../bench/_process.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const KAFKA = `Apache Kafka ${KAFKA_VERSION}`;
const EMBEDDED = "the embedded broker";
const BROKERS = [KAFKA, EMBEDDED] as const;
type BrokerName = typeof BROKERS[number];
const SESSION_TIMEOUT_MS = 10_000;
const PARTITIONS = 6;
const JVM = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"];

let classes: Promise<string> | undefined;

/** Kip848 compiled once for the file, against kafka-clients 4.x. */
function compiled(): Promise<string> {
  classes ??= (async () => {
    const cp = (await javaClientClasspath("4"))!.split(":").filter((p) => !p.endsWith("classes"))
      .join(":");
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-kip848-" });
    const out = await new Deno.Command("javac", {
      args: ["-nowarn", "-cp", cp, "-d", dir, join(ROOT, "tests/clients/java/Kip848.java")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    return `${dir}:${cp}`;
  })();
  return classes;
}

async function javaArgs(cmd: string, args: Record<string, string>): Promise<string[]> {
  return [
    ...JVM,
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-cp",
    await compiled(),
    "Kip848",
    cmd,
    ...Object.entries(args).map(([k, v]) => `${k}=${v}`),
  ];
}

/** Runs one Kip848 step to its end; answers its JSON lines. */
async function step(cmd: string, args: Record<string, string>): Promise<Any[]> {
  const out = await new Deno.Command("java", {
    args: await javaArgs(cmd, args),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l);
  if (out.code !== 0) {
    throw new Error(
      `Kip848 ${cmd} failed (${out.code}): ${lines.at(-1)}\n${
        new TextDecoder().decode(out.stderr).split("\n").slice(0, 30).join("\n")
      }`,
    );
  }
  return lines.map((l) => JSON.parse(l));
}

/** A group member process and what it printed. */
class Member {
  private constructor(readonly name: string, readonly proc: Running) {}

  static async start(name: string, args: Record<string, string>): Promise<Member> {
    return new Member(name, start("java", await javaArgs("member", args), { what: name }));
  }

  lines(): Any[] {
    return this.proc.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l)
    );
  }

  /** Its latest whole assignment (after the last change). */
  assignment(): number[] {
    const a = this.lines().filter((l) => "assigned" in l || "lost" in l).at(-1);
    return a && "assigned" in a ? a.assigned : [];
  }

  /** The values of the records it read. */
  records(): string[] {
    return this.lines().filter((l) => "record" in l).map((l) => l.record);
  }

  /** Whether every record it read is committed (commitSync after each poll). */
  allCommitted(): boolean {
    const ls = this.lines();
    const read = ls.filter((l) => "record" in l).length;
    const committed = ls.filter((l) => "committed" in l).reduce((n, l) => n + l.committed, 0);
    return read === committed;
  }

  /** Partitions it was asked to revoke, after line `from`. */
  revokedSince(from: number): number[] {
    return this.lines().slice(from).filter((l) => "revoked" in l).flatMap((l) => l.revoked);
  }

  failure(): string {
    const err = this.lines().find((l) => "error" in l);
    return err ? `${this.name}: ${err.error}` : "";
  }
}

/** A broker a case runs on. */
interface Target {
  bootstrap: string;
  close(): Promise<void>;
}

let kafkaOnce: Promise<KafkaServer> | undefined;

/** One Apache Kafka for the file, with the consumer protocol enabled (a 3.9 preview). */
function sharedKafka(): Promise<KafkaServer> {
  kafkaOnce ??= startKafka({
    config: {
      "group.coordinator.rebalance.protocols": "classic,consumer",
      "group.consumer.session.timeout.ms": SESSION_TIMEOUT_MS,
      "group.consumer.min.session.timeout.ms": SESSION_TIMEOUT_MS,
    },
  }).then((k) => {
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
  return kafkaOnce;
}

async function target(name: BrokerName): Promise<Target> {
  if (name === KAFKA) {
    const k = await sharedKafka();
    return { bootstrap: k.bootstrap, close: () => Promise.resolve() };
  }
  const child = await spawnTask("broker.ts", [
    "--port",
    "0",
    "--memory",
    "--partitions",
    "1",
    "--consumer-session-timeout",
    `${SESSION_TIMEOUT_MS}ms`,
    "--json",
  ]);
  return {
    bootstrap: (JSON.parse(child.firstLine) as { bootstrap: string }).bootstrap,
    close: async () => void await child.stop("SIGTERM"),
  };
}

/** Runs `fn` on each broker; answers what each gave, by broker. */
async function onBoth<T>(fn: (t: Target, tag: string) => Promise<T>): Promise<Record<string, T>> {
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

function same<T>(got: Record<string, T>, what: string): T {
  assert.deepEqual(got[EMBEDDED], got[KAFKA], `${what}: ${EMBEDDED} (actual) against ${KAFKA}`);
  return got[KAFKA];
}

/** Waits until the members' assignments are disjoint, cover every partition, with these sizes. */
async function settled(members: Member[], sizes: number[], what: string): Promise<void> {
  await waitFor(
    what,
    () => {
      const failed = members.map((m) => m.failure()).find((f) => f);
      if (failed) throw new Error(failed);
      const as = members.map((m) => m.assignment());
      const all = as.flat().sort((a, b) => a - b);
      return all.length === PARTITIONS && all.every((p, i) => p === i) &&
        as.map((a) => a.length).sort().join() === [...sizes].sort().join();
    },
    90_000,
    200,
  );
}

/** Waits until the members together have read `values` and committed all they read. */
async function readAll(members: Member[], everyone: Member[], values: string[]): Promise<void> {
  await waitFor(
    `${values.length} records read and committed`,
    () => {
      const seen = new Set(everyone.flatMap((m) => m.records()));
      return values.every((v) => seen.has(v)) && members.every((m) => m.allCommitted());
    },
    90_000,
    200,
  );
}

const values = (from: number, n: number) => Array.from({ length: n }, (_, i) => `v-${from + i}`);

/** How many times each value was read, over all members: answers the values not read once. */
function notOnce(everyone: Member[], expected: string[]): string[] {
  const count = new Map<string, number>();
  for (const v of everyone.flatMap((m) => m.records())) count.set(v, (count.get(v) ?? 0) + 1);
  return expected.filter((v) => count.get(v) !== 1).map((v) => `${v}×${count.get(v) ?? 0}`);
}

const NEEDS = ["kafka", "java-clients"] as const;

await envTest(
  "KIP-848: three Java 4.x consumers split a topic, each record read once; a SIGKILLed member's partitions go to the others incrementally; a late member gets its share",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `kip848-${tag}`;
      const group = `g-${tag}`;
      await step("create", { bootstrap: t.bootstrap, topic, partitions: String(PARTITIONS) });
      const member = (n: number) =>
        Member.start(`member ${n}`, { bootstrap: t.bootstrap, topic, group, protocol: "consumer" });
      const ms = [await member(1), await member(2), await member(3)];
      try {
        await settled(ms, [2, 2, 2], "three members with two partitions each");
        await step("produce", { bootstrap: t.bootstrap, topic, from: "0", count: "300" });
        await readAll(ms, ms, values(0, 300));
        const phase1 = notOnce(ms, values(0, 300));

        // SIGKILL member 2: the others take its partitions when its session ends.
        const [a, killed, c] = ms;
        const before = [a.assignment(), c.assignment()];
        const marks = [a.lines().length, c.lines().length];
        killed.proc.kill("SIGKILL");
        await killed.proc.ended;
        await settled([a, c], [3, 3], "the two survivors with three partitions each");
        const kept = [a, c].map((m, i) => before[i].every((p) => m.assignment().includes(p)));
        const revokedOnKill = [a.revokedSince(marks[0]), c.revokedSince(marks[1])];
        await step("produce", { bootstrap: t.bootstrap, topic, from: "300", count: "300" });
        await readAll([a, c], ms, values(300, 300));
        const phase2 = notOnce(ms, values(0, 600));

        // A member joins later: one partition from each survivor.
        const marks2 = [a.lines().length, c.lines().length];
        const late = await member(4);
        ms.push(late);
        await settled([a, c, late], [2, 2, 2], "three members again, two partitions each");
        const revokedOnJoin = [a.revokedSince(marks2[0]), c.revokedSince(marks2[1])].map((r) =>
          r.length
        );
        await step("produce", { bootstrap: t.bootstrap, topic, from: "600", count: "300" });
        await readAll([a, c, late], ms, values(600, 300));
        const phase3 = notOnce(ms, values(0, 900));
        return {
          phase1,
          survivorsKeptTheirs: kept,
          revokedOnKill,
          phase2,
          revokedOnJoin,
          lateGot: late.assignment().length,
          phase3,
        };
      } finally {
        for (const m of ms) m.proc.kill("SIGKILL");
        await Promise.all(ms.map((m) => m.proc.ended));
      }
    });
    const r = same(got, "what the members saw");
    assert.deepEqual(r, {
      phase1: [],
      survivorsKeptTheirs: [true, true],
      revokedOnKill: [[], []],
      phase2: [],
      revokedOnJoin: [1, 1],
      lateGot: 2,
      phase3: [],
    });
  },
);

/** The rows of a kafka-consumer-groups table (columns split on runs of spaces). */
function table(text: string): Record<string, string>[] {
  const lines = text.trim().split("\n").filter((l) => l.trim());
  const cols = lines[0].trim().split(/\s+/);
  return lines.slice(1).map((l) => {
    const cells = l.trim().split(/\s+/);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? ""]));
  });
}

await envTest(
  "KIP-848: a classic and a consumer group side by side — Kafka's Admin and kafka-consumer-groups --describe show both",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `both-${tag}`;
      await step("create", { bootstrap: t.bootstrap, topic, partitions: String(PARTITIONS) });
      await step("produce", { bootstrap: t.bootstrap, topic, from: "0", count: "60" });
      const groups = { classic: `classic-${tag}`, consumer: `consumer-${tag}` };
      const ms = [
        await Member.start("classic member", {
          bootstrap: t.bootstrap,
          topic,
          group: groups.classic,
          protocol: "classic",
        }),
        await Member.start("consumer member", {
          bootstrap: t.bootstrap,
          topic,
          group: groups.consumer,
          protocol: "consumer",
          assignor: "range",
        }),
      ];
      try {
        for (const m of ms) {
          await settled([m], [PARTITIONS], `${m.name} with every partition`);
          await readAll([m], [m], values(0, 60));
        }
        const admin = await step("describe", {
          bootstrap: t.bootstrap,
          groups: `${groups.classic},${groups.consumer}`,
        });
        const tool = async (group: string, extra: string[]) => {
          const r = await kafkaTool("kafka-consumer-groups", [
            "--bootstrap-server",
            t.bootstrap,
            "--describe",
            "--group",
            group,
            ...extra,
          ]);
          assert.equal(r.code, 0, r.stderr);
          return table(r.stdout);
        };
        const shown: Record<string, Any> = {};
        for (const [kind, group] of Object.entries(groups)) {
          const offsets = await tool(group, []);
          const state = await tool(group, ["--state"]);
          const members = await tool(group, ["--members"]);
          shown[kind] = {
            offsets: offsets.map((r) => ({
              partition: r.PARTITION,
              current: r["CURRENT-OFFSET"],
              end: r["LOG-END-OFFSET"],
              lag: r.LAG,
              hasConsumer: r["CONSUMER-ID"] !== "-",
              client: r["CLIENT-ID"].replace(tag, "*"),
            })).sort((a, b) => Number(a.partition) - Number(b.partition)),
            state: state.map((r) => ({
              strategy: r["ASSIGNMENT-STRATEGY"],
              state: r.STATE,
              members: r["#MEMBERS"],
            })),
            members: members.map((r) => ({
              client: r["CLIENT-ID"].replace(tag, "*"),
              partitions: r["#PARTITIONS"],
            })),
          };
        }
        const listed = await kafkaTool("kafka-consumer-groups", [
          "--bootstrap-server",
          t.bootstrap,
          "--list",
        ]);
        assert.equal(listed.code, 0, listed.stderr);
        return {
          admin: admin.map((a) => ({ ...a, group: a.group.replace(tag, "*") })),
          shown,
          // This case's groups (Apache Kafka is shared by the file's cases).
          listed: listed.stdout.trim().split("\n").filter((g) => g.includes(tag))
            .map((g) => g.replace(tag, "*")).sort(),
        };
      } finally {
        for (const m of ms) m.proc.kill("SIGKILL");
        await Promise.all(ms.map((m) => m.proc.ended));
      }
    });
    const r = same(got, "what Admin and kafka-consumer-groups show");
    assert.deepEqual(r.admin.map((a: Any) => [a.group, a.type, a.state]), [
      ["classic-*", "Classic", "Stable"],
      ["consumer-*", "Consumer", "Stable"],
    ]);
    assert.equal(r.admin[1].assignor, "range");
    assert.deepEqual(r.listed, ["classic-*", "consumer-*"]);
    for (const kind of ["classic", "consumer"]) {
      assert.equal(r.shown[kind].offsets.length, PARTITIONS);
      assert.ok(r.shown[kind].offsets.every((o: Any) => o.lag === "0" && o.hasConsumer));
    }
  },
);
