/**
 * Transactions (issue 24), side by side: Apache Kafka's Java client (kafka-clients 3.9,
 * tests/clients/java/TxnCases.java) runs each case against Apache Kafka 3.9.1 and against
 * the embedded broker, and both answers must be the same, record for record and offset for
 * offset (markers take offsets, so the offsets show them too): commits and aborts read with
 * read_committed and read_uncommitted, a transaction left open (the last stable offset), a
 * zombie fenced by a second producer with its transactional id, group offsets committed in
 * a transaction, `kafka-transactions.sh list`, `describe` and `describe-producers`, an
 * abandoned transaction
 * aborted by its timeout, and a transaction open across a SIGKILL of the broker; and a Kafka
 * Streams word count with exactly_once_v2 (tests/clients/java/EosWordCount.java) SIGKILLed
 * twice mid-stream, whose output holds each count exactly once.
 */
import assert from "node:assert/strict";
import {
  kafkaPerFile,
  kafkaStreamsClasspath,
  kafkaStreamsVersion,
  kafkaTool,
} from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { same, sideBySide, txnStep as step } from "../_txn_targets.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** One Apache Kafka for the file (timed-out transactions looked for every second). */
const { onBoth } = sideBySide(kafkaPerFile({
  config: { "transaction.abort.timed.out.transaction.cleanup.interval.ms": 1000 },
}));

/** `kafka-transactions.sh describe` as rows of its columns. */
async function describe(bootstrap: string, txn: string): Promise<Record<string, string>> {
  const r = await kafkaTool("kafka-transactions", [
    "--bootstrap-server",
    bootstrap,
    "describe",
    "--transactional-id",
    txn,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return table(r.stdout)[0];
}

/** The rows of a kafka-transactions.sh table (columns split on two or more spaces or tabs). */
function table(text: string): Record<string, string>[] {
  const lines = text.trim().split("\n").filter((l) => l.trim());
  const cols = lines[0].trim().split(/\t+|\s{2,}/);
  return lines.slice(1).map((l) => {
    const cells = l.trim().split(/\t+|\s{2,}/);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? ""]));
  });
}

const NEEDS = ["kafka", "java-clients"] as const;

await envTest(
  "transactions: commits and aborts, read_committed and read_uncommitted",
  [...NEEDS],
  async () => {
    const got = await onBoth((t, tag) =>
      step("commit-abort", { bootstrap: t.bootstrap, topic: `ca-${tag}`, txn: `ca-${tag}` })
    );
    const v = same(got, "what each isolation level reads");
    assert.deepEqual(v.read_committed, ["0:0=a0", "0:1=a1", "0:5=c0", "1:0=a2"]);
    assert.deepEqual(v.read_uncommitted, [
      "0:0=a0",
      "0:1=a1",
      "0:3=b0",
      "0:5=c0",
      "1:0=a2",
      "1:2=b1",
    ]);
  },
);

await envTest("transactions: an open transaction holds read_committed at the last stable offset", [
  ...NEEDS,
], async () => {
  const got = await onBoth((t, tag) =>
    step("open", {
      bootstrap: t.bootstrap,
      topic: `open-${tag}`,
      txn: `open-${tag}`,
      end: "commit",
    })
  );
  const v = same(got, "the views while open and after the commit");
  assert.deepEqual(v.open.read_committed, ["0:0=x0"]);
  assert.deepEqual(v.open["read_committed end"], { 0: 2 });
  assert.deepEqual(v.committed.read_committed, ["0:0=x0", "0:2=y0"]);
});

await envTest("transactions: a second producer with the transactional id fences the first", [
  ...NEEDS,
], async () => {
  const got = await onBoth((t, tag) =>
    step("fence", { bootstrap: t.bootstrap, topic: `fence-${tag}`, txn: `fence-${tag}` })
  );
  const v = same(got, "what the zombie gets and what is read");
  assert.match(v.zombie.join(" "), /Fenced|Epoch/);
  assert.deepEqual(v.read_committed.map((r: string) => r.replace(/^0:\d+=/, "")), ["w0"]);
});

await envTest("transactions: group offsets sent in a transaction show only once it commits", [
  ...NEEDS,
], async () => {
  const got = await onBoth((t, tag) =>
    step("offsets", {
      bootstrap: t.bootstrap,
      topic: `offsets-${tag}`,
      txn: `offsets-${tag}`,
      group: `group-${tag}`,
    })
  );
  const v = same(
    Object.fromEntries(
      Object.entries(got).map(([k, x]) => [
        k,
        Object.fromEntries(
          Object.entries(x as Record<string, Record<string, string>>).map(([when, offs]) => [
            when,
            Object.values(offs),
          ]),
        ),
      ]),
    ),
    "the group's offsets",
  );
  assert.deepEqual(v, { "before commit": [], "after commit": ["7 m"], "after abort": ["7 m"] });
});

await envTest(
  "transactions: kafka-transactions.sh lists and describes an abandoned transaction, which its timeout aborts",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const txn = `abandoned-${tag}`;
      const topic = `abandoned-${tag}`;
      const open = await step("open", {
        bootstrap: t.bootstrap,
        topic,
        txn,
        end: "halt",
        // Long enough for both tools to see it open (each starts a JVM), short for a test.
        timeout: "20000",
      });
      const listed = await kafkaTool("kafka-transactions", [
        "--bootstrap-server",
        t.bootstrap,
        "list",
      ]);
      assert.equal(listed.code, 0, listed.stderr);
      const mine = table(listed.stdout).find((r) => r.TransactionalId === txn);
      const during = await describe(t.bootstrap, txn);
      const producers = await kafkaTool("kafka-transactions", [
        "--bootstrap-server",
        t.bootstrap,
        "describe-producers",
        "--topic",
        topic,
        "--partition",
        "0",
      ]);
      assert.equal(producers.code, 0, producers.stderr);
      const [producer] = table(producers.stdout);
      let after: Record<string, string> = {};
      await waitFor("the timeout to abort it", async () => {
        after = await describe(t.bootstrap, txn);
        return after.TransactionState === "CompleteAbort";
      }, 60_000);
      const view = await step("view", { bootstrap: t.bootstrap, topic });
      return {
        open: open.open,
        listed: mine && { state: mine.TransactionState, hasProducer: Number(mine.ProducerId) >= 0 },
        during: {
          state: during.TransactionState,
          epoch: during.ProducerEpoch,
          timeout: during.TransactionTimeoutMs,
          partitions: during.TopicPartitions?.replace(tag, "TAG"),
        },
        after: { state: after.TransactionState, epoch: after.ProducerEpoch },
        producer: {
          epoch: producer.ProducerEpoch,
          coordinatorEpoch: producer.LatestCoordinatorEpoch,
          lastSequence: producer.LastSequence,
          txnStart: producer.CurrentTransactionStartOffset,
        },
        view,
      };
    });
    const v = same(got, "the abandoned transaction");
    assert.deepEqual(v.listed, { state: "Ongoing", hasProducer: true });
    assert.deepEqual([v.during.state, v.during.partitions], ["Ongoing", "abandoned-TAG-0"]);
    assert.deepEqual(v.after, { state: "CompleteAbort", epoch: "1" }, "aborted, epoch bumped");
    assert.deepEqual(
      v.producer,
      { epoch: "0", coordinatorEpoch: "0", lastSequence: "1", txnStart: "2" },
      "kafka-transactions.sh describe-producers: x0, its marker, then y0 open at offset 2",
    );
    assert.deepEqual(v.view.read_committed, ["0:0=x0"]);
    assert.deepEqual(v.view["read_committed end"], { 0: 4 }, "y0 and its abort marker passed");
  },
);

await envTest(
  "transactions: a transaction open across a SIGKILL of the broker is still open, then fenced by a new producer",
  [...NEEDS],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const txn = `killed-${tag}`;
      const topic = `killed-${tag}`;
      await step("open", { bootstrap: t.bootstrap, topic, txn, end: "halt", timeout: "600000" });
      await t.killAndRestart();
      let before: Any;
      await waitFor("the restarted broker to answer", async () => {
        try {
          before = await step("view", { bootstrap: t.bootstrap, topic });
          return true;
        } catch {
          return false;
        }
      }, 90_000);
      const during = await describe(t.bootstrap, txn);
      const after = await step("init", { bootstrap: t.bootstrap, topic, txn, value: "n0" });
      return {
        before,
        during: {
          state: during.TransactionState,
          partitions: during.TopicPartitions?.replace(tag, "TAG"),
        },
        after,
      };
    });
    const v = same(got, "the transaction across the SIGKILL");
    assert.deepEqual(v.before["read_committed end"], { 0: 2 }, "the last stable offset held");
    assert.deepEqual(v.during, { state: "Ongoing", partitions: "killed-TAG-0" });
    assert.deepEqual(v.after.read_committed, ["0:0=x0", "0:4=n0"]);
  },
);

/** The Streams case's input: LINES lines of two words each, cycling through WORDS. */
const WORDS = ["w0", "w1", "w2", "w3", "w4"];
const LINES = 3000;
/** Times the Streams application is SIGKILLed mid-stream. */
const STREAMS_KILLS = 2;

/** Starts EosWordCount; answers its process and the lines it printed so far. */
async function startStreams(args: Record<string, string>) {
  const cp = (await kafkaStreamsClasspath())!;
  const child = new Deno.Command("java", {
    args: [
      "-Xmx384m",
      "-XX:+UseSerialGC",
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
      "-cp",
      cp,
      "EosWordCount",
      ...Object.entries(args).map(([k, v]) => `${k}=${v}`),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let err = "";
  const out = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      lines.push(...chunk.split("\n").filter((l) => l));
    }
  })();
  const errs = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      err = (err + chunk).slice(-4000);
    }
  })();
  return {
    lines,
    stderr: () => err,
    async kill(signal: Deno.Signal) {
      try {
        child.kill(signal);
      } catch { /* gone */ }
      await child.status;
      await Promise.allSettled([out, errs]);
    },
  };
}

await envTest(
  `Kafka Streams ${kafkaStreamsVersion()} exactly_once_v2, SIGKILLed ${STREAMS_KILLS} times mid-stream: each count once`,
  ["kafka", "java-clients", "kafka-streams"],
  async () => {
    const got = await onBoth(async (t, tag) => {
      const input = `eos-in-${tag}`;
      const output = `eos-out-${tag}`;
      await step("lines", {
        bootstrap: t.bootstrap,
        topic: input,
        words: WORDS.join(","),
        count: String(LINES),
      });
      const state = await Deno.makeTempDir({ prefix: "pinpipe-streams-" });
      const args = { bootstrap: t.bootstrap, app: `eos-${tag}`, input, output, state };
      let killed = 0;
      try {
        for (; killed < STREAMS_KILLS; killed++) {
          const app = await startStreams(args);
          try {
            // Killed once it has processed some lines (and before it is done with them).
            await waitFor(
              "the application to process 1,000 lines",
              () => app.lines.some((l) => /^processed \d+/.test(l) || l.startsWith("error")),
              120_000,
            );
            assert.ok(!app.lines.some((l) => l.startsWith("error")), app.lines.join("\n"));
          } catch (err) {
            await app.kill("SIGKILL");
            throw new Error(`${err}\n${app.lines.join("\n")}\n${app.stderr()}`);
          }
          await app.kill("SIGKILL");
        }
        const app = await startStreams(args);
        let counts: Record<string, string[]> = {};
        try {
          await waitFor("every count in the output", async () => {
            counts = await step("counts", { bootstrap: t.bootstrap, topic: output }).catch(
              () => ({}),
            );
            const per = (LINES * 2) / WORDS.length;
            return WORDS.every((w) => (counts[w] ?? []).map(Number).includes(per));
          }, 240_000);
        } catch (err) {
          throw new Error(`${err}\n${app.lines.join("\n")}\n${app.stderr()}`);
        } finally {
          await app.kill("SIGKILL");
        }
        return { killed, counts };
      } finally {
        await Deno.remove(state, { recursive: true }).catch(() => {});
      }
    });
    const per = (LINES * 2) / WORDS.length;
    const once = Object.fromEntries(
      WORDS.map((w) => [w, Array.from({ length: per }, (_, i) => String(i + 1))]),
    );
    for (const [broker, r] of Object.entries(got)) {
      assert.equal(r.killed, STREAMS_KILLS, broker);
      assert.deepEqual(r.counts, once, `${broker}: each word's counts 1..${per}, each once`);
    }
  },
);
