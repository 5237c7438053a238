/**
 * Every API at every version the broker serves, over raw frames: the scenarios of
 * tests/_broker_scenarios.ts run against the embedded broker and Apache Kafka 3.9.1, and the
 * two transcripts must match field for field, apart from what differs between any two brokers
 * (ids, addresses, clocks, wording, order).
 */
import assert from "node:assert/strict";
import { withKafka } from "../_engines.ts";
import { envTest, withBroker } from "../_fixtures.ts";
import { canonical, transcript } from "../_broker_scenarios.ts";

await envTest(
  "the embedded broker and Apache Kafka 3.9 give the same answers to the same requests",
  ["kafka"],
  async () => {
    await withKafka(async (kafka) => {
      await withBroker(async (broker) => {
        const ours = await transcript(broker.bootstrap, "pinpipe");
        const theirs = await transcript(kafka.bootstrap, "kafka");
        assert.deepEqual(ours.map((s) => s.label), theirs.map((s) => s.label));
        for (let i = 0; i < ours.length; i++) {
          assert.deepEqual(
            canonical(ours[i].answer),
            canonical(theirs[i].answer),
            `step ${i}, ${ours[i].label}: the embedded broker (actual) and Kafka (expected) differ`,
          );
        }
      }, { partitions: 1 });
    }, {
      config: {
        "auto.create.topics.enable": false,
        "offsets.topic.num.partitions": 1,
        "num.partitions": 1,
      },
    });
  },
);
