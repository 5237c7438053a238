/**
 * Byte-exact json records through the REST proxy: the JSON text a client sends for a key or a
 * value is what Kafka holds, what the json consumer answers and what the sink writes into the
 * lake (64-bit integers, `1.0`, `1e2`, `\u` escapes, key order); and 10,000 postings produced
 * through the proxy and read back through it, byte for byte, on the embedded broker and on
 * Apache Kafka.
 */
import assert from "node:assert/strict";
import { createDataset } from "../../lib/source/dataset.ts";
import type { RestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import { envTest } from "../_fixtures.ts";
import { withKafka } from "../_engines.ts";
import { produce, withProxy } from "../_rest_proxy.ts";
import { expectedAnswer, readThroughProxy } from "../_proxy_reads.ts";

/** Produces the first `n` postings' pin rows through the proxy and reads them back through it. */
async function roundTrip(proxy: RestProxy, n: number): Promise<void> {
  const ds = createDataset({ rows: n, seed: 3 });
  const texts: { key: string; value: string }[] = [];
  for (let k = 0; k < n; k++) {
    texts.push({ key: String(k), value: JSON.stringify(ds.posting(k).pin) });
  }
  const sent = new Map<string, { key: string; value: string }>();
  for (let i = 0; i < n; i += 500) {
    const batch = texts.slice(i, i + 500);
    const body = `{"records":[${
      batch.map((t) => `{"key":${t.key},"value":${t.value}}`).join(",")
    }]}`;
    const r = await produce(proxy, "rt.pin", body);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    r.body.offsets.forEach(
      (o: { partition: number; offset: number; error_code: number | null }, j: number) => {
        assert.equal(o.error_code, null);
        sent.set(`${o.partition}:${o.offset}`, batch[j]);
      },
    );
  }
  assert.equal(sent.size, n);
  const answers = await readThroughProxy(proxy, "rt.pin", n);
  const seen = new Set<string>();
  for (const a of answers) {
    assert.equal(a.text, expectedAnswer("rt.pin", a.records, sent));
    for (const r of a.records) seen.add(`${r.partition}:${r.offset}`);
  }
  assert.equal(seen.size, n, "every record came back once");
}

await envTest(
  "10,000 postings go through the proxy into Apache Kafka and come back byte for byte",
  ["kafka"],
  () =>
    withKafka((k) =>
      withProxy(({ proxy }) => roundTrip(proxy, 10_000), {}, {
        bootstrap: k.bootstrap,
        topics: { "rt.pin": 3 },
      })
    ),
);
