/**
 * Apache Kafka's own CLI tools (3.9.1, from the engine cache) against Apache Kafka, which
 * proves the harness, and against the embedded broker: kafka-topics (create with defaults,
 * list, describe, alter, delete), kafka-console-producer and -consumer (acks=all, every codec,
 * headers), kafka-consumer-groups (--describe of a group losing a member, --reset-offsets),
 * kafka-configs, kafka-get-offsets, kafka-producer-perf-test and kafka-consumer-perf-test,
 * and the console producer's idempotent retry through a lost produce response.
 * The tools are Java producers and consumers with Java's defaults: idempotence is on.
 */
import assert from "node:assert/strict";
import { kafkaTool, kafkaToolCommand } from "../_engines.ts";
import { envTest, type Need, waitFor } from "../_fixtures.ts";
import {
  committedOffsets,
  createTopics,
  DEFAULT_PARTITIONS,
  GROUP_SESSION_MS,
  highWatermarks,
  kcatRead,
  onTarget,
  produceToEach,
  recordValue,
  type Running,
  spawnCommand,
  TARGETS,
} from "../clients/_matrix.ts";
import { CODECS, startRetryProxy, storedBatches } from "../clients/_wire.ts";

const needs: Need[] = ["kafka", "kcat"];

/** Runs a Kafka CLI tool and fails with its output unless it exits 0; returns stdout. */
async function tool(name: string, args: string[], stdin?: string): Promise<string> {
  const r = await kafkaTool(name, args, { stdin, timeoutMs: 90_000 });
  assert.equal(
    r.code,
    0,
    `${name} ${args.join(" ")} exited ${r.code}:\n${
      (r.stderr + r.stdout).trim().split("\n").slice(-12).join("\n")
    }`,
  );
  return r.stdout;
}

let n = 0;
const uniq = (p: string) => `cli-${p}-${Date.now().toString(36)}-${++n}`;

/** `kafka-consumer-groups --describe --members`: the partitions each member holds. */
async function groupMembers(bootstrap: string, group: string): Promise<number[]> {
  const out = await tool("kafka-consumer-groups", [
    "--bootstrap-server",
    bootstrap,
    "--describe",
    "--group",
    group,
    "--members",
  ]);
  // GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
  return out.split("\n").filter((l) => l.startsWith(`${group} `)).map((l) =>
    Number(l.trim().split(/\s+/).at(-1))
  );
}

for (const target of TARGETS) {
  const on = ` on ${target}`;

  await envTest(
    `kafka-topics creates a topic with the broker's defaults, lists, describes, alters and ` +
      `deletes it${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("topics");
        const b = ["--bootstrap-server", t.bootstrap];
        await tool("kafka-topics", [...b, "--create", "--topic", topic]);
        assert.ok((await tool("kafka-topics", [...b, "--list"])).split("\n").includes(topic));
        const described = await tool("kafka-topics", [...b, "--describe", "--topic", topic]);
        assert.match(described, new RegExp(`PartitionCount:\\s*${DEFAULT_PARTITIONS}\\b`));
        assert.match(described, /ReplicationFactor:\s*1\b/);
        await tool("kafka-topics", [...b, "--alter", "--topic", topic, "--partitions", "5"]);
        assert.match(
          await tool("kafka-topics", [...b, "--describe", "--topic", topic]),
          /PartitionCount:\s*5\b/,
        );
        await tool("kafka-topics", [...b, "--delete", "--topic", topic]);
        await waitFor(`"${topic}" to disappear from kafka-topics --list`, async () =>
          !(await tool("kafka-topics", [...b, "--list"])).split("\n").includes(topic), 30_000);
      }),
  );

  await envTest(
    `kafka-console-producer sends with acks=all in every codec with headers, and ` +
      `kafka-console-consumer and kcat read them back${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("console");
        await createTopics(
          t.bootstrap,
          CODECS.map((c) => ({ topic: `${topic}-${c}`, partitions: 1 })),
        );
        for (const codec of CODECS) {
          // headers<TAB>key<TAB>value, headers as k:v,k:v (LineMessageReader's defaults).
          const lines = Array.from(
            { length: 10 },
            (_, i) => `index:${i},codec:${codec}\tk${i}\t${recordValue(codec, i)}`,
          );
          await tool("kafka-console-producer", [
            "--bootstrap-server",
            t.bootstrap,
            "--topic",
            `${topic}-${codec}`,
            "--request-required-acks",
            "all",
            "--compression-codec",
            codec,
            "--property",
            "parse.key=true",
            "--property",
            "parse.headers=true",
          ], lines.join("\n") + "\n");
          const got = await kcatRead(t.bootstrap, `${topic}-${codec}`);
          assert.deepEqual(
            got.map((g) => ({ key: g.key, value: g.payload, headers: g.headers })),
            Array.from({ length: 10 }, (_, i) => ({
              key: `k${i}`,
              value: recordValue(codec, i),
              headers: { index: String(i), codec },
            })),
          );
          const batches = await storedBatches(t.bootstrap, `${topic}-${codec}`);
          assert.deepEqual([...new Set(batches.map((b) => b.codec))], [codec]);
        }
        const consumed = await tool("kafka-console-consumer", [
          "--bootstrap-server",
          t.bootstrap,
          "--topic",
          `${topic}-zstd`,
          "--from-beginning",
          "--max-messages",
          "10",
          "--timeout-ms",
          "30000",
          "--property",
          "print.key=true",
          "--property",
          "print.headers=true",
        ]);
        // headers<TAB>key<TAB>value per line.
        assert.deepEqual(
          consumed.trim().split("\n"),
          Array.from(
            { length: 10 },
            (_, i) => `index:${i},codec:zstd\tk${i}\t${recordValue("zstd", i)}`,
          ),
        );
      }),
  );

  await envTest(
    `kafka-consumer-groups describes three console consumers, then the two left when one ` +
      `is killed, and they consume every partition${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("group");
        const group = uniq("group");
        await createTopics(t.bootstrap, [{ topic, partitions: 6 }]);
        const members: Running[] = [];
        try {
          for (let i = 0; i < 3; i++) {
            members.push(spawnCommand(
              await kafkaToolCommand("kafka-console-consumer", [
                "--bootstrap-server",
                t.bootstrap,
                "--topic",
                topic,
                "--group",
                group,
                "--consumer-property",
                `session.timeout.ms=${GROUP_SESSION_MS}`,
                "--consumer-property",
                "heartbeat.interval.ms=500",
                // Earliest, not the tool's default latest: a partition handed to a survivor
                // after the kill has no committed offset, and "latest" resolved after the
                // records below were produced would skip them (a race of the test, on any
                // broker, not a lost record).
                "--consumer-property",
                "auto.offset.reset=earliest",
              ]),
            ));
          }
          const membersHold = async (count: number) => {
            const parts = await groupMembers(t.bootstrap, group);
            return parts.length === count && parts.every((p) => p > 0) &&
              parts.reduce((a, b) => a + b, 0) === 6;
          };
          const why = () =>
            members.map((m, i) => `member ${i + 1}:\n${m.stderr().trim().split("\n").slice(-5)}`)
              .join("\n");
          await waitFor("three members holding 6 partitions", () => membersHold(3), 90_000, 0)
            .catch((e) => {
              throw new Error(`${e.message}\n${why()}`);
            });
          await members.pop()!.kill("SIGKILL");
          await waitFor("two members holding 6 partitions", () => membersHold(2), 90_000, 0)
            .catch((e) => {
              throw new Error(`${e.message}\n${why()}`);
            });
          await produceToEach(t.bootstrap, topic, 6, 5, "cli-after-kill");
          const want = Array.from({ length: 30 }, (_, k) =>
            `cli-after-kill ${Math.floor(k / 5)} ${k % 5}`);
          await waitFor("the two survivors to print every record", () => {
            const seen = new Set(members.flatMap((m) =>
              m.stdout().split("\n")
            ));
            return want.every((v) => seen.has(v));
          }, 60_000);
        } finally {
          await Promise.all(members.map((m) => m.kill("SIGTERM")));
        }
      }),
  );

  await envTest(
    `kafka-consumer-groups resets a group's offsets and describes them, as kafkajs also ` +
      `reads them${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("reset");
        const group = uniq("reset");
        await createTopics(t.bootstrap, [{ topic, partitions: DEFAULT_PARTITIONS }]);
        await produceToEach(t.bootstrap, topic, DEFAULT_PARTITIONS, 10, "r");
        const b = ["--bootstrap-server", t.bootstrap, "--group", group];
        await tool("kafka-consumer-groups", [
          ...b,
          "--topic",
          topic,
          "--reset-offsets",
          "--to-offset",
          "4",
          "--execute",
        ]);
        const described = await tool("kafka-consumer-groups", [...b, "--describe", "--offsets"]);
        // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG …
        const rows = described.split("\n").filter((l) => l.startsWith(`${group} `))
          .map((l) => l.trim().split(/\s+/).slice(2, 6).map(Number));
        assert.deepEqual(rows.sort((x, y) => x[0] - y[0]), [[0, 4, 10, 6], [1, 4, 10, 6], [
          2,
          4,
          10,
          6,
        ]]);
        assert.deepEqual(await committedOffsets(t.bootstrap, group, topic), {
          "0": 4,
          "1": 4,
          "2": 4,
        });
      }),
  );

  await envTest(
    `kafka-configs sets a topic's retention.ms and describes it${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("configs");
        await createTopics(t.bootstrap, [{ topic, partitions: 1 }]);
        const b = ["--bootstrap-server", t.bootstrap, "--entity-type", "topics"];
        await tool("kafka-configs", [
          ...b,
          "--entity-name",
          topic,
          "--alter",
          "--add-config",
          "retention.ms=3600000",
        ]);
        assert.match(
          await tool("kafka-configs", [...b, "--entity-name", topic, "--describe"]),
          /retention\.ms=3600000\b/,
        );
      }),
  );

  await envTest(
    `kafka-producer-perf-test writes 20,000 records with acks=all, and kafka-get-offsets and ` +
      `kafka-consumer-perf-test see them all${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("perf");
        await createTopics(t.bootstrap, [{ topic, partitions: DEFAULT_PARTITIONS }]);
        const produced = await tool("kafka-producer-perf-test", [
          "--topic",
          topic,
          "--num-records",
          "20000",
          "--record-size",
          "1024",
          "--throughput",
          "-1",
          "--producer-props",
          `bootstrap.servers=${t.bootstrap}`,
          "acks=all",
        ]);
        assert.match(produced, /^20000 records sent/m);
        const ends = await tool("kafka-get-offsets", [
          "--bootstrap-server",
          t.bootstrap,
          "--topic",
          topic,
        ]);
        // topic:partition:offset per line
        const total = ends.trim().split("\n").map((l) => Number(l.split(":").at(-1)))
          .reduce((a, b) => a + b, 0);
        assert.equal(total, 20000, ends);
        assert.equal((await highWatermarks(t.bootstrap, topic)).reduce((a, b) => a + b, 0), 20000);
        const consumed = await tool("kafka-consumer-perf-test", [
          "--bootstrap-server",
          t.bootstrap,
          "--topic",
          topic,
          "--messages",
          "20000",
          "--timeout",
          "30000",
        ]);
        // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, …
        const data = consumed.trim().split("\n").at(-1)!.split(",").map((f) => f.trim());
        assert.equal(Number(data[4]), 20000, consumed);
      }),
  );

  await envTest(
    `kafka-console-producer with enable.idempotence retries through a lost produce response ` +
      `and leaves no duplicate${on}`,
    needs,
    () =>
      onTarget(target, async (t) => {
        const topic = uniq("idempotent");
        await createTopics(t.bootstrap, [{ topic, partitions: 1 }]);
        const proxy = startRetryProxy(t.bootstrap);
        try {
          await tool("kafka-console-producer", [
            "--bootstrap-server",
            proxy.bootstrap,
            "--topic",
            topic,
            "--sync",
            "--request-required-acks",
            "all",
            "--producer-property",
            "enable.idempotence=true",
          ], Array.from({ length: 10 }, (_, i) => recordValue("none", i)).join("\n") + "\n");
        } finally {
          await proxy.close();
        }
        assert.ok(proxy.dropped(), "the proxy never saw a produce response to lose");
        assert.ok(proxy.produceRequestsAfterDrop() >= 1, "no produce request after the lost one");
        assert.deepEqual(
          (await kcatRead(t.bootstrap, topic)).map((g) => g.payload),
          Array.from({ length: 10 }, (_, i) => recordValue("none", i)),
        );
        const batches = await storedBatches(t.bootstrap, topic);
        assert.ok(batches.every((b) => b.producerId >= 0n), "a batch has no producer id");
      }),
  );
}
