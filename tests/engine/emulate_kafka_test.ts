/**
 * The emulator straight to Kafka (kafkajs) on the embedded broker: exact counts on the
 * three topics, a posting's records share its key, values round-trip, and a missing topic
 * stops the run with the topic named.
 */
import assert from "node:assert/strict";
import { createDataset } from "../../lib/source/dataset.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import { envTest, run, withBroker } from "../_fixtures.ts";

async function createTopics(bootstrap: string, topics: string[]): Promise<void> {
  const admin = createKafka({ bootstrap }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

await envTest(
  "the emulate task sends to Kafka and kcat reads the same records",
  ["kcat"],
  async () => {
    await withBroker(async (broker) => {
      await createTopics(broker.bootstrap, ["c.pin", "c.geo", "c.user"]);
      const r = await run("deno", [
        "run",
        "-A",
        "tasks/emulate.ts",
        "--bootstrap",
        broker.bootstrap,
        "--prefix",
        "c",
        "--postings",
        "120",
        "--json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.acknowledged, 360);
      assert.equal(summary.target, `Kafka at ${broker.bootstrap}`);
      const kc = await run("kcat", [
        "-C",
        "-b",
        broker.bootstrap,
        "-t",
        "c.geo",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%k\t%s\n",
      ]);
      assert.equal(kc.code, 0, kc.stderr);
      const lines = kc.stdout.trim().split("\n");
      assert.equal(lines.length, 120);
      const ds = createDataset();
      for (const line of lines) {
        const [key, value] = line.split("\t");
        assert.equal(value, JSON.stringify(ds.posting(Number(key)).geo));
      }
      // Random mode: the original's first keys, in order within the partition.
      assert.deepEqual(lines.slice(0, 3).map((l) => Number(l.split("\t")[0])), [7528, 2863, 5730]);
    });
  },
);
