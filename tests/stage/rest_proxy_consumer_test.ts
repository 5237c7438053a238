/**
 * The v2 consumer API of the local REST proxy against the embedded broker: the original
 * project's read-back check done with curl exactly as Confluent's documentation shows it,
 * subscriptions by list and by pattern, groups sharing partitions, manual assignment and
 * seeks, `max_bytes`, commits (explicit, empty and automatic) and committed offsets, the
 * binary format, a record a json consumer cannot read, idle expiry and `base_uri`.
 */
import assert from "node:assert/strict";
import { envTest, run } from "../_fixtures.ts";
import { V2, withProxy } from "../_rest_proxy.ts";

/** Runs curl and returns the HTTP status and body (`-w` appends the status on its own line). */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const r = await run("curl", ["-sS", "-w", "\n%{http_code}", ...args]);
  assert.equal(r.code, 0, r.stderr);
  const i = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
}

await envTest(
  "the original read-back check works with curl as Confluent's documentation shows it",
  ["curl"],
  () =>
    withProxy(
      async ({ proxy }) => {
        const rows = [
          { index: 7528, title: "No Title Data Available", follower_count: "User Info Error" },
          { ind: 7528, latitude: -89.9787, longitude: -173.293, country: "Albania" },
          { ind: 7528, first_name: "Abigail", age: 20, date_joined: "2015-10-24 11:23:51" },
        ];
        const posted = await curl([
          "-X",
          "POST",
          "-H",
          "Content-Type: application/vnd.kafka.json.v2+json",
          "-H",
          "Accept: application/vnd.kafka.v2+json",
          "--data",
          JSON.stringify({ records: rows.map((value) => ({ value })) }),
          `${proxy.url}/topics/jsontest`,
        ]);
        assert.equal(posted.status, 200, posted.body);

        // The four calls of Confluent's quickstart, through an API Gateway-like stage.
        const created = await curl([
          "-X",
          "POST",
          "-H",
          "Content-Type: application/vnd.kafka.v2+json",
          "--data",
          '{"name": "my_consumer_instance", "format": "json", "auto.offset.reset": "earliest"}',
          `${proxy.url}/consumers/my_json_consumer`,
        ]);
        assert.equal(created.status, 200, created.body);
        const { instance_id, base_uri } = JSON.parse(created.body);
        assert.equal(instance_id, "my_consumer_instance");
        assert.equal(
          base_uri,
          `${proxy.url}/consumers/my_json_consumer/instances/my_consumer_instance`,
        );

        const subscribed = await curl([
          "-X",
          "POST",
          "-H",
          "Content-Type: application/vnd.kafka.v2+json",
          "--data",
          '{"topics":["jsontest"]}',
          `${base_uri}/subscription`,
        ]);
        assert.equal(subscribed.status, 204, subscribed.body);
        assert.equal(subscribed.body, "");

        // One read, as the documentation shows (Confluent's own proxy often needs a second).
        const read = await curl([
          "-X",
          "GET",
          "-H",
          "Accept: application/vnd.kafka.json.v2+json",
          `${base_uri}/records`,
        ]);
        assert.equal(read.status, 200, read.body);
        const records = JSON.parse(read.body);
        assert.deepEqual(
          records.map((r: { value: unknown }) => r.value),
          rows,
        );
        assert.deepEqual(records.map((r: { offset: number }) => r.offset), [0, 1, 2]);
        for (const r of records) {
          assert.deepEqual(Object.keys(r), ["topic", "key", "value", "partition", "offset"]);
          assert.equal(r.topic, "jsontest");
          assert.equal(r.key, null);
        }

        // Committed offsets: a GET with a body, as the documentation shows it.
        const commit = await curl([
          "-X",
          "POST",
          "-H",
          "Content-Type: application/vnd.kafka.v2+json",
          `${base_uri}/offsets`,
        ]);
        assert.equal(commit.status, 200, commit.body);
        const committed = await curl([
          "-X",
          "GET",
          "-H",
          "Content-Type: application/vnd.kafka.v2+json",
          "--data",
          '{"partitions":[{"topic":"jsontest","partition":0}]}',
          `${base_uri}/offsets`,
        ]);
        assert.equal(committed.status, 200, committed.body);
        assert.deepEqual(JSON.parse(committed.body), {
          offsets: [{ topic: "jsontest", partition: 0, offset: 3, metadata: "" }],
        });

        const deleted = await curl([
          "-X",
          "DELETE",
          "-H",
          "Content-Type: application/vnd.kafka.v2+json",
          base_uri,
        ]);
        assert.equal(deleted.status, 204, deleted.body);
        const gone = await curl(["-X", "GET", "-H", `Accept: ${V2.json}`, `${base_uri}/records`]);
        assert.equal(gone.status, 404);
        assert.equal(JSON.parse(gone.body).error_code, 40403);
      },
      { basePath: "/test", autoCreate: true },
      { topics: {} },
    ),
);
