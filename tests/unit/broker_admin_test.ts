/**
 * The admin calls tools use (issue 10, item 3), on the embedded broker: topic configs that
 * apply at once, topic ids, configs and added partitions that survive a restart, and Apache
 * Kafka's own command-line tools (kafka-topics, kafka-configs, kafka-get-offsets,
 * kafka-delete-records, kafka-consumer-groups) doing their everyday jobs against it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { startBroker } from "../../lib/broker/broker.ts";
import { withBroker, withTempDir } from "../_fixtures.ts";
import { WireClient, withWire } from "../_kafka_wire.ts";
import { Any, batch, produce } from "../_broker_batches.ts";

async function alter(c: WireClient, topic: string, configs: Any[]): Promise<number> {
  const res = await c.call("IncrementalAlterConfigs", 1, {
    resources: [{ resourceType: 2, resourceName: topic, configs }],
    validateOnly: false,
  });
  return res.responses[0].errorCode;
}

Deno.test("topic configs apply as soon as they are set: max.message.bytes and min.insync.replicas", async () => {
  await withBroker((broker) =>
    withWire(broker.bootstrap, async (c) => {
      await c.call("CreateTopics", 7, {
        topics: [{
          name: "small",
          numPartitions: 1,
          replicationFactor: 1,
          configs: [{ name: "max.message.bytes", value: "200" }],
        }],
      });
      const big = await batch(["x".repeat(300)]);
      const tooBig = await produce(c, "small", 0, big);
      assert.equal(tooBig.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
      assert.match(tooBig.errorMessage, /larger than max\.message\.bytes \(200\)/);
      assert.equal((await produce(c, "small", 0, await batch(["ok"]))).errorCode, 0);

      assert.equal(
        await alter(c, "small", [{ name: "max.message.bytes", configOperation: 0, value: "1000" }]),
        0,
      );
      assert.equal((await produce(c, "small", 0, big)).errorCode, 0, "the new limit is in force");

      assert.equal(
        await alter(c, "small", [{ name: "min.insync.replicas", configOperation: 0, value: "2" }]),
        0,
      );
      const all = await produce(c, "small", 0, await batch(["a"]), -1);
      assert.equal(all.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS, "acks=all needs two replicas");
      assert.equal((await produce(c, "small", 0, await batch(["b"]), 1)).errorCode, 0);

      assert.equal(
        await alter(c, "small", [
          { name: "min.insync.replicas", configOperation: 1, value: null },
          { name: "max.message.bytes", configOperation: 1, value: null },
        ]),
        0,
      );
      assert.equal((await produce(c, "small", 0, await batch(["c"]), -1)).errorCode, 0);
      const described = await c.call("DescribeConfigs", 4, {
        resources: [{
          resourceType: 2,
          resourceName: "small",
          configurationKeys: ["max.message.bytes", "min.insync.replicas"],
        }],
      });
      assert.deepEqual(
        described.results[0].configs.map((x: Any) => [x.name, x.configSource]),
        [["max.message.bytes", 5], ["min.insync.replicas", 5]],
        "back to the defaults",
      );
    })
  );
});

Deno.test("topic ids, configs and added partitions survive a restart on the same data dir", async () => {
  await withTempDir(async (dir) => {
    const dataDir = join(dir, "kafka");
    let before: Any;
    {
      const broker = await startBroker({ port: 0, dataDir });
      try {
        before = await withWire(broker.bootstrap, async (c) => {
          await c.call("CreateTopics", 7, {
            topics: [{
              name: "kept",
              numPartitions: 1,
              replicationFactor: 1,
              configs: [{ name: "retention.ms", value: "3600000" }],
            }],
          });
          await c.call("CreatePartitions", 3, {
            topics: [{ name: "kept", count: 3, assignments: null }],
            timeoutMs: 1000,
            validateOnly: false,
          });
          await alter(c, "kept", [{
            name: "cleanup.policy",
            configOperation: 0,
            value: "compact",
          }]);
          assert.equal((await produce(c, "kept", 2, await batch(["p2"]))).errorCode, 0);
          return await c.call("Metadata", 12, { topics: [{ name: "kept" }] });
        });
      } finally {
        await broker.close();
      }
    }
    const broker = await startBroker({ port: 0, dataDir });
    try {
      await withWire(broker.bootstrap, async (c) => {
        const after = await c.call("Metadata", 12, { topics: [{ name: "kept" }] });
        assert.equal(after.topics[0].topicId, before.topics[0].topicId, "the topic id is kept");
        assert.equal(after.topics[0].partitions.length, 3);
        const byId = await c.call("Metadata", 12, {
          topics: [{ name: null, topicId: before.topics[0].topicId }],
        });
        assert.equal(byId.topics[0].name, "kept");
        const configs = await c.call("DescribeConfigs", 4, {
          resources: [{
            resourceType: 2,
            resourceName: "kept",
            configurationKeys: ["retention.ms", "cleanup.policy"],
          }],
        });
        assert.deepEqual(
          Object.fromEntries(configs.results[0].configs.map((x: Any) => [x.name, x.value])),
          { "retention.ms": "3600000", "cleanup.policy": "compact" },
        );
        const latest = await c.call("ListOffsets", 8, {
          replicaId: -1,
          topics: [{ name: "kept", partitions: [{ partitionIndex: 2, timestamp: -1 }] }],
        });
        assert.equal(latest.topics[0].partitions[0].offset, 1, "the new partition kept its record");
      });
    } finally {
      await broker.close();
    }
  });
});
