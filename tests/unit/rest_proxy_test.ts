/**
 * The local REST proxy against the embedded broker: the v2 produce contract (json and
 * binary, to a topic and to a partition), the metadata endpoints, the API key and base path,
 * and every whole-request and per-record status and error code, table-driven.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { startRestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import { waitFor } from "../_fixtures.ts";
import {
  call,
  consume,
  createTopics,
  produce,
  rawPost,
  T,
  text,
  V2,
  withProxy,
} from "../_rest_proxy.ts";

Deno.test({
  ...T,
  name: "json records are produced with acks from the broker and one offset entry each",
  fn: () =>
    withProxy(async ({ proxy, kafka }) => {
      const records = [
        { key: 7528, value: { index: 7528, title: "No Title Data Available" } },
        { key: "a", value: ["foo", "bar"], partition: 2 },
        { value: 53.5 },
      ];
      const r = await produce(proxy, "t.pin", JSON.stringify({ records }));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-type"), V2.response);
      assert.equal(r.body.offsets.length, 3);
      assert.equal(r.body.key_schema_id, null);
      for (const o of r.body.offsets) {
        assert.equal(o.error_code, null);
        assert.equal(o.error, null);
        assert.ok(Number.isInteger(o.offset) && o.offset >= 0);
      }
      assert.equal(r.body.offsets[1].partition, 2, "an explicit partition is honoured");
      const got = await consume(kafka, "t.pin", 3);
      const byValue = new Map(got.map((g) => [text(g.value), g]));
      const first = byValue.get(JSON.stringify(records[0].value))!;
      assert.equal(text(first.key), "7528", "a numeric key is stored as its JSON text");
      assert.deepEqual([first.partition, first.offset], [
        r.body.offsets[0].partition,
        r.body.offsets[0].offset,
      ]);
      const second = byValue.get('["foo","bar"]')!;
      assert.equal(text(second.key), '"a"', "a string key is stored as its JSON text");
      assert.equal(second.partition, 2);
      assert.equal(byValue.get("53.5")!.key, null);
    }),
});

Deno.test({
  ...T,
  name: "binary records carry base64 keys and values through unchanged",
  fn: () =>
    withProxy(async ({ proxy, kafka }) => {
      const value = new Uint8Array([0, 1, 2, 250, 255]);
      const body = JSON.stringify({
        records: [{ key: btoa("7528"), value: btoa(String.fromCharCode(...value)) }],
      });
      const r = await produce(proxy, "t.pin", body, V2.binary);
      assert.equal(r.status, 200);
      assert.equal(r.body.offsets[0].error_code, null);
      const [got] = await consume(kafka, "t.pin", 1);
      assert.equal(text(got.key), "7528");
      assert.deepEqual(got.value, value);
    }),
});

Deno.test({
  ...T,
  name: "records posted to a partition's URL land in that partition, whose offsets are then served",
  fn: () =>
    withProxy(async ({ proxy, kafka }) => {
      const body = JSON.stringify({ records: [{ value: { n: 1 } }, { key: 9, value: { n: 2 } }] });
      const r = await call(proxy, "POST", "/topics/t.pin/partitions/1", body, {
        "content-type": V2.json,
      });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.offsets.map((o: { partition: number }) => o.partition), [1, 1]);
      assert.deepEqual(r.body.offsets.map((o: { offset: number }) => o.offset), [0, 1]);
      const got = await consume(kafka, "t.pin", 2);
      assert.ok(got.every((g) => g.partition === 1));

      const offsets = await call(proxy, "GET", "/topics/t.pin/partitions/1/offsets");
      assert.equal(offsets.status, 200);
      assert.deepEqual(offsets.body, { beginning_offset: 0, end_offset: 2 });
      const empty = await call(proxy, "GET", "/topics/t.pin/partitions/0/offsets");
      assert.deepEqual(empty.body, { beginning_offset: 0, end_offset: 0 });

      const parts = await call(proxy, "GET", "/topics/t.pin/partitions");
      assert.equal(parts.status, 200);
      assert.deepEqual(parts.body.map((p: { partition: number }) => p.partition), [0, 1, 2]);
      assert.deepEqual(parts.body[1].replicas, [{
        broker: parts.body[1].leader,
        leader: true,
        in_sync: true,
      }]);
      const one = await call(proxy, "GET", "/topics/t.pin/partitions/2");
      assert.equal(one.status, 200);
      assert.equal(one.body.partition, 2);
    }),
});

Deno.test({
  ...T,
  name: "topics, brokers and the root are served, and unknown topics answer 40401",
  fn: () =>
    withProxy(async ({ proxy }) => {
      assert.deepEqual((await call(proxy, "GET", "/topics")).body, ["t.pin"]);
      const desc = await call(proxy, "GET", "/topics/t.pin");
      assert.equal(desc.body.name, "t.pin");
      assert.deepEqual(desc.body.configs, {});
      assert.deepEqual(desc.body.partitions.map((p: { partition: number }) => p.partition), [
        0,
        1,
        2,
      ]);
      const brokers = await call(proxy, "GET", "/brokers");
      assert.equal(brokers.status, 200);
      assert.equal(brokers.body.brokers.length, 1);
      assert.ok(Number.isInteger(brokers.body.brokers[0]));
      const root = await call(proxy, "GET", "/");
      assert.equal(root.status, 200);
      assert.deepEqual(root.body, {});
      const missing = await call(proxy, "GET", "/topics/t.nope");
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { error_code: 40401, message: "Topic t.nope not found." });
      const r = await produce(proxy, "t.nope", JSON.stringify({ records: [{ value: 1 }] }));
      assert.equal(r.body.error_code, 40401);
      assert.deepEqual(
        (await call(proxy, "GET", "/topics")).body,
        ["t.pin"],
        "a produce to an unknown topic does not create it",
      );
    }),
});

Deno.test({
  ...T,
  name: "with auto-create a produce to an unknown topic creates it",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const r = await produce(proxy, "t.geo", JSON.stringify({ records: [{ key: 1, value: {} }] }));
      assert.equal(r.status, 200);
      assert.equal(r.body.offsets[0].error_code, null);
      assert.deepEqual((await call(proxy, "GET", "/topics")).body, ["t.geo", "t.pin"]);
    }, { autoCreate: true }),
});

/** A row of the status table: status, error_code, what is wrong, "METHOD path", body, headers. */
type Row = [number, number, string, string, (string | Uint8Array)?, Record<string, string>?];

const J = { "content-type": V2.json };
const B = { "content-type": V2.binary };
const C = { "content-type": V2.response };
const one = (r: unknown) => JSON.stringify({ records: [r] });
const P = "POST /topics/t.pin";
const CP = "/consumers/g/instances/c";

const CASES: Row[] = [
  // 400: not JSON, not UTF-8, bad base64, fields of the wrong type
  [400, 400, "malformed JSON", P, "{not json", J],
  [400, 400, "truncated JSON", P, '{"records":[{"value":1}', J],
  [400, 400, "invalid UTF-8", P, new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), J],
  [400, 400, "an empty body", P, "", J],
  [400, 400, "bytes after the request", P, one({ value: 1 }) + "x", J],
  [400, 400, "an array body", P, "[1,2]", J],
  [400, 400, "records as a string", P, '{"records":"x"}', J],
  [400, 400, "a record that is a number", P, '{"records":[1]}', J],
  [400, 400, "a partition that is a string", P, one({ value: 1, partition: "1" }), J],
  [400, 400, "a fractional partition", P, one({ value: 1, partition: 1.5 }), J],
  [400, 400, "bad base64", P, one({ value: "%%" }), B],
  [400, 400, "base64 with bad padding", P, one({ value: "YWJj=" }), B],
  [400, 400, "a binary value that is a number", P, one({ value: 5 }), B],
  // 422: valid JSON that is not a produce request
  [422, 422, "no records", P, '{"foo":1}', J],
  [422, 422, "empty records", P, '{"records":[]}', J],
  [422, 422, "null records", P, '{"records":null}', J],
  [422, 422, "a null record", P, '{"records":[null]}', J],
  [422, 422, "a negative partition", P, one({ value: 1, partition: -1 }), J],
  [422, 422, "a schema id with the json format", P, '{"value_schema_id":3,"records":[{}]}', J],
  // 404
  [404, 40401, "an unknown topic", "POST /topics/t.nope", one({ value: 1 }), J],
  [404, 40401, "an unknown topic's metadata", "GET /topics/t.nope"],
  [404, 40401, "an unknown topic's partitions", "GET /topics/t.nope/partitions"],
  [404, 40402, "a partition URL the topic lacks", "POST /topics/t.pin/partitions/9", one({}), J],
  [404, 40402, "a partition's metadata the topic lacks", "GET /topics/t.pin/partitions/7"],
  [404, 40402, "offsets of a partition the topic lacks", "GET /topics/t.pin/partitions/7/offsets"],
  [404, 404, "an unknown path", "GET /nope"],
  [404, 40402, "committed offsets without partitions", `GET ${CP}/offsets`],
  [404, 40403, "an unknown consumer", "GET /consumers/g/instances/x/records", undefined, {
    accept: V2.json,
  }],
  [404, 40403, "deleting an unknown consumer", "DELETE /consumers/g/instances/x"],
  // 405, 406, 413, 415
  [405, 405, "DELETE on a topic", "DELETE /topics/t.pin"],
  [406, 406, "an Accept the topic list cannot answer", "GET /topics", undefined, {
    accept: "text/html",
  }],
  [406, 406, "an Accept a produce cannot answer", P, one({ value: 1 }), {
    ...J,
    accept: "text/csv",
  }],
  [406, 406, "an Accept records cannot answer", `GET ${CP}/records`, undefined, {
    accept: "text/html",
  }],
  [406, 40601, "a binary Accept for a json consumer", `GET ${CP}/records`, undefined, {
    accept: V2.binary,
  }],
  [406, 40601, "a plain v2 Accept for a json consumer", `GET ${CP}/records`, undefined, {
    accept: V2.response,
  }],
  [413, 413, "a body over the limit", P, one({ value: "y".repeat(5000) }), J],
  [415, 415, "application/json on a produce", P, one({ value: 1 }), {
    "content-type": "application/json",
  }],
  [415, 415, "the avro format", P, one({ value: 1 }), {
    "content-type": "application/vnd.kafka.avro.v2+json",
  }],
  [415, 415, "text/plain on a consumer request", "POST /consumers/g2", "{}", {
    "content-type": "text/plain",
  }],
  // consumer creation and state
  [409, 40902, "a consumer name taken in the group", "POST /consumers/g", '{"name":"c"}', C],
  [
    409,
    40903,
    "an assignment while subscribed",
    `POST ${CP}/assignments`,
    JSON.stringify({
      partitions: [{ topic: "t.pin", partition: 0 }],
    }),
    C,
  ],
  [
    409,
    40903,
    "topics and a pattern at once",
    `POST ${CP}/subscription`,
    JSON.stringify({
      topics: ["t.pin"],
      topic_pattern: "t.*",
    }),
    C,
  ],
  [
    409,
    40903,
    "a seek on a partition not assigned",
    `POST ${CP}/positions`,
    JSON.stringify({
      offsets: [{ topic: "t.other", partition: 0, offset: 1 }],
    }),
    C,
  ],
  [422, 422, "an unknown consumer format", "POST /consumers/g", '{"format":"xml"}', C],
  [422, 42204, "a bad auto.offset.reset", "POST /consumers/g", '{"auto.offset.reset":"x"}', C],
  [422, 42204, "a schema format without a registry", "POST /consumers/g", '{"format":"avro"}', C],
  [400, 40001, "fetch.min.bytes out of range", "POST /consumers/g", '{"fetch.min.bytes":-5}', C],
  [
    400,
    400,
    "fetch.min.bytes of the wrong type",
    "POST /consumers/g",
    '{"fetch.min.bytes":"x"}',
    C,
  ],
  [400, 400, "a malformed subscription", `POST ${CP}/subscription`, '{"topics":', C],
  [
    400,
    400,
    "a commit with a string offset",
    `POST ${CP}/offsets`,
    JSON.stringify({
      offsets: [{ topic: "t.pin", partition: 0, offset: "1" }],
    }),
    C,
  ],
  // v3
  [404, 404, "an unknown v3 cluster", "GET /v3/clusters/nope/topics"],
  [
    404,
    40401,
    "a v3 produce to an unknown topic",
    "POST /v3/clusters/{cluster}/topics/x/records",
    "{}",
    {
      "content-type": "application/json",
    },
  ],
];

Deno.test({
  ...T,
  name: "every documented status and error code is answered where Confluent's proxy answers it",
  fn: () =>
    withProxy(async ({ proxy }) => {
      // A json consumer "c" in group "g", subscribed to t.pin, for the consumer rows.
      const made = await call(proxy, "POST", "/consumers/g", '{"name":"c","format":"json"}', C);
      assert.equal(made.status, 200, made.text);
      const sub = await call(
        proxy,
        "POST",
        `${CP}/subscription`,
        '{"topics":["t.pin"]}',
        C,
      );
      assert.equal(sub.status, 204, sub.text);
      const cluster = (await call(proxy, "GET", "/v3/clusters")).body.data[0].cluster_id;
      const failures: string[] = [];
      for (const [status, code, what, request, body, headers] of CASES) {
        const [method, path] = request.split(" ");
        const r = await call(proxy, method, path.replace("{cluster}", cluster), body, headers);
        const e = r.body?.error_code;
        if (r.status !== status || e !== code || typeof r.body?.message !== "string") {
          failures.push(`${what}: got ${r.status} ${r.text.slice(0, 200)}, want ${status}/${code}`);
        }
      }
      assert.deepEqual(failures, []);
      // The server lives on: a burst of random bytes, each refused with a 4xx, then a good request.
      for (let i = 0; i < 30; i++) {
        const junk = crypto.getRandomValues(new Uint8Array(1 + i * 7));
        const r = await produce(proxy, "t.pin", junk);
        assert.ok(r.status >= 400 && r.status < 500, `junk answered ${r.status}`);
      }
      assert.equal((await produce(proxy, "t.pin", one({ value: 1 }))).status, 200);
    }, { maxBodyBytes: 4096 }),
});

Deno.test({
  ...T,
  name: "per-record failures come back inside a 200: a partition the topic lacks is 50002",
  fn: () =>
    withProxy(async ({ proxy, kafka }) => {
      const body = JSON.stringify({
        records: [
          { value: { ok: 1 } },
          { value: { no: 1 }, partition: 9 },
          { value: "x".repeat(5000) },
          { value: { ok: 2 }, partition: 0 },
        ],
      });
      const r = await produce(proxy, "t.pin", body);
      assert.equal(r.status, 200);
      const codes = r.body.offsets.map((o: { error_code: number | null }) => o.error_code);
      assert.deepEqual(codes, [null, 50002, 50002, null]);
      assert.match(
        r.body.offsets[1].error,
        /Invalid partition given with record: 9 is not in the range \[0\.\.\.3\)/,
      );
      assert.match(r.body.offsets[2].error, /larger than 1000/);
      assert.equal(r.body.offsets[1].partition, null);
      assert.equal(r.body.offsets[1].offset, null);
      const got = await consume(kafka, "t.pin", 2);
      assert.deepEqual(got.map((g) => text(g.value)).sort(), ['{"ok":1}', '{"ok":2}']);
    }, { maxRecordBytes: 1000 }),
});

Deno.test({
  ...T,
  name: "with an API key, requests without the right x-api-key get API Gateway's 403",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = one({ value: 1 });
      const tries: Record<string, string>[] = [{}, { "x-api-key": "wrong-key-wrong-key-wrong" }, {
        "x-api-key": "",
      }];
      for (const h of tries) {
        const r = await produce(proxy, "t.pin", body, V2.json, h);
        assert.equal(r.status, 403);
        assert.deepEqual(r.body, { message: "Forbidden" });
      }
      assert.equal((await call(proxy, "GET", "/topics")).status, 403);
      assert.equal((await call(proxy, "POST", "/consumers/g", "{}", C)).status, 403);
      const ok = await produce(proxy, "t.pin", body, V2.json, {
        "x-api-key": "k3y-0123456789abcdefghij",
      });
      assert.equal(ok.status, 200);
    }, { apiKey: "k3y-0123456789abcdefghij" }),
});

Deno.test({
  ...T,
  name: "the base path works like an API Gateway stage",
  fn: () =>
    withProxy(async ({ proxy }) => {
      assert.match(proxy.url, /\/test$/);
      assert.equal((await produce(proxy, "t.pin", one({ value: 1 }))).status, 200);
      const outside = await fetch(proxy.url.replace(/\/test$/, "/topics"));
      assert.equal(outside.status, 404);
      await outside.body?.cancel();
    }, { basePath: "/test" }),
});

Deno.test({
  ...T,
  name: "a body over the limit is refused with 413 while it is still being sent",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const req = await rawPost(proxy, "/topics/t.pin", { "Content-Type": V2.json });
      await req.chunk('{"records":[{"value":"');
      for (let i = 0; i < 6; i++) await req.chunk("z".repeat(1000));
      // The body is not finished, yet the answer is already there.
      await waitFor("the 413", () => / 413 /.test(req.response()), 10_000);
      assert.match(req.response(), /"error_code":413/);
      await req.close();
    }, { maxBodyBytes: 4096 }),
});

Deno.test({
  ...T,
  name:
    "beyond the in-flight limit requests get 429 with Retry-After, and an outage is answered 50003",
  fn: async () => {
    const broker = await startBroker({ port: 0 });
    // kafkajs' retries shortened (about 3 s instead of about 20): how long the slot is held
    // does not matter here, only that it is held and then answered.
    const kafka = new Kafka({
      clientId: "test",
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 100, retries: 4 },
    });
    await createTopics(kafka, { "t.pin": 1 });
    const proxy = await startRestProxy({ kafka, maxInFlight: 1, retryAfterSec: 2 });
    try {
      assert.equal((await produce(proxy, "t.pin", one({ value: 0 }))).status, 200);
      // With the broker gone, a produce holds its slot through kafkajs' retries.
      await broker.close();
      const held = produce(proxy, "t.pin", one({ value: 1 }));
      await waitFor("the produce to hold the slot", () => proxy.stats().inFlight === 1);
      const r = await produce(proxy, "t.pin", one({ value: 2 }));
      assert.equal(r.status, 429);
      assert.equal(r.body.error_code, 42901);
      assert.equal(r.headers.get("retry-after"), "2");
      const outage = await held;
      assert.equal(outage.status, 200);
      assert.equal(outage.body.offsets[0].error_code, 50003, outage.text);
      assert.equal(proxy.stats().inFlight, 0);
      assert.equal(proxy.stats().rejected429, 1);
    } finally {
      await proxy.close();
    }
  },
});
