/**
 * Byte-exact json records through the REST proxy: the JSON text a client sends for a key or a
 * value is what Kafka holds, what the json consumer answers and what the sink writes into the
 * lake (64-bit integers, `1.0`, `1e2`, `\u` escapes, key order); and 10,000 postings produced
 * through the proxy and read back through it, byte for byte, on the embedded broker and on
 * Apache Kafka.
 */
import assert from "node:assert/strict";
import { createDataset } from "../../lib/source/dataset.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import { runSink, topicsRegex } from "../../lib/lake/sink.ts";
import type { RestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import { withTempDir } from "../_fixtures.ts";
import { consume, produce, T, text, withProxy } from "../_rest_proxy.ts";
import { expectedAnswer, readThroughProxy } from "../_proxy_reads.ts";

/** Keys and values whose JSON text a parse and re-stringify would change. */
const EDGE: [string | null, string][] = [
  ["12345678901234567890", '{"big":12345678901234567890,"neg":-9223372036854775809}'],
  ['"k"', '{"one":1.0,"hundred":1e2,"tiny":1E-7,"zero":-0,"half":0.50}'],
  ["1.0", '{"u":"\\u00e9\\ud83d\\ude00","raw":"é😀","esc":"a\\"b\\\\c\\/d\\n"}'],
  [null, '{"z":1,"a":2,"m":{"y":[],"b":{}},"a":3}'],
  ["[1e2,2E+10]", '"\\u2028\\u0000"'],
  [null, "9007199254740993"],
];

/** A value sent pretty-printed: whitespace between tokens goes, every token stays as sent. */
const PRETTY = '{\n  "n" : 1.10 ,\n  "s" : "a  b",\n  "e" : [ 1e2 , true , null ]\n}';
const PRETTY_COMPACT = '{"n":1.10,"s":"a  b","e":[1e2,true,null]}';

Deno.test({
  ...T,
  name:
    "json keys and values keep their exact text into Kafka, out of the json consumer and into the lake",
  fn: () =>
    withProxy(
      async ({ proxy, kafka }) => {
        const records = [...EDGE.map(([k, v]) => ({ k, v })), { k: null, v: PRETTY }];
        // Built by hand: JSON.stringify would already have rewritten the numbers.
        const body = `{"records":[${
          records.map((r) => `{${r.k === null ? "" : `"key":${r.k},`}"value":${r.v},"partition":0}`)
            .join(",")
        }]}`;
        const r = await produce(proxy, "t.pin", body);
        assert.equal(r.status, 200, r.text);
        const want = records.map((x) => ({
          key: x.k,
          value: x.v === PRETTY ? PRETTY_COMPACT : x.v,
        }));

        const held = (await consume(kafka, "t.pin", want.length)).sort((a, b) =>
          a.offset - b.offset
        );
        assert.deepEqual(held.map((h) => ({ key: text(h.key), value: text(h.value) })), want);

        const sent = new Map(want.map((w, i) => [`0:${i}`, w]));
        const answers = await readThroughProxy(proxy, "t.pin", want.length);
        for (const a of answers) assert.equal(a.text, expectedAnswer("t.pin", a.records, sent));

        await withTempDir(async (dir) => {
          const lake = new FileLake(dir);
          const s = await runSink({
            kafka,
            lake,
            topicsRegex: topicsRegex("t\\.pin"),
            groupId: "lake",
            flushSize: 100,
            rotateIntervalMs: 0,
            once: true,
          });
          assert.equal(s.records, want.length);
          const file = `${dir}/topics/t.pin/partition=0/t.pin+0+0000000000.json`;
          const lines = (await Deno.readTextFile(file)).split("\n").filter(Boolean);
          assert.deepEqual(lines, want.map((w) => w.value));
        });
      },
      {},
      { topics: { "t.pin": 1 } },
    ),
});

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

Deno.test({
  ...T,
  name: "10,000 postings go through the proxy into the embedded broker and come back byte for byte",
  fn: () => withProxy(({ proxy }) => roundTrip(proxy, 10_000), {}, { topics: { "rt.pin": 3 } }),
});
