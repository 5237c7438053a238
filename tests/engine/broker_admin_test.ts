/**
 * The admin calls tools use (issue 10, item 3), on the embedded broker: topic configs that
 * apply at once, topic ids, configs and added partitions that survive a restart, and Apache
 * Kafka's own command-line tools (kafka-topics, kafka-configs, kafka-get-offsets,
 * kafka-delete-records, kafka-consumer-groups) doing their everyday jobs against it.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { kafkaTool } from "../_engines.ts";
import { envTest, withBroker } from "../_fixtures.ts";
import { withWire } from "../_kafka_wire.ts";
import { Any, batch, produce } from "../_broker_batches.ts";

/** Runs a Kafka CLI tool against `bootstrap`; fails the test on a non-zero exit unless `ok` is false. */
async function tool(bootstrap: string, name: string, args: string[], ok = true) {
  const r = await kafkaTool(name, ["--bootstrap-server", bootstrap, ...args], {
    timeoutMs: 90_000,
  });
  if (ok) assert.equal(r.code, 0, `${name} ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

await envTest(
  "Kafka's own CLI tools manage topics, configs, offsets, records and groups on the embedded broker",
  ["kafka"],
  async () => {
    await withBroker(async (broker) => {
      const b = broker.bootstrap;
      // kafka-topics: create with the defaults (KIP-464), with settings, describe, grow.
      await tool(b, "kafka-topics", ["--create", "--topic", "plain"]);
      await tool(b, "kafka-topics", [
        "--create",
        "--topic",
        "tuned",
        "--partitions",
        "3",
        "--config",
        "retention.ms=3600000",
      ]);
      const list = await tool(b, "kafka-topics", ["--list"]);
      assert.deepEqual(list.stdout.trim().split("\n"), ["plain", "tuned"]);
      let desc = await tool(b, "kafka-topics", ["--describe", "--topic", "tuned"]);
      assert.match(
        desc.stdout,
        /PartitionCount: 3\s+ReplicationFactor: 1\s+Configs: retention\.ms=3600000/,
      );
      await tool(b, "kafka-topics", ["--alter", "--topic", "plain", "--partitions", "2"]);
      desc = await tool(b, "kafka-topics", ["--describe", "--topic", "plain"]);
      assert.match(desc.stdout, /PartitionCount: 2/);
      assert.match(desc.stdout, /Configs: \n|Configs:\s*$/m, "no configs set on a default topic");
      const shrink = await tool(b, "kafka-topics", [
        "--alter",
        "--topic",
        "plain",
        "--partitions",
        "1",
      ], false);
      assert.notEqual(shrink.code, 0);
      assert.match(shrink.stdout + shrink.stderr, /InvalidPartitionsException/);

      // kafka-configs: set (applied at once), refuse a bad value, describe, delete.
      await tool(b, "kafka-configs", [
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        "plain",
        "--add-config",
        "max.message.bytes=500,cleanup.policy=[compact,delete]",
      ]);
      await withWire(b, async (c) => {
        const refused = await produce(c, "plain", 0, await batch(["y".repeat(600)]));
        assert.equal(refused.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
      });
      const bad = await tool(b, "kafka-configs", [
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        "plain",
        "--add-config",
        "retention.ms=soon",
      ], false);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stdout + bad.stderr, /InvalidConfigurationException/);
      const configs = await tool(b, "kafka-configs", [
        "--describe",
        "--entity-type",
        "topics",
        "--entity-name",
        "plain",
      ]);
      assert.match(configs.stdout, /max\.message\.bytes=500/);
      assert.match(configs.stdout, /cleanup\.policy=compact,delete/);
      await tool(b, "kafka-configs", [
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        "plain",
        "--delete-config",
        "max.message.bytes",
      ]);
      const brokerConfigs = await tool(b, "kafka-configs", [
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
        "--all",
      ]);
      assert.match(brokerConfigs.stdout, /num\.partitions=1/);

      // Records to look at: three batches with known timestamps in tuned-0.
      const t0 = Date.now() - 600_000; // inside the topic's hour of retention
      await withWire(b, async (c) => {
        for (const [i, ts] of [t0, t0 + 60_000, t0 + 30_000].entries()) {
          assert.equal(
            (await produce(c, "tuned", 0, await batch([`a${i}`, `b${i}`], ts))).errorCode,
            0,
          );
        }
      });
      // kafka-get-offsets: latest, earliest, max timestamp (KIP-734), by time.
      const latest = await tool(b, "kafka-get-offsets", ["--topic", "tuned"]);
      assert.deepEqual(latest.stdout.trim().split("\n").sort(), [
        "tuned:0:6",
        "tuned:1:0",
        "tuned:2:0",
      ]);
      const max = await tool(b, "kafka-get-offsets", [
        "--topic",
        "tuned",
        "--partitions",
        "0",
        "--time",
        "-3",
      ]);
      assert.equal(max.stdout.trim(), "tuned:0:3", "the record with the largest timestamp");
      const byTime = await tool(b, "kafka-get-offsets", [
        "--topic",
        "tuned",
        "--partitions",
        "0",
        "--time",
        String(t0 + 30_000),
      ]);
      assert.equal(byTime.stdout.trim(), "tuned:0:2", "the first record at or after the time");

      // kafka-delete-records: the low watermark moves.
      const json = await Deno.makeTempFile({ suffix: ".json" });
      try {
        await Deno.writeTextFile(
          json,
          JSON.stringify({ version: 1, partitions: [{ topic: "tuned", partition: 0, offset: 2 }] }),
        );
        const del = await tool(b, "kafka-delete-records", ["--offset-json-file", json]);
        assert.match(del.stdout, /partition: tuned-0\s+low_watermark: 2/);
      } finally {
        await Deno.remove(json);
      }
      const earliest = await tool(b, "kafka-get-offsets", [
        "--topic",
        "tuned",
        "--partitions",
        "0",
        "--time",
        "-2",
      ]);
      assert.equal(earliest.stdout.trim(), "tuned:0:2");

      // kafka-consumer-groups on a group whose offsets an admin set (simple commits).
      await withWire(b, async (c) => {
        const res = await c.call("OffsetCommit", 9, {
          groupId: "readers",
          generationIdOrMemberEpoch: -1,
          memberId: "",
          topics: [{
            name: "tuned",
            partitions: [{ partitionIndex: 0, committedOffset: 4 }, {
              partitionIndex: 1,
              committedOffset: 0,
            }],
          }],
        });
        assert.deepEqual(res.topics[0].partitions.map((p: Any) => p.errorCode), [0, 0]);
      });
      const groups = await tool(b, "kafka-consumer-groups", ["--list"]);
      assert.match(groups.stdout, /^readers$/m);
      const described = await tool(b, "kafka-consumer-groups", [
        "--describe",
        "--group",
        "readers",
      ]);
      assert.match(described.stdout, /readers\s+tuned\s+0\s+4\s+6\s+2/, "offset 4 of 6: lag 2");
      const reset = await tool(b, "kafka-consumer-groups", [
        "--reset-offsets",
        "--group",
        "readers",
        "--topic",
        "tuned:0",
        "--to-earliest",
        "--execute",
      ]);
      assert.match(reset.stdout, /readers\s+tuned\s+0\s+2/);
      const delOffsets = await tool(b, "kafka-consumer-groups", [
        "--delete-offsets",
        "--group",
        "readers",
        "--topic",
        "tuned",
      ]);
      assert.match(delOffsets.stdout, /tuned\s+0\s+Successful/);
      const delGroup = await tool(
        b,
        "kafka-consumer-groups",
        ["--delete", "--group", "readers"],
        false,
      );
      // The group went with its last offsets, as in Kafka.
      assert.match(
        delGroup.stdout + delGroup.stderr,
        /does not exist|GroupIdNotFoundException|deleted/i,
      );
      await tool(b, "kafka-topics", ["--delete", "--topic", "plain"]);
      const after = await tool(b, "kafka-topics", ["--list"]);
      assert.deepEqual(after.stdout.trim().split("\n"), ["tuned"]);
    }, { partitions: 1 });
  },
);
