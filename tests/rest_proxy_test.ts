/**
 * The local REST proxy against the embedded broker: the v2 produce contract (json and
 * binary), metadata endpoints, every whole-request and per-record error, the API key, the
 * body limit enforced while reading, and back-pressure.
 */
import assert from "node:assert/strict";
import { startBroker } from "../lib/broker/broker.ts";
import type { Broker } from "../lib/broker/broker.ts";
import { createKafka } from "../lib/kafka_client.ts";
import { startRestProxy, V2 } from "../lib/rest_proxy.ts";
import type { RestProxy, RestProxyOptions } from "../lib/rest_proxy.ts";
import type { Kafka } from "../lib/deps/kafkajs.ts";
import { waitFor } from "./_fixtures.ts";

const T = { sanitizeOps: false, sanitizeResources: false };

/** A broker with topic `t.pin` (3 partitions) and a proxy in front of it. */
async function withProxy(
  fn: (ctx: { proxy: RestProxy; kafka: Kafka; broker: Broker }) => Promise<void>,
  opts: Partial<RestProxyOptions> = {},
): Promise<void> {
  const broker = await startBroker({ port: 0 });
  const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "test" });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "t.pin", numPartitions: 3 }] });
  await admin.disconnect();
  const proxy = await startRestProxy({ kafka, ...opts });
  try {
    await fn({ proxy, kafka, broker });
  } finally {
    await proxy.close();
    await broker.close();
  }
}

function post(proxy: RestProxy, topic: string, body: string, type: string = V2.json, headers = {}) {
  return fetch(`${proxy.url}/topics/${topic}`, {
    method: "POST",
    headers: { "content-type": type, ...headers },
    body,
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() }));
}

/** Reads `n` records of `topic` back with a kafkajs consumer. */
async function consume(kafka: Kafka, topic: string, n: number) {
  const consumer = kafka.consumer({ groupId: `read-${crypto.randomUUID()}`, maxWaitTimeInMs: 100 });
  const got: { partition: number; offset: number; key: string | null; value: string | null }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      got.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
      });
      return Promise.resolve();
    },
  });
  try {
    await waitFor(`${n} records from ${topic}`, () => got.length >= n, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

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
      const r = await post(proxy, "t.pin", JSON.stringify({ records }));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-type"), V2.response);
      assert.equal(r.body.offsets.length, 3);
      for (const o of r.body.offsets) {
        assert.equal(o.error_code, null);
        assert.equal(o.error, null);
        assert.ok(Number.isInteger(o.offset) && o.offset >= 0);
      }
      assert.equal(r.body.offsets[1].partition, 2, "an explicit partition is honoured");
      const got = await consume(kafka, "t.pin", 3);
      const byValue = new Map(got.map((g) => [g.value, g]));
      const first = byValue.get(JSON.stringify(records[0].value))!;
      assert.equal(first.key, "7528", "a numeric key is stored as its JSON text");
      assert.deepEqual([first.partition, first.offset], [
        r.body.offsets[0].partition,
        r.body.offsets[0].offset,
      ]);
      const second = byValue.get('["foo","bar"]')!;
      assert.equal(second.key, '"a"', "a string key is JSON-serialized like Confluent's proxy");
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
      const r = await post(proxy, "t.pin", body, V2.binary);
      assert.equal(r.status, 200);
      assert.equal(r.body.offsets[0].error_code, null);
      const consumer = kafka.consumer({ groupId: "bin", maxWaitTimeInMs: 100 });
      let got: { key: string; value: Uint8Array } | undefined;
      await consumer.connect();
      await consumer.subscribe({ topics: ["t.pin"], fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          got = { key: message.key!.toString(), value: new Uint8Array(message.value!) };
          return Promise.resolve();
        },
      });
      await waitFor("the binary record", () => got !== undefined, 30_000);
      await consumer.disconnect();
      assert.equal(got!.key, "7528");
      assert.deepEqual(got!.value, value);

      const bad = await post(
        proxy,
        "t.pin",
        JSON.stringify({ records: [{ value: "%%" }] }),
        V2.binary,
      );
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error_code, 42203);
    }),
});

Deno.test({
  ...T,
  name: "topics are listed and described, and unknown topics answer 40401",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const list = await fetch(`${proxy.url}/topics`).then((r) => r.json());
      assert.deepEqual(list, ["t.pin"]);
      const desc = await fetch(`${proxy.url}/topics/t.pin`).then((r) => r.json());
      assert.equal(desc.name, "t.pin");
      assert.deepEqual(desc.partitions.map((p: { partition: number }) => p.partition), [0, 1, 2]);
      assert.equal(desc.partitions[0].replicas[0].leader, true);
      const missing = await fetch(`${proxy.url}/topics/t.nope`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), {
        error_code: 40401,
        message: "Topic t.nope not found.",
      });
      const produce = await post(proxy, "t.nope", JSON.stringify({ records: [{ value: 1 }] }));
      assert.equal(produce.status, 404);
      assert.equal(produce.body.error_code, 40401);
      const list2 = await fetch(`${proxy.url}/topics`).then((r) => r.json());
      assert.deepEqual(list2, ["t.pin"], "a produce to an unknown topic does not create it");
    }),
});

Deno.test({
  ...T,
  name: "with auto-create a produce to an unknown topic creates it",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const r = await post(proxy, "t.geo", JSON.stringify({ records: [{ key: 1, value: {} }] }));
      assert.equal(r.status, 200);
      assert.equal(r.body.offsets[0].error_code, null);
      assert.deepEqual(await fetch(`${proxy.url}/topics`).then((r) => r.json()), [
        "t.geo",
        "t.pin",
      ]);
    }, { autoCreate: true }),
});

Deno.test({
  ...T,
  name: "bad bodies and content types get the v2 status and error code, and the server lives on",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const cases: [string, string, number, number][] = [
        ["{not json", V2.json, 422, 42203],
        [JSON.stringify([1, 2]), V2.json, 422, 422],
        [JSON.stringify({ records: [] }), V2.json, 422, 422],
        [JSON.stringify({ records: "x" }), V2.json, 422, 422],
        [JSON.stringify({ records: [1] }), V2.json, 422, 422],
        [JSON.stringify({ records: [{ value: 1, partition: -1 }] }), V2.json, 422, 422],
        [JSON.stringify({ records: [{ value: 1 }], value_schema_id: 3 }), V2.json, 422, 422],
        [JSON.stringify({ records: [{ value: 1 }] }), "application/json", 415, 415],
        [
          JSON.stringify({ records: [{ value: 1 }] }),
          "application/vnd.kafka.avro.v2+json",
          415,
          415,
        ],
        [JSON.stringify({ records: [{ value: 1, partition: 9 }] }), V2.json, 404, 40402],
        ["\xff\xfe", V2.json, 422, 42203],
      ];
      for (const [body, type, status, code] of cases) {
        const r = await post(proxy, "t.pin", body, type);
        assert.equal(r.status, status, `${type} ${body}`);
        assert.equal(r.body.error_code, code, `${type} ${body}`);
        assert.equal(typeof r.body.message, "string");
      }
      const del = await fetch(`${proxy.url}/topics/t.pin`, { method: "DELETE" });
      assert.equal(del.status, 405);
      await del.body?.cancel();
      const other = await fetch(`${proxy.url}/consumers/x`);
      assert.equal(other.status, 404);
      await other.body?.cancel();
      // A burst of random bytes: every one refused, none kills the server.
      for (let i = 0; i < 30; i++) {
        const junk = crypto.getRandomValues(new Uint8Array(1 + i * 7));
        const r = await fetch(`${proxy.url}/topics/t.pin`, {
          method: "POST",
          headers: { "content-type": V2.json },
          body: junk,
        });
        assert.ok(r.status >= 400 && r.status < 500, `junk answered ${r.status}`);
        await r.body?.cancel();
      }
      const ok = await post(proxy, "t.pin", JSON.stringify({ records: [{ value: 1 }] }));
      assert.equal(ok.status, 200);
    }),
});

Deno.test({
  ...T,
  name: "a record too large fails alone inside a 200 while the others are produced",
  fn: () =>
    withProxy(async ({ proxy, kafka }) => {
      const records = [{ value: "x".repeat(5000) }, { value: { small: true } }];
      const r = await post(proxy, "t.pin", JSON.stringify({ records }));
      assert.equal(r.status, 200);
      assert.equal(r.body.offsets[0].error_code, 50002);
      assert.equal(r.body.offsets[0].offset, null);
      assert.match(r.body.offsets[0].error, /larger than 1000/);
      assert.equal(r.body.offsets[1].error_code, null);
      const got = await consume(kafka, "t.pin", 1);
      assert.deepEqual(got.map((g) => g.value), ['{"small":true}']);
    }, { maxRecordBytes: 1000 }),
});

Deno.test({
  ...T,
  name: "with an API key, requests without the right x-api-key get API Gateway's 403",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = JSON.stringify({ records: [{ value: 1 }] });
      for (
        const headers of [{}, { "x-api-key": "wrong-key-wrong-key-wrong" }, { "x-api-key": "" }]
      ) {
        const r = await post(proxy, "t.pin", body, V2.json, headers);
        assert.equal(r.status, 403);
        assert.deepEqual(r.body, { message: "Forbidden" });
      }
      const list = await fetch(`${proxy.url}/topics`);
      assert.equal(list.status, 403);
      await list.body?.cancel();
      const ok = await post(proxy, "t.pin", body, V2.json, {
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
      const r = await post(proxy, "t.pin", JSON.stringify({ records: [{ value: 1 }] }));
      assert.equal(r.status, 200);
      const outside = await fetch(proxy.url.replace(/\/test$/, "/topics"));
      assert.equal(outside.status, 404);
      await outside.body?.cancel();
    }, { basePath: "/test" }),
});

/** An HTTP/1.1 POST over a raw socket with a chunked body we control, for limits tests. */
async function rawPost(proxy: RestProxy, headers: Record<string, string>) {
  const url = new URL(proxy.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const head = [
    `POST ${url.pathname.replace(/\/$/, "")}/topics/t.pin HTTP/1.1`,
    `Host: ${url.host}`,
    `Content-Type: ${V2.json}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  const enc = new TextEncoder();
  await conn.write(enc.encode(head));
  let text = "";
  const reading = (async () => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  })();
  return {
    chunk: (s: string) =>
      conn.write(enc.encode(`${s.length.toString(16)}\r\n${s}\r\n`)).catch(() => 0),
    end: () => conn.write(enc.encode("0\r\n\r\n")).catch(() => 0),
    response: () => text,
    close: async () => {
      try {
        conn.close();
      } catch {
        // already closed by the server
      }
      await reading;
    },
  };
}

Deno.test({
  ...T,
  name: "a body over the limit is refused with 413 while it is still being sent",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const declared = await fetch(`${proxy.url}/topics/t.pin`, {
        method: "POST",
        headers: { "content-type": V2.json },
        body: JSON.stringify({ records: [{ value: "y".repeat(5000) }] }),
      });
      assert.equal(declared.status, 413);
      assert.equal((await declared.json()).error_code, 413);

      const req = await rawPost(proxy, { "Transfer-Encoding": "chunked" });
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
  name: "beyond the in-flight limit requests get 429 with Retry-After until a slot frees",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const slow = await rawPost(proxy, { "Transfer-Encoding": "chunked" });
      await slow.chunk('{"records":[{"value":');
      await waitFor("the slow request to hold the slot", () => proxy.stats().inFlight === 1);
      const r = await post(proxy, "t.pin", JSON.stringify({ records: [{ value: 1 }] }));
      assert.equal(r.status, 429);
      assert.equal(r.body.error_code, 42901);
      assert.equal(r.headers.get("retry-after"), "2");
      await slow.chunk("1}]}");
      await slow.end();
      await waitFor("the slow request's answer", () => / 200 /.test(slow.response()), 30_000);
      await slow.close();
      const after = await post(proxy, "t.pin", JSON.stringify({ records: [{ value: 2 }] }));
      assert.equal(after.status, 200);
      assert.equal(proxy.stats().rejected429, 1);
    }, { maxInFlight: 1, retryAfterSec: 2 }),
});
