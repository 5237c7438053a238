/**
 * The pipeline tests' topics and their lake check (unit and stage layers): the lake holds every
 * record of the dataset exactly once, under the e2e prefix's topics.
 * @module
 */
import assert from "node:assert/strict";
import type { Dataset } from "../lib/source/dataset.ts";
import { parseObjectKey } from "../lib/lake/lake.ts";
import type { Lake } from "../lib/lake/lake.ts";

export const PREFIX = "e2e";

export const TOPICS = ["pin", "geo", "user"].map((t) => `${PREFIX}.${t}`);

/**
 * Every object is in the sink layout; per partition, offsets run without overlap or gap from
 * 0; per topic, every key of the dataset is present once with exactly the dataset's row.
 */
export async function assertLakeHoldsDataset(lake: Lake, ds: Dataset): Promise<number> {
  const rows = new Map<string, Map<number, unknown>>(TOPICS.map((t) => [t, new Map()]));
  const offsets = new Map<string, Set<number>>();
  let objectCount = 0;
  for await (const o of lake.list("topics/")) {
    const k = parseObjectKey(o.key);
    assert.ok(k && k.dir === "topics" && TOPICS.includes(k.topic), `unexpected key ${o.key}`);
    objectCount++;
    const text = new TextDecoder().decode(await lake.get(o.key));
    const lines = text.slice(0, -1).split("\n");
    lines.forEach((line, i) => {
      const tp = `${k.topic}[${k.partition}]`;
      const seen = offsets.get(tp) ?? new Set();
      offsets.set(tp, seen);
      const offset = k.startOffset + i;
      assert.ok(!seen.has(offset), `${tp} offset ${offset} landed twice`);
      seen.add(offset);
      const row = JSON.parse(line) as Record<string, unknown>;
      const key = Number(k.topic.endsWith(".pin") ? row.index : row.ind);
      const byKey = rows.get(k.topic)!;
      assert.ok(!byKey.has(key), `${k.topic} key ${key} landed twice`);
      byKey.set(key, row);
    });
  }
  for (const [tp, seen] of offsets) {
    assert.equal(Math.max(...seen) + 1, seen.size, `${tp} has a gap in its offsets`);
  }
  for (const [topic, byKey] of rows) {
    assert.equal(byKey.size, ds.rows, `${topic} holds ${byKey.size} of ${ds.rows} keys`);
    const table = topic.slice(PREFIX.length + 1) as "pin" | "geo" | "user";
    for (let key = 0; key < ds.rows; key++) {
      assert.deepEqual(byKey.get(key), JSON.parse(JSON.stringify(ds.posting(key)[table])));
    }
  }
  return objectCount;
}
