/**
 * The sink against the embedded broker and real lakes (a temp directory, s3rver): the S3
 * sink layout, flush sizes, quarantine, time rotation, resuming, and exactly-once output
 * after a crash between an object's write and its commit.
 */
import assert from "node:assert/strict";
import { FileLake, objectKey, S3Lake } from "../../lib/lake/lake.ts";
import { runSink, topicsRegex } from "../../lib/lake/sink.ts";
import { parseOptions } from "../../tasks/sink.ts";
import { UsageError } from "../../lib/shell/errors.ts";
import { waitFor, withS3rver, withTempDir } from "../_fixtures.ts";

import {
  assertExactlyOnce,
  createTopics,
  objects,
  produce,
  sinkOpts,
  T,
  withBroker,
} from "../_sink_harness.ts";

Deno.test({
  ...T,
  name: "the sink lands every record once in the S3 sink layout with flush size 1000",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin", "t.geo", "other"], 2);
      for (const t of ["t.pin", "t.geo", "other"]) await produce(kafka, t, 2, 2500);
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        const s = await runSink(sinkOpts(kafka, lake));
        assert.deepEqual(s.topics, ["t.geo", "t.pin"], "only topics matching the regex");
        assert.equal(s.records, 10_000);
        assert.equal(s.objects, 12);
        assert.equal(s.quarantined, 0);
        assert.equal(s.lag, 0);
        const objs = await assertExactlyOnce(lake, ["t.geo", "t.pin"], 2, 2500);
        assert.deepEqual(
          objs.map((o) => o.key).sort(),
          ["t.geo", "t.pin"].flatMap((t) =>
            [0, 1].flatMap((p) => [0, 1000, 2000].map((o) => objectKey(t, p, o)))
          ).sort(),
        );
        assert.equal(s.bytes, objs.reduce((n, o) => n + JSON.stringify(o.lines).length - 1, 0));
      });
    }),
});

Deno.test({
  ...T,
  name: "flush size 1 writes one object per record, named by its offset",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.user"], 1);
      await produce(kafka, "t.user", 1, 60);
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        const s = await runSink(sinkOpts(kafka, lake, { flushSize: 1 }));
        assert.equal(s.objects, 60);
        const objs = await assertExactlyOnce(lake, ["t.user"], 1, 60);
        assert.ok(objs.every((o) => o.lines.length === 1));
        assert.ok(objs.some((o) => o.key === "topics/t.user/partition=0/t.user+0+0000000059.json"));
      });
    }),
});

Deno.test({
  ...T,
  name: "records that are not JSON are quarantined with their offsets and counted, never dropped",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin"], 1);
      await produce(
        kafka,
        "t.pin",
        1,
        10,
        0,
        (_p, i) => i === 0 ? "{broken" : i === 4 ? null : i === 7 ? "\xff" : JSON.stringify({ i }),
      );
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        const s = await runSink(sinkOpts(kafka, lake, { flushSize: 5 }));
        assert.equal(s.records, 10);
        assert.equal(s.quarantined, 3);
        const good = await objects(lake);
        assert.deepEqual(good.map((o) => [o.start, o.lines]), [
          [1, [{ i: 1 }, { i: 2 }, { i: 3 }]],
          [5, [{ i: 5 }, { i: 6 }, { i: 8 }, { i: 9 }]],
        ]);
        const bad = [];
        for await (const o of lake.list("quarantine/")) {
          bad.push(JSON.parse(new TextDecoder().decode(await lake.get(o.key))));
        }
        assert.deepEqual(bad.map((b) => [b.offset, b.key, b.value]), [
          [0, "0", "{broken"],
          [4, "4", null],
          [7, "7", "\xff"],
        ]);
        assert.match(bad[1].reason, /tombstone/);
        assert.ok(bad.every((b) => b.topic === "t.pin" && b.partition === 0));
      });
    }),
});

Deno.test({
  ...T,
  name:
    "a quiet partition's tail lands after the rotation interval, and a restart resumes after it",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.geo"], 1);
      await produce(kafka, "t.geo", 1, 7);
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        const ac = new AbortController();
        const running = runSink(
          sinkOpts(kafka, lake, { once: false, rotateIntervalMs: 200 }),
          { signal: ac.signal },
        );
        await waitFor("the rotated tail", async () => (await objects(lake)).length === 1, 30_000);
        await produce(kafka, "t.geo", 1, 5, 7);
        await waitFor("the second tail", async () => (await objects(lake)).length === 2, 30_000);
        ac.abort();
        const s = await running;
        assert.equal(s.records, 12);
        assert.deepEqual((await objects(lake)).map((o) => o.start), [0, 7]);
        const again = await runSink(sinkOpts(kafka, lake));
        assert.equal(again.records, 0, "everything was committed");
        await assertExactlyOnce(lake, ["t.geo"], 1, 12);
      });
    }),
});

Deno.test({
  ...T,
  name: "a long-running sink subscribes to matching topics created after it started",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin"], 1);
      await produce(kafka, "t.pin", 1, 5);
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        const ac = new AbortController();
        const running = runSink(
          sinkOpts(kafka, lake, { once: false, rotateIntervalMs: 100, topicRefreshMs: 100 }),
          { signal: ac.signal },
        );
        await waitFor("t.pin to land", async () => (await objects(lake)).length === 1, 30_000);
        await createTopics(kafka, ["t.geo", "t.user"], 2);
        await produce(kafka, "t.geo", 2, 3);
        await produce(kafka, "t.user", 2, 4);
        await waitFor("the new topics to land", async () =>
          (await objects(lake)).length === 5, 30_000);
        ac.abort();
        const s = await running;
        assert.deepEqual(s.topics, ["t.geo", "t.pin", "t.user"]);
        await assertExactlyOnce(lake, ["t.pin"], 1, 5);
        await assertExactlyOnce(lake, ["t.geo"], 2, 3);
        await assertExactlyOnce(lake, ["t.user"], 2, 4);
      });
    }),
});

Deno.test({
  ...T,
  name: "a restarted sink resumes from its committed offsets and continues the layout",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin"], 2);
      await produce(kafka, "t.pin", 2, 1500);
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        assert.equal((await runSink(sinkOpts(kafka, lake))).records, 3000);
        await produce(kafka, "t.pin", 2, 700, 1500);
        const s = await runSink(sinkOpts(kafka, lake));
        assert.equal(s.records, 1400);
        const objs = await assertExactlyOnce(lake, ["t.pin"], 2, 2200);
        assert.deepEqual([...new Set(objs.map((o) => o.start))].sort((a, b) => a - b), [
          0,
          1000,
          1500,
        ]);
      });
    }),
});

/** A lake whose writes land and then fail, as a sink killed between write and commit sees. */
class CrashAfterWriteLake extends FileLake {
  writes = 0;
  override async putMany(objects: { key: string; body: Uint8Array }[]): Promise<void> {
    await super.putMany(objects);
    this.writes++;
    throw new Error("simulated crash after the objects were durable");
  }
}

Deno.test({
  ...T,
  name: "after a crash between write and commit, a replay with other cuts leaves every record once",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin"], 1);
      await produce(kafka, "t.pin", 1, 100);
      await withTempDir(async (dir) => {
        const crashing = new CrashAfterWriteLake(dir);
        await assert.rejects(
          runSink(sinkOpts(kafka, crashing, { flushSize: 30, once: false })),
          /simulated crash/,
        );
        assert.ok(crashing.writes >= 1);
        const lake = new FileLake(dir);
        assert.deepEqual((await objects(lake)).map((o) => o.start), [0, 30, 60]);
        // Other cuts this time: without the lake check, 45 and 90 would duplicate 30..89.
        const s = await runSink(sinkOpts(kafka, lake, { flushSize: 45 }));
        assert.equal(s.records, 100, "nothing was committed, so everything is replayed");
        const objs = await assertExactlyOnce(lake, ["t.pin"], 1, 100);
        assert.deepEqual(objs.map((o) => [o.start, o.lines.length]), [[0, 30], [30, 30], [60, 40]]);
      });
    }),
});

Deno.test({
  ...T,
  name: "the sink writes the same layout to S3 (s3rver)",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.user"], 2);
      await produce(kafka, "t.user", 2, 250);
      await withS3rver(["lake"], async ({ client }) => {
        const lake = new S3Lake(client, "lake", "pinpipe");
        const s = await runSink(sinkOpts(kafka, lake, { flushSize: 100 }));
        assert.equal(s.objects, 6);
        const objs = await assertExactlyOnce(lake, ["t.user"], 2, 250);
        assert.deepEqual(objs.map((o) => o.start), [0, 100, 200, 0, 100, 200]);
      });
    }),
});

Deno.test("the sink task's default regex escapes the prefix and bad options are reported together", () => {
  const o = parseOptions(["--bootstrap=127.0.0.1:9092", "--prefix=0a1b.x"], {});
  assert.equal(o.topicsRegex, "0a1b\\.x\\..*");
  assert.ok(topicsRegex(o.topicsRegex).test("0a1b.x.pin"));
  assert.ok(!topicsRegex(o.topicsRegex).test("0a1bZx.pin"));
  assert.equal(o.group, "0a1b.x-sink");
  assert.equal(o.lake, ".pinpipe/lake");
  assert.equal(parseOptions(["--bootstrap=h:1"], {}, { bucket: "my-lake" }).lake, "s3://my-lake");
  assert.throws(
    () =>
      parseOptions([
        "--topics-regex=(",
        "--flush-size=0",
        "--lake=ftp://x",
      ], {}),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /4 problems/);
      assert.match(err.message, /--bootstrap/);
      assert.match(err.message, /--topics-regex "\("/);
      assert.match(err.message, /--flush-size "0"/);
      assert.match(err.message, /ftp:\/\/x/);
      return true;
    },
  );
});

/** A lake whose first write takes longer than the group's session timeout. */
class SlowFirstWriteLake extends FileLake {
  slow = true;
  override async putMany(objects: { key: string; body: Uint8Array }[]): Promise<void> {
    if (this.slow) {
      this.slow = false;
      await new Promise((r) => setTimeout(r, 2500));
    }
    await super.putMany(objects);
  }
}

Deno.test({
  ...T,
  name:
    "a member evicted during a long write has its commit refused, rejoins, and lands every record once",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin"], 1);
      await produce(kafka, "t.pin", 1, 300);
      await withTempDir(async (dir) => {
        const lake = new SlowFirstWriteLake(dir);
        const lines: string[] = [];
        const s = await runSink(
          sinkOpts(kafka, lake, {
            flushSize: 50,
            sessionTimeoutMs: 1000,
            log: (l) => lines.push(l),
          }),
        );
        assert.equal(s.lag, 0);
        assert.ok(
          lines.some((l) => /commit deferred while the group changes/.test(l)),
          `the commit was refused and deferred:\n${lines.join("\n")}`,
        );
        await assertExactlyOnce(lake, ["t.pin"], 1, 300);
        const again = await runSink(sinkOpts(kafka, new FileLake(dir)));
        assert.equal(again.records, 0, "everything was committed in the end");
      });
    }),
});

Deno.test({
  ...T,
  name:
    "a new lake with a group that already committed is refused, naming the partitions, and --from-beginning lands everything",
  fn: () =>
    withBroker(async (_b, kafka) => {
      await createTopics(kafka, ["t.pin", "t.geo"], 2);
      await produce(kafka, "t.pin", 2, 40);
      await produce(kafka, "t.geo", 2, 40);
      await withTempDir(async (dir) => {
        assert.equal((await runSink(sinkOpts(kafka, new FileLake(`${dir}/first`)))).records, 160);
        const fresh = new FileLake(`${dir}/second`);
        await assert.rejects(runSink(sinkOpts(kafka, fresh)), (err: Error) => {
          assert.match(err.message, /group "sink": the group already committed 160 records/);
          assert.match(err.message, /t\.geo\[0\], t\.geo\[1\], t\.pin\[0\], t\.pin\[1\]/);
          assert.match(err.message, /--from-beginning/);
          return true;
        });
        assert.deepEqual(await objects(fresh), [], "nothing was written");
        await assert.rejects(
          Deno.stat(`${dir}/second`),
          Deno.errors.NotFound,
          "no folder was made",
        );
        const s = await runSink(sinkOpts(kafka, fresh, { fromBeginning: true }));
        assert.equal(s.records, 160);
        await assertExactlyOnce(fresh, ["t.geo", "t.pin"], 2, 40);
        // The group now stands where it stood; the lake it wrote first is still complete.
        await produce(kafka, "t.pin", 2, 5, 40);
        assert.equal((await runSink(sinkOpts(kafka, fresh))).records, 10);
        await assertExactlyOnce(fresh, ["t.pin"], 2, 45);
      });
    }),
});

Deno.test("a write that fails part way leaves no temp file behind", async () => {
  await withTempDir(async (dir) => {
    const lake = new FileLake(dir);
    // The third object's name is taken by a non-empty directory, so its rename fails.
    await Deno.mkdir(`${dir}/topics/t/partition=0/t+0+0000000002.json/x`, { recursive: true });
    const objs = Array.from({ length: 40 }, (_, i) => ({
      key: objectKey("t", 0, i),
      body: new TextEncoder().encode(`{"i":${i}}\n`),
    }));
    await assert.rejects(lake.putMany(objs));
    const names = [...Deno.readDirSync(`${dir}/topics/t/partition=0`)].map((e) => e.name);
    assert.deepEqual(names.filter((n) => n.includes(".tmp-")), []);
  });
});
