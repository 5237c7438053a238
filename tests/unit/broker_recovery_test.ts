/**
 * Recovery from damaged data (issue 11 item 2). Before: one flipped byte in the middle of
 * a 100,000-record partition cut everything after it (54 %) with one ordinary log line,
 * the next offsets reused numbers consumers had seen, and one flipped byte in offsets.log
 * moved a committed offset back. Now: one damaged batch costs that batch only, said loudly
 * with its records and bytes, its bytes kept in a side file and its offsets never given
 * out again; a damaged header field is repaired without loss; `--on-corruption refuse`
 * stops the broker instead; a damaged offsets.log entry is skipped, naming the commit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { OffsetStore } from "../../lib/broker/offsets.ts";
import { startTestBroker, waitFor, withTempDir } from "../_fixtures.ts";
import { Oracle } from "../_broker_oracle.ts";
import { batchStarts, fillPartition, PER_BATCH, RECORDS } from "../_broker_log_files.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Every offset of `topic`-0 read by a fresh kafkajs consumer, until `expected` arrived. */
async function readOffsets(bootstrap: string, topic: string, expected: number): Promise<number[]> {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `r-${crypto.randomUUID()}`, maxWaitTimeInMs: 50 });
  const got: number[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: ({ batch }) => {
      for (const m of batch.messages) got.push(Number(m.offset));
      return Promise.resolve();
    },
  });
  try {
    await waitFor(`${expected} records`, () => got.length >= expected, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

Deno.test({
  name:
    "one flipped byte in a 100,000-record partition cuts one batch, loudly, and no offset is reused",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillPartition(dataDir, "rot");
      const bytes = Deno.readFileSync(path);
      const starts = batchStarts(bytes);
      const mid = starts[Math.floor(starts.length / 2)]; // batch 500: offsets 50,000-50,099
      const victim = bytes.slice(mid, starts[starts.length / 2 + 1]);
      bytes[mid + 200] ^= 0x01; // one bit, inside the records (covered by the CRC)
      Deno.writeFileSync(path, bytes);

      const warnings: string[] = [];
      const broker = await startTestBroker({ dataDir, warn: (l) => warnings.push(l) });
      try {
        const text = warnings.join("\n");
        assert.match(
          text,
          /WARNING: recovered rot-0: cut DAMAGED DATA: .* a batch failing its CRC-32C check at byte \d+: \d+ byte\(s\), 100 record\(s\) in 1 batch\(es\), offsets 50000–50099; valid batches resume at offset 50100/,
        );
        assert.match(text, /WARNING: recovery cut 100 record\(s\) \(\d+ bytes\)/);
        // The cut bytes are kept as they were on disk.
        const side = [...Deno.readDirSync(join(dataDir, "corrupt"))].map((e) => e.name);
        assert.equal(side.length, 1);
        const kept = Deno.readFileSync(join(dataDir, "corrupt", side[0]));
        assert.equal(kept.byteLength, victim.byteLength);
        assert.deepEqual(kept.subarray(0, 200), victim.subarray(0, 200));
        // Everything else is served; the next offset is 100,000, not a reused one.
        const offsets = await readOffsets(broker.bootstrap, "rot", RECORDS - PER_BATCH);
        assert.equal(offsets.length, RECORDS - PER_BATCH, "before: 54 % of the records were cut");
        assert.ok(!offsets.some((o) => o >= 50_000 && o < 50_100));
        assert.equal(offsets.at(-1), RECORDS - 1);
        const o = await Oracle.open(broker.bootstrap);
        try {
          assert.deepEqual(await o.produce("rot", 0, ["new"]), [0, RECORDS]);
        } finally {
          o.close();
        }
      } finally {
        await broker.close();
      }
      // Once cut, the log is clean: the next start says nothing.
      warnings.length = 0;
      const again = await startTestBroker({ dataDir, warn: (l) => warnings.push(l) });
      await again.close();
      assert.deepEqual(warnings, []);
    }),
});

Deno.test({
  name: "a flipped byte in a batch header field is repaired in place and nothing is cut",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillPartition(dataDir, "fix", 1000);
      const bytes = Deno.readFileSync(path);
      const starts = batchStarts(bytes);
      bytes[starts[1] + 6] ^= 0x10; // base offset (outside the CRC)
      bytes[starts[3] + 16] ^= 0x04; // magic
      bytes[starts[5] + 18] ^= 0x80; // the CRC field itself
      bytes[starts[7] + 10] ^= 0x02; // the length field
      Deno.writeFileSync(path, bytes);
      const warnings: string[] = [];
      const broker = await startTestBroker({ dataDir, warn: (l) => warnings.push(l) });
      try {
        const text = warnings.join("\n");
        for (const what of ["base offset", "magic byte", "CRC field", "length field"]) {
          assert.match(text, new RegExp(`repaired .*: ${what} `), text);
        }
        assert.doesNotMatch(text, /cut/);
        assert.equal((await readOffsets(broker.bootstrap, "fix", 1000)).length, 1000);
      } finally {
        await broker.close();
      }
    }),
});

Deno.test({
  name: "a damaged last batch is cut and its offsets are not given out again",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillPartition(dataDir, "tail", 1000);
      const bytes = Deno.readFileSync(path);
      const last = batchStarts(bytes).at(-1)!;
      bytes.fill(0xee, last, last + 40); // its header is unreadable: offsets unknown from it
      Deno.writeFileSync(path, bytes);
      // checkpoints.json remembered the high watermark: 1000, not 900 ...
      let broker = await startTestBroker({ dataDir, warn: () => {} });
      await broker.close();
      // ... and once recovered, the next segment's file name keeps it without the checkpoints.
      Deno.removeSync(join(dataDir, "checkpoints.json"));
      broker = await startTestBroker({ dataDir, warn: () => {} });
      const o = await Oracle.open(broker.bootstrap);
      try {
        assert.deepEqual(await o.produce("tail", 0, ["next"]), [0, 1000]);
      } finally {
        o.close();
        await broker.close();
      }
    }),
});

/** offsets.log with three commits of group g: t-0 at 5, t-1 at 9, t-0 at 7. */
async function threeCommits(dir: string): Promise<{ path: string; ends: number[] }> {
  const store = OffsetStore.open(dir, () => {});
  const path = join(dir, "offsets.log");
  const ends: number[] = [];
  for (const [p, o] of [[0, 5], [1, 9], [0, 7]]) {
    store.commit("g", [{ topic: "t", partition: p, offset: o, metadata: null }]);
    await store.sync();
    ends.push(Deno.statSync(path).size);
  }
  await store.close();
  return { path, ends };
}

Deno.test("one flipped byte anywhere in offsets.log is repaired and no commit moves", () =>
  withTempDir(async (dir) => {
    const { path, ends } = await threeCommits(dir);
    const clean = Deno.readFileSync(path);
    // The length field, the CRC field and the body of each entry.
    const starts = [0, ends[0], ends[1]];
    for (const at of starts.flatMap((s) => [s + 2, s + 6, s + 20])) {
      const bytes = clean.slice();
      bytes[at] ^= 0x01;
      Deno.writeFileSync(path, bytes);
      const lines: string[] = [];
      const store = OffsetStore.open(dir, () => {}, { warn: (l) => lines.push(l) });
      try {
        assert.equal(store.get("g", "t", 0)?.offset, 7, `flip at ${at}`);
        assert.equal(store.get("g", "t", 1)?.offset, 9, `flip at ${at}`);
        assert.match(
          lines.join("\n"),
          /offsets.log: repaired .* no commit was lost/,
          `flip at ${at}`,
        );
      } finally {
        await store.close();
      }
      Deno.writeFileSync(path, clean);
    }
  }));

Deno.test("an offsets.log entry damaged past repair is skipped, naming the commit, and the later ones kept", () =>
  withTempDir(async (dir) => {
    const { path, ends } = await threeCommits(dir);
    const clean = Deno.readFileSync(path);
    const starts = [0, ends[0], ends[1]];
    const cases = [
      // [entry garbled, what the group has afterwards, what is said]
      [0, { 0: 7, 1: 9 }, /a later commit of the same partition is intact, so nothing is lost/],
      [1, { 0: 7, 1: undefined }, /group "g" for t-1; the group has no other commit/],
      [2, { 0: 5, 1: 9 }, /goes back to its previous commit, offset 5, and will re-read/],
    ] as const;
    for (const [entry, want, said] of cases) {
      const bytes = clean.slice();
      const end = entry < 2 ? ends[entry] : bytes.byteLength;
      bytes.fill(0x21, end - 6, end - 2); // four bytes of its timestamp: no single-byte fix
      Deno.writeFileSync(path, bytes);
      const lines: string[] = [];
      const store = OffsetStore.open(dir, () => {}, { warn: (l) => lines.push(l) });
      try {
        assert.equal(store.get("g", "t", 0)?.offset, want[0], `entry ${entry}`);
        assert.equal(store.get("g", "t", 1)?.offset, want[1], `entry ${entry}`);
        const text = lines.join("\n");
        assert.match(
          text,
          new RegExp(
            `WARNING: offsets.log: skipped \\d+ damaged byte\\(s\\) at byte ${starts[entry]}`,
          ),
        );
        assert.match(text, said);
        assert.match(text, /kept in .*corrupt/);
      } finally {
        await store.close();
      }
      const reread: string[] = [];
      await OffsetStore.open(dir, () => {}, { warn: (l) => reread.push(l) }).close();
      assert.deepEqual(reread, [], "the damaged entry was rewritten away");
      Deno.writeFileSync(path, clean);
    }
    const bytes = clean.slice();
    bytes.fill(0x21, ends[1] - 6, ends[1] - 2);
    Deno.writeFileSync(path, bytes);
    assert.throws(
      () => OffsetStore.open(dir, () => {}, { onCorruption: "refuse" }),
      /Cannot open .*offsets.log: 1 damaged region\(s\).*--on-corruption refuse/,
    );
  }));
