/**
 * Reading back through the REST proxy for its round-trip tests (unit and engine layers): a
 * json consumer instance's answers and the exact answer text expected for given records.
 * @module
 */
import assert from "node:assert/strict";
import type { RestProxy } from "../lib/rest_proxy/rest_proxy.ts";
import { call, V2 } from "./_rest_proxy.ts";

export const C = { "content-type": V2.response };

/** Reads `n` records through a json consumer instance; returns the answers' raw texts too. */
export async function readThroughProxy(proxy: RestProxy, topic: string, n: number) {
  const made = await call(
    proxy,
    "POST",
    `/consumers/rt-${crypto.randomUUID()}`,
    JSON.stringify({
      format: "json",
      "auto.offset.reset": "earliest",
      "fetch.min.bytes": 1,
    }),
    C,
  );
  assert.equal(made.status, 200, made.text);
  const base = new URL(proxy.url).pathname.replace(/\/$/, "");
  const path = new URL(made.body.base_uri).pathname.slice(base.length);
  const sub = await call(
    proxy,
    "POST",
    `${path}/subscription`,
    JSON.stringify({ topics: [topic] }),
    C,
  );
  assert.equal(sub.status, 204, sub.text);
  const answers: { text: string; records: { partition: number; offset: number }[] }[] = [];
  let count = 0;
  const end = Date.now() + 120_000;
  while (count < n) {
    assert.ok(Date.now() < end, `only ${count} of ${n} records came back`);
    const r = await call(proxy, "GET", `${path}/records`, undefined, { accept: V2.json });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    if (r.body.length) answers.push({ text: r.text, records: r.body });
    count += r.body.length;
  }
  assert.equal((await call(proxy, "DELETE", path)).status, 204);
  return answers;
}

/** The exact answer text a json consumer must give for these records. */
export function expectedAnswer(
  topic: string,
  records: { partition: number; offset: number }[],
  sent: Map<string, { key: string | null; value: string }>,
): string {
  return `[${
    records.map((r) => {
      const s = sent.get(`${r.partition}:${r.offset}`)!;
      return `{"topic":"${topic}","key":${
        s.key ?? "null"
      },"value":${s.value},"partition":${r.partition},"offset":${r.offset}}`;
    }).join(",")
  }]`;
}
