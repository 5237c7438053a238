/**
 * The v2 consumer API of the local REST proxy against the embedded broker: the original
 * project's read-back check done with curl exactly as Confluent's documentation shows it,
 * subscriptions by list and by pattern, groups sharing partitions, manual assignment and
 * seeks, `max_bytes`, commits (explicit, empty and automatic) and committed offsets, the
 * binary format, a record a json consumer cannot read, idle expiry and `base_uri`.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_fixtures.ts";
import { call, createTopics, produce, T, V2, withProxy } from "../_rest_proxy.ts";
import type { Answer } from "../_rest_proxy.ts";
import type { RestProxy } from "../../lib/rest_proxy/rest_proxy.ts";

const C = { "content-type": V2.response };

/** Creates a consumer instance; returns its path after the proxy's base URL. */
async function consumer(
  proxy: RestProxy,
  group: string,
  cfg: Record<string, unknown>,
): Promise<string> {
  const r = await call(proxy, "POST", `/consumers/${group}`, JSON.stringify(cfg), C);
  assert.equal(r.status, 200, r.text);
  return new URL(r.body.base_uri).pathname.slice(
    new URL(proxy.url).pathname.replace(/\/$/, "").length,
  );
}

/** Reads until `n` records came back (or fails after a minute). */
async function readAll(
  proxy: RestProxy,
  path: string,
  n: number,
  accept: string = V2.json,
  query = "",
): Promise<{ topic: string; key: unknown; value: unknown; partition: number; offset: number }[]> {
  const got = [];
  const end = Date.now() + 60_000;
  while (got.length < n) {
    if (Date.now() > end) throw new Error(`Only ${got.length} of ${n} records came back`);
    const r: Answer = await call(proxy, "GET", `${path}/records${query}`, undefined, { accept });
    assert.equal(r.status, 200, r.text);
    got.push(...r.body);
  }
  return got;
}

Deno.test({
  ...T,
  name: "explicit commits store the offset after the one named, and a new instance resumes there",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = JSON.stringify({
        records: Array.from({ length: 6 }, (_, i) => ({ value: i, partition: 0 })),
      });
      assert.equal((await produce(proxy, "t.pin", body)).status, 200);
      const a = await consumer(proxy, "grp", {
        name: "a",
        format: "json",
        "auto.offset.reset": "earliest",
        "auto.commit.enable": "false",
      });
      const sub = await call(proxy, "POST", `${a}/subscription`, '{"topics":["t.pin"]}', C);
      assert.equal(sub.status, 204);
      const got = await readAll(proxy, a, 6);
      assert.deepEqual(got.map((r) => r.value), [0, 1, 2, 3, 4, 5]);
      const commit = await call(
        proxy,
        "POST",
        `${a}/offsets`,
        JSON.stringify({
          offsets: [{ topic: "t.pin", partition: 0, offset: 2 }],
        }),
        C,
      );
      assert.equal(commit.status, 200, commit.text);
      assert.deepEqual(commit.body, [{ topic: "t.pin", partition: 0, consumed: 3, committed: 3 }]);
      assert.equal((await call(proxy, "DELETE", a)).status, 204);

      const b = await consumer(proxy, "grp", {
        name: "b",
        format: "json",
        "auto.commit.enable": "false",
      });
      await call(proxy, "POST", `${b}/subscription`, '{"topics":["t.pin"]}', C);
      const rest = await readAll(proxy, b, 3);
      assert.deepEqual(rest.map((r) => r.value), [3, 4, 5]);
    }),
});

Deno.test({
  ...T,
  name: "with auto-commit, what was read is committed when the instance is deleted",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = (from: number) =>
        JSON.stringify({
          records: Array.from({ length: 4 }, (_, i) => ({ value: from + i, partition: 1 })),
        });
      await produce(proxy, "t.pin", body(0));
      const a = await consumer(proxy, "auto", {
        name: "a",
        format: "json",
        "auto.offset.reset": "earliest",
      });
      await call(proxy, "POST", `${a}/subscription`, '{"topics":["t.pin"]}', C);
      assert.deepEqual((await readAll(proxy, a, 4)).map((r) => r.value), [0, 1, 2, 3]);
      assert.equal((await call(proxy, "DELETE", a)).status, 204);
      await produce(proxy, "t.pin", body(4));
      const b = await consumer(proxy, "auto", {
        name: "b",
        format: "json",
        "auto.offset.reset": "earliest",
      });
      await call(proxy, "POST", `${b}/subscription`, '{"topics":["t.pin"]}', C);
      assert.deepEqual((await readAll(proxy, b, 4)).map((r) => r.value), [4, 5, 6, 7]);
    }),
});

Deno.test({
  ...T,
  name: "two instances of one group share a topic's partitions and read each record once",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const a = await consumer(proxy, "shared", {
        name: "a",
        format: "json",
        "auto.offset.reset": "earliest",
      });
      const b = await consumer(proxy, "shared", {
        name: "b",
        format: "json",
        "auto.offset.reset": "earliest",
      });
      await call(proxy, "POST", `${a}/subscription`, '{"topics":["t.pin"]}', C);
      await call(proxy, "POST", `${b}/subscription`, '{"topics":["t.pin"]}', C);
      // A member joins on its first read: read with both until the group has split the
      // partitions, so the records produced next are shared, not taken by the first to join.
      await waitFor(
        "both instances to hold partitions",
        async () => {
          const held = await Promise.all([a, b].map(async (path) => {
            await call(proxy, "GET", `${path}/records?timeout=100`, undefined, { accept: V2.json });
            return (await call(proxy, "GET", `${path}/assignments`)).body.partitions.length;
          }));
          return held.every((n) => n > 0);
        },
        60_000,
        1,
      );
      const records = Array.from({ length: 30 }, (_, i) => ({ value: i, partition: i % 3 }));
      await produce(proxy, "t.pin", JSON.stringify({ records }));
      const seen: number[] = [];
      const parts = new Map<string, Set<number>>([["a", new Set()], ["b", new Set()]]);
      await waitFor(
        "all 30 records between the two",
        async () => {
          for (const [name, path] of [["a", a], ["b", b]]) {
            const r = await call(proxy, "GET", `${path}/records?timeout=200`, undefined, {
              accept: V2.json,
            });
            assert.equal(r.status, 200, r.text);
            for (const rec of r.body) {
              seen.push(rec.value);
              parts.get(name)!.add(rec.partition);
            }
          }
          return seen.length >= 30;
        },
        60_000,
        1,
      );
      assert.deepEqual(seen.sort((x, y) => x - y), records.map((r) => r.value));
      const pa = [...parts.get("a")!];
      const pb = [...parts.get("b")!];
      assert.ok(pa.length > 0 && pb.length > 0, `a read ${pa}, b read ${pb}`);
      assert.ok(pa.every((p) => !pb.includes(p)), `a read ${pa}, b read ${pb}`);
      const asg = await call(proxy, "GET", `${a}/assignments`);
      assert.deepEqual(
        asg.body.partitions.map((p: { partition: number }) => p.partition).sort(),
        pa.sort(),
      );
      assert.deepEqual((await call(proxy, "GET", `${a}/subscription`)).body, { topics: ["t.pin"] });
    }),
});

Deno.test({
  ...T,
  name: "a pattern subscription reads every matching topic, including one created later",
  fn: () =>
    withProxy(
      async ({ proxy, kafka }) => {
        const c = await consumer(proxy, "pat", {
          name: "p",
          format: "json",
          "auto.offset.reset": "earliest",
        });
        const sub = await call(
          proxy,
          "POST",
          `${c}/subscription`,
          '{"topic_pattern":"p\\\\..*"}',
          C,
        );
        assert.equal(sub.status, 204, sub.text);
        await produce(proxy, "p.a", JSON.stringify({ records: [{ value: "a" }] }));
        assert.deepEqual((await readAll(proxy, c, 1)).map((r) => r.topic), ["p.a"]);
        assert.deepEqual((await call(proxy, "GET", `${c}/subscription`)).body, { topics: ["p.a"] });
        await createTopics(kafka, { "p.b": 1, "q.c": 1 });
        await produce(proxy, "p.b", JSON.stringify({ records: [{ value: "b" }] }));
        await produce(proxy, "q.c", JSON.stringify({ records: [{ value: "c" }] }));
        const more = await readAll(proxy, c, 1);
        assert.deepEqual(more.map((r) => [r.topic, r.value]), [["p.b", "b"]]);
        assert.deepEqual((await call(proxy, "GET", `${c}/subscription`)).body, {
          topics: ["p.a", "p.b"],
        });
      },
      { autoCreate: true },
      { topics: { "p.a": 1 } },
    ),
});

Deno.test({
  ...T,
  name: "an assigned partition can be sought to an offset, to the beginning and to the end",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const records = Array.from({ length: 10 }, (_, i) => ({ value: i, partition: 1 }));
      await produce(proxy, "t.pin", JSON.stringify({ records }));
      const c = await consumer(proxy, "manual", {
        name: "m",
        format: "json",
        "fetch.min.bytes": 1,
      });
      const tp = { topic: "t.pin", partition: 1 };
      assert.equal(
        (await call(proxy, "POST", `${c}/assignments`, JSON.stringify({ partitions: [tp] }), C))
          .status,
        204,
      );
      assert.deepEqual((await call(proxy, "GET", `${c}/assignments`)).body, { partitions: [tp] });
      assert.deepEqual((await call(proxy, "GET", `${c}/subscription`)).body, { topics: [] });
      const seek = await call(
        proxy,
        "POST",
        `${c}/positions`,
        JSON.stringify({ offsets: [{ ...tp, offset: 7 }] }),
        C,
      );
      assert.equal(seek.status, 204, seek.text);
      assert.deepEqual((await readAll(proxy, c, 3)).map((r) => r.offset), [7, 8, 9]);
      const begin = await call(
        proxy,
        "POST",
        `${c}/positions/beginning`,
        JSON.stringify({ partitions: [tp] }),
        C,
      );
      assert.equal(begin.status, 204);
      const first = await readAll(proxy, c, 10, V2.json, "?max_bytes=3");
      assert.equal(first[0].offset, 0);
      const end = await call(
        proxy,
        "POST",
        `${c}/positions/end`,
        JSON.stringify({ partitions: [tp] }),
        C,
      );
      assert.equal(end.status, 204);
      const none = await call(proxy, "GET", `${c}/records?timeout=300`, undefined, {
        accept: V2.json,
      });
      assert.deepEqual(none.body, []);
      await produce(proxy, "t.pin", JSON.stringify({ records: [{ value: "new", partition: 1 }] }));
      const after = await readAll(proxy, c, 1);
      assert.deepEqual(after.map((r) => [r.offset, r.value]), [[10, "new"]]);
      // Commits without a group member are a "simple" group's, as Java's assign() makes them.
      const commit = await call(proxy, "POST", `${c}/offsets`, "", C);
      assert.equal(commit.status, 200, commit.text);
      assert.deepEqual(commit.body, [{ ...tp, consumed: 11, committed: 11 }]);
    }),
});

Deno.test({
  ...T,
  name: "max_bytes bounds an answer by the records' key and value bytes",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const value = "v".repeat(98); // 100 bytes as JSON text
      const records = Array.from({ length: 5 }, () => ({ value, partition: 0 }));
      await produce(proxy, "t.pin", JSON.stringify({ records }));
      const c = await consumer(proxy, "mb", {
        name: "m",
        format: "json",
        "auto.offset.reset": "earliest",
      });
      await call(
        proxy,
        "POST",
        `${c}/assignments`,
        '{"partitions":[{"topic":"t.pin","partition":0}]}',
        C,
      );
      const sizes: number[] = [];
      while (sizes.reduce((a, b) => a + b, 0) < 5) {
        const r = await call(proxy, "GET", `${c}/records?max_bytes=250&timeout=500`, undefined, {
          accept: V2.json,
        });
        sizes.push(r.body.length);
      }
      assert.deepEqual(sizes, [2, 2, 1]);
    }),
});

Deno.test({
  ...T,
  name: "a binary consumer returns keys and values as base64",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const raw = new Uint8Array([0, 255, 10, 13, 34]);
      await produce(
        proxy,
        "t.pin",
        JSON.stringify({
          records: [{ key: btoa("k"), value: btoa(String.fromCharCode(...raw)), partition: 2 }],
        }),
        V2.binary,
      );
      const c = await consumer(proxy, "bin", { name: "b", "auto.offset.reset": "earliest" });
      await call(proxy, "POST", `${c}/subscription`, '{"topics":["t.pin"]}', C);
      const [r] = await readAll(proxy, c, 1, V2.binary);
      assert.equal(r.key, btoa("k"));
      assert.deepEqual(Uint8Array.from(atob(r.value as string), (ch) => ch.charCodeAt(0)), raw);
      const wrong = await call(proxy, "GET", `${c}/records`, undefined, { accept: V2.json });
      assert.equal(wrong.status, 406);
      assert.equal(wrong.body.error_code, 40601);
    }),
});

Deno.test({
  ...T,
  name: "a json consumer stops at a record that is not JSON, names it, and goes on after a seek",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const b64 = (s: string) => btoa(s);
      const records = [{ value: b64('{"ok":1}') }, { value: b64("not json") }, {
        value: b64("[2]"),
      }];
      await produce(
        proxy,
        "t.pin",
        JSON.stringify({ records: records.map((r) => ({ ...r, partition: 0 })) }),
        V2.binary,
      );
      const c = await consumer(proxy, "bad", {
        name: "j",
        format: "json",
        "auto.offset.reset": "earliest",
      });
      await call(
        proxy,
        "POST",
        `${c}/assignments`,
        '{"partitions":[{"topic":"t.pin","partition":0}]}',
        C,
      );
      const first = await readAll(proxy, c, 1);
      assert.deepEqual(first.map((r) => r.value), [{ ok: 1 }]);
      for (let i = 0; i < 2; i++) {
        const r = await call(proxy, "GET", `${c}/records`, undefined, { accept: V2.json });
        assert.equal(r.status, 408);
        assert.equal(r.body.error_code, 40801);
        assert.match(r.body.message, /topic t\.pin partition 0 offset 1 as JSON/);
      }
      await call(
        proxy,
        "POST",
        `${c}/positions`,
        '{"offsets":[{"topic":"t.pin","partition":0,"offset":2}]}',
        C,
      );
      assert.deepEqual((await readAll(proxy, c, 1)).map((r) => r.value), [[2]]);
    }),
});

Deno.test({
  ...T,
  name: "an idle consumer instance expires and is then not found",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const c = await consumer(proxy, "idle", { name: "i", format: "json" });
      assert.equal(proxy.stats().consumers, 1);
      await waitFor("the instance to expire", () => proxy.stats().consumers === 0, 10_000);
      const r = await call(proxy, "GET", `${c}/records`, undefined, { accept: V2.json });
      assert.equal(r.status, 404);
      assert.equal(r.body.error_code, 40403);
    }, { consumers: { instanceTimeoutMs: 300 } }),
});

Deno.test({
  ...T,
  name: "base_uri honours the base path and the host and scheme a gateway forwards",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const make = async (name: string, headers: Record<string, string>) =>
        (await call(proxy, "POST", "/consumers/g", JSON.stringify({ name }), { ...C, ...headers }))
          .body.base_uri;
      assert.equal(await make("plain", {}), `${proxy.url}/consumers/g/instances/plain`);
      assert.match(proxy.url, /\/stage$/);
      assert.equal(
        await make("xf", {
          "x-forwarded-proto": "https",
          "x-forwarded-host": "abc.execute-api.eu-west-1.amazonaws.com",
        }),
        "https://abc.execute-api.eu-west-1.amazonaws.com/stage/consumers/g/instances/xf",
      );
      assert.equal(
        await make("fwd", { forwarded: 'for=1.2.3.4;host="gw.example:8443";proto=https' }),
        "https://gw.example:8443/stage/consumers/g/instances/fwd",
      );
      assert.equal(
        await make("port", {
          "x-forwarded-proto": "http",
          "x-forwarded-host": "lb",
          "x-forwarded-port": "8080",
        }),
        "http://lb:8080/stage/consumers/g/instances/port",
      );
    }, { basePath: "/stage" }),
});
