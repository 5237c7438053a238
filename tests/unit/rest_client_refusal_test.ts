/**
 * How the emulator's REST client reads a refusal, the same for the v2 and the v3 API: API
 * Gateway's bare 403 (a wrong or missing x-api-key) names PINPIPE_API_KEY, a 5xx is retried,
 * and a record refused for good names its key and the code.
 * @module
 */
import assert from "node:assert/strict";
import { DeliveryError, RestProducer } from "../../lib/ingest/rest_client.ts";
import type { RestApi } from "../../lib/ingest/rest_client.ts";

const HOOKS = { onAck: () => {}, onRetry: () => {} };
const RECORDS = [{ key: "7", value: { a: 1 } }, { key: "8", value: { a: 2 } }];
const CLUSTERS = JSON.stringify({ data: [{ cluster_id: "c1" }] });

/** A producer whose every request is answered by `answer`, the paths it saw kept. */
function producer(api: RestApi, answer: (method: string, path: string) => Response) {
  const seen: string[] = [];
  const fetch = ((url: string | URL, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    const path = new URL(url).pathname;
    seen.push(`${method} ${path}`);
    return Promise.resolve(answer(method, path));
  }) as typeof globalThis.fetch;
  const p = new RestProducer({
    baseUrl: "http://proxy.test",
    api,
    fetch,
    baseMs: 1,
    maxMs: 2,
    maxAttempts: 3,
    retryForMs: 0,
  });
  return { p, seen };
}

const forbidden = () => new Response('{"message":"Forbidden"}', { status: 403 });

for (const api of ["v2", "v3"] as const) {
  Deno.test(`${api}: API Gateway's bare 403 names PINPIPE_API_KEY and is not retried`, async () => {
    const { p, seen } = producer(api, forbidden);
    await assert.rejects(p.send("t.pin", RECORDS, HOOKS), /set PINPIPE_API_KEY/);
    // The reachability probe (GET /), then one request that is refused and not sent again.
    assert.deepEqual(seen.filter((r) => r !== "GET /").length, 1, seen.join(", "));
  });

  Deno.test(`${api}: a record refused for good names its key and code`, async () => {
    const { p } = producer(api, (method) => {
      if (method === "GET") return new Response(CLUSTERS);
      if (api === "v2") {
        return Response.json({
          offsets: [{ partition: 0, offset: 0 }, { error_code: 40301, error: "denied" }],
        });
      }
      return new Response(
        '{"error_code":200,"offset":0}\n{"error_code":40301,"message":"denied"}\n',
      );
    });
    const acked: string[][] = [];
    const err = await p.send("t.pin", RECORDS, {
      ...HOOKS,
      onAck: (done) => acked.push(done.map((r) => r.key)),
    }).then(() => undefined, (e) => e);
    assert.ok(err instanceof DeliveryError, String(err));
    assert.match(err.message, /key "8" to topic "t\.pin".*error_code 40301 for the record: denied/);
    // The acknowledgement names the record it is for: the first one, not the refused one.
    assert.deepEqual(acked, [[RECORDS[0].key]]);
  });

  Deno.test(`${api}: a 503 is retried, then the records land`, async () => {
    let posts = 0;
    const { p } = producer(api, (method) => {
      if (method === "GET") return new Response(CLUSTERS);
      if (++posts === 1) return new Response('{"error_code":50003}', { status: 503 });
      return api === "v2"
        ? Response.json({ offsets: RECORDS.map((_, i) => ({ partition: 0, offset: i })) })
        : new Response(RECORDS.map((_, i) => `{"error_code":200,"offset":${i}}`).join("\n"));
    });
    let acked = 0;
    let retries = 0;
    await p.send("t.pin", RECORDS, {
      onAck: (done) => (acked += done.length),
      onRetry: () => retries++,
    });
    assert.equal(acked, 2);
    assert.equal(retries, 1);
  });
}
