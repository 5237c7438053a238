/**
 * The v3 API of the local REST proxy: clusters and topics, the records API with JSON, BINARY
 * and STRING data and headers, its streaming form (results arrive while the body is still
 * being sent), per-record errors, and the emulator producing through it (`--rest-api v3`).
 */
import assert from "node:assert/strict";
import { waitFor } from "../_fixtures.ts";
import { call, consume, rawPost, T, text, withProxy } from "../_rest_proxy.ts";

const JSON_TYPE = { "content-type": "application/json" };

Deno.test({
  ...T,
  name: "v3 lists the cluster and its topics with links under the forwarded base URL",
  fn: () =>
    withProxy(
      async ({ proxy }) => {
        const clusters = await call(proxy, "GET", "/v3/clusters");
        assert.equal(clusters.status, 200);
        assert.equal(clusters.headers.get("content-type"), "application/json");
        assert.equal(clusters.body.kind, "KafkaClusterList");
        const [c] = clusters.body.data;
        assert.equal(c.kind, "KafkaCluster");
        assert.ok(c.cluster_id.length > 0);
        assert.equal(c.metadata.self, `${proxy.url}/v3/clusters/${c.cluster_id}`);
        const one = await call(proxy, "GET", `/v3/clusters/${c.cluster_id}`);
        assert.equal(one.body.cluster_id, c.cluster_id);
        const topics = await call(proxy, "GET", `/v3/clusters/${c.cluster_id}/topics`, undefined, {
          "x-forwarded-proto": "https",
          "x-forwarded-host": "gw.example",
        });
        assert.equal(topics.status, 200);
        assert.equal(topics.body.kind, "KafkaTopicList");
        assert.deepEqual(
          topics.body.data.map((t: { topic_name: string; partitions_count: number }) => [
            t.topic_name,
            t.partitions_count,
          ]),
          [["a.pin", 2], ["b.pin", 1]],
        );
        assert.equal(
          topics.body.data[0].metadata.self,
          `https://gw.example/v1/v3/clusters/${c.cluster_id}/topics/a.pin`,
        );
      },
      { basePath: "/v1" },
      { topics: { "a.pin": 2, "b.pin": 1 } },
    ),
});

Deno.test({
  ...T,
  name: "v3 records carry JSON data byte for byte, BINARY and STRING data, and headers",
  fn: () =>
    withProxy(
      async ({ proxy, kafka }) => {
        const id = (await call(proxy, "GET", "/v3/clusters")).body.data[0].cluster_id;
        const body = [
          '{"key":{"type":"JSON","data":12345678901234567890},"value":{"type":"JSON","data":{"n":1.0,"e":1e2}}}',
          `{"key":{"type":"STRING","data":"k2"},"value":{"type":"BINARY","data":"${
            btoa("\x00\xff")
          }"},"headers":[{"name":"h","value":"${btoa("hv")}"}],"partition_id":0}`,
          '{"value":{"type":"STRING","data":"plain text"},"timestamp":"2021-03-04T05:06:07.000Z"}',
        ].join("\n");
        const r = await call(
          proxy,
          "POST",
          `/v3/clusters/${id}/topics/t.pin/records`,
          body,
          JSON_TYPE,
        );
        assert.equal(r.status, 200, r.text);
        const lines = r.text.split("\r\n").filter(Boolean).map((l) => JSON.parse(l));
        assert.equal(lines.length, 3);
        for (const l of lines) {
          assert.equal(l.error_code, 200, JSON.stringify(l));
          assert.equal(l.cluster_id, id);
          assert.equal(l.topic_name, "t.pin");
          assert.ok(Number.isInteger(l.offset));
        }
        assert.deepEqual(lines[0].key, { type: "JSON", size: 20 });
        assert.deepEqual(lines[0].value, { type: "JSON", size: 17 });
        assert.deepEqual(lines[1].value, { type: "BINARY", size: 2 });
        assert.equal(lines[1].partition_id, 0);
        assert.equal(lines[2].key, null);
        assert.equal(lines[2].timestamp, "2021-03-04T05:06:07.000Z");

        const consumer = kafka.consumer({ groupId: "v3", maxWaitTimeInMs: 100 });
        const got: {
          key: string | null;
          value: Uint8Array;
          headers: Record<string, unknown>;
          ts: string;
        }[] = [];
        await consumer.connect();
        await consumer.subscribe({ topics: ["t.pin"], fromBeginning: true });
        await consumer.run({
          eachMessage: ({ message }) => {
            got.push({
              key: message.key?.toString() ?? null,
              value: new Uint8Array(message.value!),
              headers: message.headers ?? {},
              ts: message.timestamp,
            });
            return Promise.resolve();
          },
        });
        await waitFor("3 records", () => got.length === 3, 30_000);
        await consumer.disconnect();
        const byKey = new Map(got.map((g) => [g.key, g]));
        assert.equal(text(byKey.get("12345678901234567890")!.value), '{"n":1.0,"e":1e2}');
        assert.deepEqual(byKey.get("k2")!.value, new Uint8Array([0, 255]));
        assert.equal(String(byKey.get("k2")!.headers.h), "hv");
        assert.equal(text(byKey.get(null)!.value), "plain text");
        assert.equal(byKey.get(null)!.ts, String(Date.parse("2021-03-04T05:06:07.000Z")));
      },
      {},
      { topics: { "t.pin": 1 } },
    ),
});

Deno.test({
  ...T,
  name: "a v3 stream answers each record as it is acknowledged while the body is still open",
  fn: () =>
    withProxy(
      async ({ proxy, kafka }) => {
        const id = (await call(proxy, "GET", "/v3/clusters")).body.data[0].cluster_id;
        const req = await rawPost(proxy, `/v3/clusters/${id}/topics/t.pin/records`, JSON_TYPE);
        const results = () => (req.response().match(/"error_code":/g) ?? []).length;
        for (let i = 0; i < 5; i++) {
          // Each record split across two chunks, so a record arriving in pieces is handled.
          const rec = JSON.stringify({ value: { type: "JSON", data: { i } } });
          await req.chunk(rec.slice(0, 10));
          await req.chunk(rec.slice(10) + "\n");
          await waitFor(`the result of record ${i}`, () => results() === i + 1, 20_000);
        }
        // Per-record errors come back in line and the stream goes on.
        await req.chunk('{"value":{"type":"BINARY","data":"%%"}}');
        await req.chunk('{"value":{"data":1}}');
        await req.chunk('{"value":{"type":"JSON","data":"last"}}');
        await waitFor("three more results", () => results() === 8, 20_000);
        await req.end();
        await waitFor("the end of the answer", () => req.response().endsWith("0\r\n\r\n"), 20_000);
        await req.close();
        const head = req.response().split("\r\n\r\n")[0];
        assert.match(head, /^HTTP\/1\.1 200/);
        const lines = req.response().split("\r\n").filter((l) => l.startsWith("{")).map((l) =>
          JSON.parse(l)
        );
        assert.deepEqual(lines.map((l) => l.error_code), [200, 200, 200, 200, 200, 400, 400, 200]);
        assert.deepEqual(lines.slice(0, 5).map((l) => l.offset), [0, 1, 2, 3, 4]);
        assert.match(lines[5].message, /is not a base64 string/);
        assert.match(lines[6].message, /needs a Schema Registry/);
        const held = await consume(kafka, "t.pin", 6);
        assert.deepEqual(
          held.map((h) => text(h.value)),
          [0, 1, 2, 3, 4].map((i) => `{"i":${i}}`).concat(['"last"']),
        );
      },
      {},
      { topics: { "t.pin": 1 } },
    ),
});

Deno.test({
  ...T,
  name: "JSON a v3 stream cannot parse ends the stream after an error line",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const id = (await call(proxy, "GET", "/v3/clusters")).body.data[0].cluster_id;
      const body =
        '{"value":{"type":"JSON","data":1}}\n{"value": nope}\n{"value":{"type":"JSON","data":2}}';
      const r = await call(
        proxy,
        "POST",
        `/v3/clusters/${id}/topics/t.pin/records`,
        body,
        JSON_TYPE,
      );
      assert.equal(r.status, 200);
      const lines = r.text.split("\r\n").filter(Boolean).map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.error_code), [200, 400]);
      assert.match(lines[1].message, /Error processing JSON/);
    }),
});
