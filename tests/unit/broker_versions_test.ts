/**
 * Every API at every version the broker serves, over raw frames: the scenarios of
 * tests/_broker_scenarios.ts (topics, data, groups, admin calls, transactions) on the embedded
 * broker, each step checked against the answer Kafka's semantics call for.
 * tests/engine/broker_versions_test.ts compares the same transcript with Apache Kafka 3.9.1's.
 */
import assert from "node:assert/strict";
import { withBroker } from "../_fixtures.ts";
import { transcript, versionsOf } from "../_broker_scenarios.ts";

Deno.test("every API answers at every version with Kafka's semantics (raw frames)", async () => {
  await withBroker(async (broker) => {
    const steps = await transcript(broker.bootstrap, "pinpipe");
    for (const a of ["Produce", "Fetch", "Metadata", "JoinGroup", "CreateTopics", "DeleteTopics"]) {
      for (const v of versionsOf(a)) {
        assert.ok(
          steps.some((s) => s.label.includes(`(${a} v${v})`)),
          `the scenarios exercise ${a} v${v}`,
        );
      }
    }
  }, { partitions: 1 });
});
