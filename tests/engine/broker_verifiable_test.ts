/**
 * Kafka's own verifiable clients through SIGKILLs (issue 24), side by side on Apache Kafka
 * 3.9.1 and the embedded broker: the tools Kafka's system tests drive, from kafka-tools
 * 3.9.1, their JSON event lines parsed here.
 * - Transactions: 3.9.1's VerifiableProducer has no transactional mode (no
 *   `--transactional-id`, and it never calls initTransactions: given `transactional.id`,
 *   `enable.idempotence` and `retries` in its --producer.config, every send fails in the
 *   client with "Cannot add partition … before completing a call to initTransactions"), so
 *   the transactional leg is Kafka's TransactionalMessageCopier, as in
 *   Kafka's transactions system test: a VerifiableProducer fills an input partition, the
 *   copier copies it to a 3-partition output topic in transactions of TXN_SIZE records,
 *   committing its input offsets in each (sendOffsetsToTransaction with group metadata) and
 *   aborting about a third of them on purpose (`--enable-random-aborts`); it is SIGKILLed
 *   mid-stream and restarted with the same transactional id, at least MIN_KILLS times and
 *   until a kill has left a transaction open (`kafka-transactions.sh describe`: Ongoing),
 *   MAX_KILLS at most (the new run's producer fences the dead one, a zombie, and its open
 *   transaction is aborted: by the new run's initTransactions, or by its timeout when it
 *   held the input offset the new run reads first). A read_committed consumer then reads
 *   every input record exactly once, none of the aborted ones (which read_uncommitted
 *   shows).
 * - KIP-848: three VerifiableConsumers with `--group-protocol consumer` (kafka-clients 3.9.1,
 *   ConsumerGroupHeartbeat v0; Kafka 3.9.1 serves it as a preview when started with
 *   group.coordinator.rebalance.protocols=classic,consumer) in one group over a topic a
 *   VerifiableProducer fills while they read; one is SIGKILLed mid-consumption, the two
 *   others take its partitions once its session ends (keeping their own), every acknowledged
 *   record is consumed at least once and the committed offsets cover every partition's end.
 * - KIP-848's upgrade path: a classic VerifiableConsumer joins a group whose one member
 *   speaks the consumer protocol (Kafka 3.9.1 admits it into the consumer group); the two
 *   split the partitions and both read; the classic one is SIGKILLed and the other gets its
 *   partitions back once its session (10 s) ends, every record consumed.
 * Both brokers run with a consumer session timeout of 10 s (Kafka's default is 45 s).
 */
import assert from "node:assert/strict";
import { kafkaPerFile, kafkaTool, kafkaToolCommand } from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { same, sideBySide, txnStep } from "../_txn_targets.ts";
import { type Running, start } from "../../bench/_process.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const SESSION_TIMEOUT_MS = 10_000;
const NEEDS = ["kafka", "java-clients"] as const;

/** One Apache Kafka for the file, with the consumer protocol enabled (a 3.9 preview). */
const { onBoth } = sideBySide(
  kafkaPerFile({
    config: {
      "group.coordinator.rebalance.protocols": "classic,consumer",
      "group.consumer.session.timeout.ms": SESSION_TIMEOUT_MS,
      "group.consumer.min.session.timeout.ms": SESSION_TIMEOUT_MS,
      // As the embedded broker: timed-out transactions looked for every second.
      "transaction.abort.timed.out.transaction.cleanup.interval.ms": 1000,
    },
  }),
  ["--consumer-session-timeout", `${SESSION_TIMEOUT_MS}ms`],
);

/** Runs a Kafka tool to its end; it must succeed. */
async function tool(name: string, args: string[]): Promise<string> {
  const r = await kafkaTool(name, args);
  assert.equal(r.code, 0, `${name} ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** Starts a Kafka tool that the test watches and may SIGKILL. */
async function startTool(name: string, args: string[], what: string): Promise<Running> {
  const c = await kafkaToolCommand(name, args);
  return start(c.cmd, c.args, { what });
}

/** The JSON event lines a verifiable client printed so far. */
function events(r: Running): Any[] {
  return r.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  await tool("kafka-topics", [
    "--bootstrap-server",
    bootstrap,
    "--create",
    "--topic",
    topic,
    "--partitions",
    String(partitions),
  ]);
}

/** What a VerifiableProducer's events say it sent: the acknowledged records, and its totals. */
function acked(evs: Any[]): { values: string[]; ends: Map<number, number>; sent: number } {
  const ok = evs.filter((e) => e.name === "producer_send_success");
  const ends = new Map<number, number>();
  for (const e of ok) ends.set(e.partition, Math.max(ends.get(e.partition) ?? 0, e.offset + 1));
  const data = evs.find((e) => e.name === "tool_data");
  assert.ok(data, `the producer printed no tool_data: ${JSON.stringify(evs.at(-1))}`);
  assert.equal(data.acked, ok.length, "tool_data's acked against its producer_send_success lines");
  return { values: ok.map((e) => String(e.value)), ends, sent: data.sent };
}

/** The values read_committed and read_uncommitted consumers read of `topic` to its end. */
async function view(
  bootstrap: string,
  topic: string,
  partitions: number,
): Promise<Record<"read_committed" | "read_uncommitted", string[]>> {
  const got = await txnStep("view", { bootstrap, topic, partitions: String(partitions) });
  // Lines are "partition:offset=value".
  const values = (lines: string[]) => lines.map((l) => l.slice(l.indexOf("=") + 1));
  return {
    read_committed: values(got.read_committed),
    read_uncommitted: values(got.read_uncommitted),
  };
}

/** The values of `expected` not seen exactly `n` times in `seen` (at least n, with `atLeast`). */
function notCounted(seen: string[], expected: string[], n: number, atLeast = false): string[] {
  const count = new Map<string, number>();
  for (const v of seen) count.set(v, (count.get(v) ?? 0) + 1);
  const ok = (c: number) => atLeast ? c >= n : c === n;
  return expected.filter((v) => !ok(count.get(v) ?? 0)).map((v) => `${v}×${count.get(v) ?? 0}`);
}

/** The committed offsets of a group by partition, from kafka-consumer-groups --describe. */
async function groupOffsets(bootstrap: string, group: string): Promise<Record<string, string>> {
  const text = await tool("kafka-consumer-groups", [
    "--bootstrap-server",
    bootstrap,
    "--describe",
    "--group",
    group,
  ]);
  const lines = text.trim().split("\n").filter((l) => /^\S+\s+\S+\s+\d+\s/.test(l));
  return Object.fromEntries(lines.map((l) => {
    const [, topic, partition, current] = l.trim().split(/\s+/);
    return [`${topic}-${partition}`, current];
  }));
}

/** The state of a transactional id's transaction, from kafka-transactions.sh describe. */
async function txnState(bootstrap: string, txnId: string): Promise<string> {
  const text = await tool("kafka-transactions", [
    "--bootstrap-server",
    bootstrap,
    "describe",
    "--transactional-id",
    txnId,
  ]);
  const [head, row] = text.trim().split("\n").map((l) => l.trim().split(/\t+|\s{2,}/));
  const state = row?.[head.indexOf("TransactionState")];
  assert.ok(state, `kafka-transactions describe ${txnId}: ${text}`);
  return state;
}

const COPY_RECORDS = 12_000;
const TXN_SIZE = 50;
const MIN_KILLS = 2;
const MAX_KILLS = 8;
/**
 * The copier's transaction timeout. A copier SIGKILLed between sendOffsetsToTransaction and
 * the commit leaves its input offset pending; the next run reads its position (a stable
 * OffsetFetch, retried on UNSTABLE_OFFSET_COMMIT for 60 s) before initTransactions would
 * abort that transaction, so it waits for the timeout to abort it (as in Kafka's system test,
 * whose timeout is below the consumer's 60 s).
 */
const TXN_TIMEOUT_MS = 10_000;
/** Records a copier run copies before it is SIGKILLed. */
const KILL_AFTER = 1_000;

await envTest(
  `transactions: Kafka's TransactionalMessageCopier with random aborts, SIGKILLed mid-stream (until one leaves a transaction open) and restarted, copies each record exactly once (read_committed), none of the aborted`,
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const input = `copy-in-${tag}`;
      const output = `copy-out-${tag}`;
      const txnId = `copier-${tag}`;
      await createTopic(t.bootstrap, input, 1);
      await createTopic(t.bootstrap, output, 3);
      const fill = await kafkaTool("kafka-verifiable-producer", [
        "--bootstrap-server",
        t.bootstrap,
        "--topic",
        input,
        "--max-messages",
        String(COPY_RECORDS),
      ]);
      assert.equal(fill.code, 0, fill.stderr);
      const sent = acked(
        fill.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
      );
      assert.equal(sent.values.length, COPY_RECORDS, "records the VerifiableProducer had acked");

      const runs: Running[] = [];
      const atKill: number[] = [];
      /** The state of the transaction each SIGKILLed run left (Ongoing: a zombie's, open). */
      const leftBehind: string[] = [];
      for (let i = 0;; i++) {
        const copier = await startTool("transactional-message-copier", [
          "--broker-list",
          t.bootstrap,
          "--input-topic",
          input,
          "--input-partition",
          "0",
          "--output-topic",
          output,
          "--transactional-id",
          txnId,
          "--consumer-group",
          txnId,
          "--transaction-size",
          String(TXN_SIZE),
          "--transaction-timeout",
          String(TXN_TIMEOUT_MS),
          "--use-group-metadata",
          "--enable-random-aborts",
        ], `copier run ${i + 1}`);
        runs.push(copier);
        const progress = () => events(copier).filter((e) => e.stage === "ProcessLoop");
        const kill = i < MIN_KILLS || (!leftBehind.includes("Ongoing") && i < MAX_KILLS);
        if (kill) {
          try {
            await waitFor(
              `copier run ${i + 1} past ${KILL_AFTER} records`,
              () => {
                if (!copier.alive()) throw new Error(`it ended: ${copier.stderr().slice(-800)}`);
                return (progress().at(-1)?.consumed ?? 0) >= KILL_AFTER;
              },
              120_000,
            );
          } finally {
            copier.kill("SIGKILL");
            await copier.ended;
          }
          atKill.push(progress().at(-1).consumed);
          leftBehind.push(await txnState(t.bootstrap, txnId));
        } else {
          const { code } = await copier.ended;
          assert.equal(code, 0, `the last copier run failed: ${copier.stderr().slice(-2000)}`);
          const last = events(copier).at(-1);
          assert.equal(last?.stage, "ShutdownComplete", JSON.stringify(last));
          assert.equal(last.remaining, 0, JSON.stringify(last));
          break;
        }
      }
      // Each run starts from the input offset the one before committed in its last transaction.
      const remainingAtStart = runs.map((r) => events(r).find((e) => e.stage)?.remaining);
      const read = await view(t.bootstrap, output, 3);
      const offsets = await groupOffsets(t.bootstrap, txnId);
      const r = {
        aKillLeftATransactionOpen: leftBehind.includes("Ongoing"),
        copiedOnce: notCounted(read.read_committed, sent.values, 1),
        extraCommitted: read.read_committed.length - COPY_RECORDS,
        abortedInLog: read.read_uncommitted.length > read.read_committed.length,
        runsResumedMidStream: remainingAtStart.slice(1).every((n, i) =>
          n > 0 && n < remainingAtStart[i]
        ),
        firstRunStartedAt: remainingAtStart[0],
        groupOffset: offsets[`${input}-0`],
      };
      console.log(
        `${t.bootstrap}: ${COPY_RECORDS} records acked into ${input}; copier runs started with ` +
          `${remainingAtStart.join(", ")} remaining, SIGKILLed ${atKill.length} times after ` +
          `${atKill.join(", ")} consumed, leaving its transaction ${
            leftBehind.join(", ")
          }; read_committed ${read.read_committed.length}, ` +
          `read_uncommitted ${read.read_uncommitted.length} (aborted transactions' records)`,
      );
      return r;
    });
    const r = same(got, "what the copier left");
    assert.deepEqual(r, {
      aKillLeftATransactionOpen: true,
      copiedOnce: [],
      extraCommitted: 0,
      abortedInLog: true,
      runsResumedMidStream: true,
      firstRunStartedAt: COPY_RECORDS,
      groupOffset: String(COPY_RECORDS),
    });
  },
);

/** A VerifiableConsumer and its events (parsed as they come: it prints one per record). */
class VerifiableConsumer {
  private seen = 0;
  private parsed: Any[] = [];

  private constructor(readonly name: string, readonly proc: Running) {}

  /** With the consumer protocol (KIP-848), or the classic one (its session timeout 10 s). */
  static async start(
    name: string,
    bootstrap: string,
    topic: string,
    group: string,
    protocol: "consumer" | "classic" = "consumer",
  ) {
    return new VerifiableConsumer(
      name,
      await startTool("kafka-verifiable-consumer", [
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--group-id",
        group,
        "--group-protocol",
        protocol,
        "--session-timeout",
        String(SESSION_TIMEOUT_MS),
        "--verbose",
      ], name),
    );
  }

  events(): Any[] {
    const out = this.proc.stdout();
    const end = out.lastIndexOf("\n") + 1;
    if (end > this.seen) {
      for (const l of out.slice(this.seen, end).split("\n")) {
        if (l.startsWith("{")) this.parsed.push(JSON.parse(l));
      }
      this.seen = end;
    }
    return this.parsed;
  }

  /** Its assignment now: what partitions_assigned gave less what partitions_revoked took. */
  assignment(upTo = Infinity): number[] {
    const a = new Set<number>();
    for (const e of this.events().slice(0, upTo)) {
      if (e.name === "partitions_assigned") { for (const p of e.partitions) a.add(p.partition); }
      if (e.name === "partitions_revoked") { for (const p of e.partitions) a.delete(p.partition); }
    }
    return [...a].sort((x, y) => x - y);
  }

  revokedSince(mark: number): number[] {
    return this.events().slice(mark).filter((e) => e.name === "partitions_revoked")
      .flatMap((e) => e.partitions.map((p: Any) => p.partition));
  }

  values(): string[] {
    return this.events().filter((e) => e.name === "record_data").map((e) => String(e.value));
  }

  /** The highest offset it committed (successfully) for each partition. */
  committed(): Map<number, number> {
    const c = new Map<number, number>();
    for (const e of this.events()) {
      if (e.name !== "offsets_committed" || !e.success) continue;
      for (const o of e.offsets) c.set(o.partition, Math.max(c.get(o.partition) ?? 0, o.offset));
    }
    return c;
  }

  check(): void {
    if (!this.proc.alive()) {
      throw new Error(`${this.name} ended: ${this.proc.stderr().slice(-1500)}`);
    }
  }
}

const GROUP_PARTITIONS = 6;
const GROUP_RECORDS = 9_000;
/** Records a second: the producer runs about 6 s while the consumers read. */
const GROUP_RATE = 1_500;

/** Waits until the consumers' assignments are disjoint, cover every partition, these sizes. */
async function settled(cs: VerifiableConsumer[], sizes: number[], what: string): Promise<void> {
  await waitFor(
    what,
    () => {
      for (const c of cs) c.check();
      const as = cs.map((c) => c.assignment());
      const all = as.flat().sort((a, b) => a - b);
      return all.length === GROUP_PARTITIONS && all.every((p, i) => p === i) &&
        as.map((a) => a.length).sort().join() === [...sizes].sort().join();
    },
    90_000,
    200,
  );
}

await envTest(
  "KIP-848: three VerifiableConsumers with --group-protocol consumer read what a VerifiableProducer sends; one SIGKILLed mid-consumption, the others take its partitions; every record consumed, the commits cover all",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `verifiable-${tag}`;
      const group = `verifiable-${tag}`;
      await createTopic(t.bootstrap, topic, GROUP_PARTITIONS);
      const cs: VerifiableConsumer[] = [];
      let producer: Running | undefined;
      try {
        for (const n of [1, 2, 3]) {
          cs.push(await VerifiableConsumer.start(`consumer ${n}`, t.bootstrap, topic, group));
        }
        await settled(cs, [2, 2, 2], "three consumers with two partitions each");
        const startSizes = cs.map((c) => c.assignment().length);
        producer = await startTool("kafka-verifiable-producer", [
          "--bootstrap-server",
          t.bootstrap,
          "--topic",
          topic,
          "--max-messages",
          String(GROUP_RECORDS),
          "--throughput",
          String(GROUP_RATE),
          // Keyed, so the records spread over every partition (each consumer gets some).
          "--repeating-keys",
          "60",
        ], "the VerifiableProducer");

        // SIGKILL consumer 2 once a third is read, some by it: the others take its partitions
        // when its session ends.
        await waitFor(
          `a third of ${GROUP_RECORDS} records consumed, some by consumer 2`,
          () => {
            for (const c of cs) c.check();
            return new Set(cs.flatMap((c) => c.values())).size >= GROUP_RECORDS / 3 &&
              cs[1].values().length > 0;
          },
          120_000,
          200,
        );
        const [a, killed, c] = cs;
        const killedRead = killed.values().length;
        const before = [a.assignment(), c.assignment()];
        const marks = [a.events().length, c.events().length];
        killed.proc.kill("SIGKILL");
        await killed.proc.ended;
        await settled([a, c], [3, 3], "the two survivors with three partitions each");
        const kept = [a, c].map((m, i) => before[i].every((p) => m.assignment().includes(p)));
        const revokedOnKill = [a.revokedSince(marks[0]), c.revokedSince(marks[1])];

        const { code } = await producer.ended;
        assert.equal(code, 0, `the VerifiableProducer failed: ${producer.stderr().slice(-1500)}`);
        const sent = acked(events(producer));
        assert.equal(sent.values.length, GROUP_RECORDS, "records the VerifiableProducer had acked");
        const covered = () => {
          const committed = new Map<number, number>();
          for (const m of cs) {
            for (const [p, o] of m.committed()) {
              committed.set(p, Math.max(committed.get(p) ?? 0, o));
            }
          }
          return [...sent.ends].every(([p, end]) => (committed.get(p) ?? 0) >= end);
        };
        try {
          await waitFor(
            `every acked record consumed and committed`,
            () => {
              for (const m of [a, c]) m.check();
              const seen = new Set(cs.flatMap((m) => m.values()));
              return sent.values.every((v) => seen.has(v)) && covered();
            },
            120_000,
            200,
          );
        } catch (err) {
          (err as Error).message += `\n${
            cs.map((m) =>
              `${m.name}: ${m.values().length} read, assigned ${m.assignment()}, committed ${
                JSON.stringify([...m.committed()])
              }`
            ).join("\n")
          }\nacked ends ${JSON.stringify([...sent.ends])}`;
          throw err;
        }
        const consumed = cs.flatMap((m) => m.values());
        const offsets = await groupOffsets(t.bootstrap, group);
        const types = await tool("kafka-consumer-groups", [
          "--bootstrap-server",
          t.bootstrap,
          "--list",
          "--type",
        ]);
        const twice = consumed.length - new Set(consumed).size;
        console.log(
          `${t.bootstrap}: ${sent.values.length} records acked over ${sent.ends.size} partitions; ` +
            `consumer 2 SIGKILLed after reading ${killedRead}; consumed ${consumed.length} ` +
            `(${twice} more than once: the killed member's uncommitted tail, read again); ` +
            `by consumer ${cs.map((m) => m.values().length).join(", ")}`,
        );
        return {
          startSizes,
          survivorsAfterKill: [a, c].map((m) => m.assignment().length),
          survivorsKeptTheirs: kept,
          revokedOnKill,
          notConsumed: notCounted(consumed, sent.values, 1, true),
          groupOffsetsAtEnds: [...sent.ends].every(([p, end]) =>
            offsets[`${topic}-${p}`] === String(end)
          ),
          groupType: new RegExp(`^${group}\\s+(\\S+)`, "m").exec(types)?.[1],
        };
      } finally {
        producer?.kill("SIGKILL");
        for (const m of cs) m.proc.kill("SIGKILL");
        await Promise.all([producer?.ended, ...cs.map((m) => m.proc.ended)]);
      }
    });
    const r = same(got, "what the consumers saw");
    assert.deepEqual(r, {
      startSizes: [2, 2, 2],
      survivorsAfterKill: [3, 3],
      survivorsKeptTheirs: [true, true],
      revokedOnKill: [[], []],
      notConsumed: [],
      groupOffsetsAtEnds: true,
      groupType: "Consumer",
    });
  },
);

/** Runs a VerifiableProducer to its end; answers what it had acked. */
/** Values are `prefix.i`. */
async function produceAll(bootstrap: string, topic: string, n: number, prefix: number) {
  const r = await kafkaTool("kafka-verifiable-producer", [
    "--bootstrap-server",
    bootstrap,
    "--topic",
    topic,
    "--max-messages",
    String(n),
    "--value-prefix",
    String(prefix),
    // Keyed, so the records spread over every partition (each member gets some).
    "--repeating-keys",
    "60",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const sent = acked(
    r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
  );
  assert.equal(sent.values.length, n, "records the VerifiableProducer had acked");
  return sent;
}

/** Waits until `cs` together have consumed every value and committed up to `ends`. */
async function consumedAll(
  cs: VerifiableConsumer[],
  live: VerifiableConsumer[],
  values: string[],
  ends: Map<number, number>,
): Promise<void> {
  try {
    await waitFor(
      `${values.length} records consumed and committed`,
      () => {
        for (const m of live) m.check();
        const seen = new Set(cs.flatMap((m) => m.values()));
        const committed = new Map<number, number>();
        for (const m of cs) {
          for (const [p, o] of m.committed()) committed.set(p, Math.max(committed.get(p) ?? 0, o));
        }
        return values.every((v) => seen.has(v)) &&
          [...ends].every(([p, end]) => (committed.get(p) ?? 0) >= end);
      },
      120_000,
      200,
    );
  } catch (err) {
    (err as Error).message += `\n${
      cs.map((m) =>
        `${m.name}: ${m.values().length} read, assigned ${m.assignment()}, ${
          m.proc.stderr().slice(-600)
        }`
      ).join("\n")
    }`;
    throw err;
  }
}

await envTest(
  "KIP-848 upgrade path: a classic VerifiableConsumer joins a consumer group of one --group-protocol consumer member; they split the partitions; the classic one SIGKILLed, its partitions go back",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const topic = `mixed-${tag}`;
      const group = `mixed-${tag}`;
      await createTopic(t.bootstrap, topic, GROUP_PARTITIONS);
      const cs: VerifiableConsumer[] = [];
      try {
        const first = await produceAll(t.bootstrap, topic, 3000, 1);
        const a = await VerifiableConsumer.start("consumer member", t.bootstrap, topic, group);
        cs.push(a);
        await settled([a], [GROUP_PARTITIONS], "the consumer member with every partition");
        const b = await VerifiableConsumer.start(
          "classic member",
          t.bootstrap,
          topic,
          group,
          "classic",
        );
        cs.push(b);
        await settled([a, b], [3, 3], "the two members with three partitions each");
        await consumedAll(cs, cs, first.values, first.ends);
        const second = await produceAll(t.bootstrap, topic, 3000, 2);
        await consumedAll(cs, cs, second.values, second.ends);
        const bothRead = [a, b].map((m) => m.values().some((v) => v.startsWith("2.")));
        const types = await tool("kafka-consumer-groups", [
          "--bootstrap-server",
          t.bootstrap,
          "--list",
          "--type",
        ]);

        const before = a.assignment();
        b.proc.kill("SIGKILL");
        await b.proc.ended;
        await settled([a], [GROUP_PARTITIONS], "the consumer member with every partition again");
        const third = await produceAll(t.bootstrap, topic, 3000, 3);
        await consumedAll(cs, [a], third.values, third.ends);
        const consumed = cs.flatMap((m) => m.values());
        console.log(
          `${t.bootstrap}: consumed ${consumed.length} of 9000 (consumer member ${a.values().length}, ` +
            `classic member ${b.values().length})`,
        );
        return {
          bothRead,
          groupType: new RegExp(`^${group}\\s+(\\S+)`, "m").exec(types)?.[1],
          keptItsOwn: before.every((p) => a.assignment().includes(p)),
          notConsumed: notCounted(
            consumed,
            [...first.values, ...second.values, ...third.values],
            1,
            true,
          ),
        };
      } finally {
        for (const m of cs) m.proc.kill("SIGKILL");
        await Promise.all(cs.map((m) => m.proc.ended));
      }
    });
    const r = same(got, "what the members saw");
    assert.deepEqual(r, {
      bothRead: [true, true],
      groupType: "Consumer",
      keptItsOwn: true,
      notConsumed: [],
    });
  },
);
