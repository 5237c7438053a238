/**
 * The sink's parts in-process, in virtual time (tests/_sink_fakes.ts): `PartitionWriter`,
 * `LakeRetry`, `Rotation` and the `Sink` over a lake that fails where each test says and a
 * fake consumer group. Every commit is checked against the lake at that moment (no commit may
 * cover an offset the lake does not hold), and after the failure a new sink on the same lake
 * and commits must leave every record in the lake exactly once, with its value, in objects
 * that follow each other with no gap. No process is spawned, no engine used.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Kafka } from "../../lib/deps/kafkajs.ts";
import { objectKey } from "../../lib/lake/lake.ts";
import { LakeCallAbandoned, LakeFailed, LakeRetry } from "../../lib/lake/lake_retry.ts";
import { PartitionWriter } from "../../lib/lake/partition_writer.ts";
import type { Tally } from "../../lib/lake/partition_writer.ts";
import { Rotation } from "../../lib/lake/rotation.ts";
import { runSink, Sink } from "../../lib/lake/sink.ts";
import type { SinkParts, SinkSummary } from "../../lib/lake/sink.ts";
import { isRebalance } from "../../lib/lake/sink_consumer.ts";
import type { SinkMessage } from "../../lib/lake/sink_consumer.ts";
import { UsageError } from "../../lib/shell/errors.ts";
import { parseOptions } from "../../tasks/sink.ts";
import {
  drive,
  driveUntil,
  FakeKafka,
  FaultyLake,
  lakeError,
  lakeProblems,
  rebalanceError,
  VirtualClock,
} from "../_sink_fakes.ts";
import type { FakeConsumer, Fault, FaultKind, LakeCall } from "../_sink_fakes.ts";

/** A lake, a Kafka with topic `t` and the clock they share. */
interface World {
  clock: VirtualClock;
  lake: FaultyLake;
  kafka: FakeKafka;
  log: string[];
}

function world(partitions = 2): World {
  const clock = new VirtualClock();
  const lake = new FaultyLake(clock);
  const kafka = new FakeKafka(lake, clock);
  kafka.createTopic("t", partitions);
  return { clock, lake, kafka, log: [] };
}

/** Partitions with records past their commit, and the log end to land them to. */
function targets(w: World): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, end] of w.kafka.ends()) {
    if ((w.kafka.committed.get(id) ?? 0) < end) out.set(id, end);
  }
  return out;
}

/** A sink on the world: `once` (drain to the ends now) unless told otherwise. */
function sink(w: World, extra: Partial<SinkParts> & { once?: boolean } = {}) {
  const { once = true, ...rest } = extra;
  return new Sink({
    lake: w.lake,
    groupId: "g",
    flushSize: 4,
    rotateIntervalMs: 0,
    topics: [...w.kafka.logs.keys()].sort(),
    newConsumer: () => w.kafka.consumer(),
    targets: once ? targets(w) : undefined,
    lakeRetryTimeoutMs: 60_000,
    clock: w.clock,
    log: (l) => w.log.push(l),
    ...rest,
  });
}

/** Runs `s` to its end in virtual time: its summary, or the error it failed with. */
async function finish(
  w: World,
  s: Sink,
  running = s.run(),
): Promise<{ summary?: SinkSummary; error?: Error }> {
  return await drive(w.clock, running.then((summary) => ({ summary }), (error) => ({ error })));
}

/** New sinks on the same lake and commits until one drains cleanly; how many it took. */
async function restartUntilLanded(w: World, extra: Partial<SinkParts> = {}): Promise<number> {
  for (let runs = 1; runs <= 5; runs++) {
    if (!targets(w).size) return runs - 1;
    const r = await finish(w, sink(w, extra));
    if (!r.error) continue;
    throw new Error(`Restart ${runs} failed: ${r.error.message}`);
  }
  throw new Error("Still not landed after 5 restarts");
}

/** No commit passed the lake, and every record is in it exactly once. */
function assertExactlyOnce(w: World): void {
  assert.deepEqual(w.kafka.violations, [], "a commit covered offsets the lake did not hold");
  assert.deepEqual(lakeProblems(w.kafka), []);
  for (const [id, end] of w.kafka.ends()) {
    assert.equal(w.kafka.committed.get(id), end, `${id} committed to the log end`);
  }
}

/** A fault at the lake call that matches `when`. */
function faultAt(when: (c: LakeCall) => boolean, fault: Fault, times = 1) {
  let left = times;
  return (c: LakeCall) => {
    if (left > 0 && when(c)) {
      left--;
      return fault;
    }
    return undefined;
  };
}

/** Messages at offsets `from`..`to` - 1 of partition `p`, as the consumer hands them. */
function messages(from: number, to: number, p = 0): SinkMessage[] {
  return Array.from({ length: to - from }, (_, i) => ({
    offset: String(from + i),
    key: null,
    value: Buffer.from(JSON.stringify({ t: "t", p, o: from + i })),
    timestamp: "0",
  }));
}

function writer(w: World, flushSize = 4, retryMs = 60_000) {
  const tally: Tally = { records: 0, objects: 0, bytes: 0, quarantined: 0 };
  const retry = new LakeRetry({
    lakeUrl: w.lake.url,
    timeoutMs: retryMs,
    clock: w.clock,
    log: (l) => w.log.push(l),
  });
  const pw = new PartitionWriter("t", 0, {
    lake: w.lake,
    retry,
    clock: w.clock,
    flushSize,
    tally,
    log: (l) => w.log.push(l),
  });
  return { pw, tally, retry };
}

/** The start offsets of the objects of t[0] in the lake. */
function starts(w: World, p = 0): number[] {
  return [...w.lake.objects.keys()]
    .filter((k) => k.startsWith(`topics/t/partition=${p}/`))
    .map((k) => Number(k.slice(-15, -5)))
    .sort((a, b) => a - b);
}

Deno.test("a partition writer cuts by flush size and at the start of every object an earlier run left", async () => {
  const w = world();
  w.lake.objects.set(objectKey("t", 0, 7), new TextEncoder().encode('{"o":7}\n'));
  const { pw, tally } = writer(w, 5);
  await pw.take(messages(0, 21));
  await pw.write();
  assert.deepEqual(starts(w), [0, 5, 7, 12], "5 by size, 7 where the old object began");
  assert.equal(pw.durable, 17);
  assert.equal(pw.pending, 4, "17..20 wait in the buffer");
  assert.equal(tally.records, 21);
  assert.equal(tally.objects, 4);
  assert.match(w.log.join("\n"), /t\[0\] resumes at 0; 1 object\(s\) from an earlier run/);
});

Deno.test("a failed write keeps its objects: the next write lands them first, and durable moves only past what landed", async () => {
  const w = world();
  const { pw } = writer(w, 4, 0);
  await pw.take(messages(0, 6));
  w.lake.rules.push(faultAt((c) => c.op === "putMany", { kind: "refused" }));
  await assert.rejects(pw.write(), LakeFailed, "no retries with a zero timeout");
  assert.equal(pw.durable, 0, "nothing durable yet");
  assert.equal(pw.commitPoint(), undefined);
  assert.equal(pw.failed instanceof LakeFailed, true);
  assert.deepEqual(starts(w), []);
  // A writer that failed for good takes no more writes: nothing after it can be committed.
  await pw.take(messages(6, 9));
  await assert.rejects(pw.write(), LakeFailed);
  assert.equal(pw.commitPoint(), undefined);

  // A long write goes in chunks: when a later chunk fails, durable stops after the earlier.
  const w1 = world();
  const { pw: one } = writer(w1, 1, 0);
  await one.take(messages(0, 2100));
  w1.lake.rules.push(faultAt((c) => c.op === "putMany" && c.n === 3, { kind: "full" }));
  await assert.rejects(one.write(), /No space left on device/);
  assert.equal(one.durable, 1024);
  assert.equal(one.commitPoint(), 1024);
  assert.equal(w1.lake.objects.size, 1024);

  // Abandoned (the sink stopping) rather than failed: the objects stay cut and land later.
  const w2 = world();
  const { pw: pw2 } = writer(w2, 4);
  await pw2.take(messages(0, 6));
  w2.lake.down = true;
  const abandoned = pw2.write({ abandon: () => "the sink is stopping" });
  await assert.rejects(drive(w2.clock, abandoned), LakeCallAbandoned);
  assert.equal(pw2.failed, undefined);
  await pw2.take(messages(6, 12));
  w2.lake.down = false;
  await drive(w2.clock, pw2.write());
  assert.deepEqual(starts(w2), [0, 4, 8]);
  assert.equal(pw2.durable, 12);
  assert.equal(pw2.commitPoint(), 12);
});

Deno.test("a rewind below what a writer holds keeps what lies before it and drops the rest", async () => {
  const w = world();
  const { pw, tally } = writer(w, 4);
  // Offset 5 is not JSON: it goes to quarantine/, also when its object is cut again.
  const bad = (ms: SinkMessage[]) =>
    ms.map((m) => m.offset === "5" ? { ...m, value: Buffer.from("{not json") } : m);
  await pw.take(bad(messages(0, 10))); // cut 0..3, 4..7; 8, 9 buffered
  await pw.take(bad(messages(6, 12))); // again from 6: 4, 5 kept, 6.. read anew
  assert.equal(tally.records, 12);
  assert.equal(pw.durable, 0, "nothing below 6 was written: the rewind moves nothing forward");
  assert.equal(pw.commitPoint(), undefined);
  assert.match(w.log.join("\n"), /t\[0\] rewound to 6/);
  await pw.write();
  pw.cut();
  await pw.write();
  assert.deepEqual(starts(w), [0, 4, 8], "4..7 cut again from 4, then 8..11");
  assert.equal(pw.durable, 12);
  w.kafka.produce("t", 12, (p, o) => p === 0 && o === 5 ? "{not json" : undefined);
  assert.deepEqual(lakeProblems(w.kafka).filter((p) => p.startsWith("t:0")), []);
});

Deno.test("lake retries back off, heartbeat meanwhile, give up after the timeout naming the flag, and stop when told", async () => {
  const w = world();
  const retry = new LakeRetry({
    lakeUrl: w.lake.url,
    timeoutMs: 60_000,
    clock: w.clock,
    log: (l) => w.log.push(l),
    flag: "--lake-retry-timeout",
  });
  let calls = 0;
  let beats = 0;
  const heartbeat = () => (beats++, Promise.resolve());
  const flaky = () => ++calls < 4 ? Promise.reject(lakeError("refused")) : Promise.resolve("ok");
  assert.equal(await drive(w.clock, retry.run(() => "write x", flaky, { heartbeat })), "ok");
  assert.equal(calls, 4);
  assert.ok(beats >= 1, "heartbeats while waiting");
  assert.match(
    w.log[0],
    /the lake "s3:\/\/fake-lake\/pinpipe" is unreachable \(connect ECONNREFUSED/,
  );
  assert.match(w.log.at(-1)!, /answers again after/);

  const t0 = w.clock.now();
  const never = () => Promise.reject(lakeError("unavailable"));
  await assert.rejects(
    drive(w.clock, retry.run(() => "write x to the lake", never)),
    (err: Error) => {
      assert.ok(err instanceof LakeFailed);
      assert.match(
        err.message,
        /^Cannot write x to the lake: the lake still failed after 1 min of retries \(--lake-retry-timeout 1 min\): ServiceUnavailable$/,
      );
      return true;
    },
  );
  assert.ok(w.clock.now() - t0 >= 60_000 && w.clock.now() - t0 < 66_000);

  calls = 0;
  const denied = () => (calls++, Promise.reject(lakeError("denied")));
  await assert.rejects(drive(w.clock, retry.run(() => "write x", denied)), /Access Denied/);
  assert.equal(calls, 1, "a permanent error is not retried");

  let stop = false;
  const stopping = drive(
    w.clock,
    retry.run(() => "write x", never, { abandon: () => stop ? "stopping" : undefined }),
  );
  await driveUntil(w.clock, "a few failures", () => w.clock.now() > 2000);
  stop = true;
  await assert.rejects(stopping, LakeCallAbandoned);

  const rebalance = drive(
    w.clock,
    retry.run(() => "write x", never, {
      heartbeat: () => Promise.reject(rebalanceError()),
      isRebalance,
    }),
  );
  await assert.rejects(
    rebalance,
    (err: Error) => err instanceof LakeCallAbandoned && isRebalance(err.cause),
  );

  beats = 0;
  const slow = () => w.clock.sleep(5000).then(() => "done");
  assert.equal(await drive(w.clock, retry.run(() => "write x", slow, { heartbeat })), "done");
  assert.ok(beats >= 4, `heartbeats during a slow write: ${beats}`);
});

Deno.test("the rotation lands only the partitions whose oldest record waited the interval", async () => {
  const w = world();
  const a = writer(w, 100).pw;
  const b = new PartitionWriter("t", 1, {
    lake: w.lake,
    retry: new LakeRetry({ lakeUrl: w.lake.url, timeoutMs: 0, clock: w.clock }),
    clock: w.clock,
    flushSize: 100,
    tally: { records: 0, objects: 0, bytes: 0, quarantined: 0 },
    log: () => {},
  });
  await a.take(messages(0, 3));
  await drive(w.clock, w.clock.sleep(600));
  await b.take(messages(0, 2, 1));
  await drive(w.clock, w.clock.sleep(500));
  const landed: string[] = [];
  const rotation = new Rotation(1000, w.clock, () => [a, b], async (pw) => {
    landed.push(pw.name);
    pw.cut();
    await pw.write();
  });
  assert.equal(rotation.everyMs, 250);
  await rotation.tick();
  assert.deepEqual(landed, ["t[0]"]);
  assert.deepEqual(starts(w), [0]);
  await drive(w.clock, w.clock.sleep(500));
  await rotation.tick();
  assert.deepEqual(landed, ["t[0]", "t[1]"]);
});

Deno.test("a write that fails for good stops the sink without committing past it, though batches keep arriving until the consumer leaves", async () => {
  const w = world();
  w.kafka.produce("t", 60);
  // The third write fails for good; the consumer takes 2 s to leave, fetching all the while.
  w.lake.rules.push(faultAt((c) => c.op === "putMany" && c.n > 3, { kind: "full" }));
  let consumer: ReturnType<FakeKafka["consumer"]> | undefined;
  const s = sink(w, {
    newConsumer: () => {
      consumer = w.kafka.consumer();
      consumer.disconnectMs = 2000;
      return consumer;
    },
  });
  const r = await finish(w, s);
  assert.ok(r.error, "the sink stopped with an error");
  assert.match(
    r.error.message,
    /^Cannot write .* to the lake "s3:\/\/fake-lake\/pinpipe": No space left on device \(os error 28\); not landed yet, the next run resumes there: t\[\d\] at offset \d+/,
  );
  assert.deepEqual(w.kafka.violations, []);
  const deliveredAtStop = w.kafka.delivered;
  assert.ok(deliveredAtStop > 3, "batches went on arriving after the failure");
  assert.equal(await restartUntilLanded(w), 1);
  assertExactlyOnce(w);
});

Deno.test("a write whose answer is lost is retried onto the same key: every record once, nothing stops", async () => {
  const w = world();
  w.kafka.produce("t", 40, (_p, o) => o === 9 ? "{not json" : undefined);
  w.lake.rules.push(faultAt((c) => c.op === "putMany", { kind: "reset", after: true }, 3));
  const r = await finish(w, sink(w));
  assert.equal(r.error, undefined);
  assert.equal(r.summary!.records, 80);
  assert.equal(r.summary!.quarantined, 2);
  assert.equal(w.lake.failures, 3);
  assertExactlyOnce(w);
});

Deno.test("a crash between the write and the commit is replayed onto the same keys, even with other cuts", async () => {
  const w = world(1);
  w.kafka.produce("t", 30);
  w.lake.rules.push(faultAt((c) => c.op === "putMany" && c.n > 4, { kind: "full", after: true }));
  const r = await finish(w, sink(w));
  assert.match(r.error!.message, /No space left on device/);
  const before = starts(w);
  const committed = w.kafka.committed.get("t:0") ?? 0;
  assert.ok(before.some((s) => s >= committed), "an object past the commit (an orphan)");
  // Other cuts this time: without the lake check, 7-record objects would overlap the orphans.
  assert.equal(await restartUntilLanded(w, { flushSize: 7 }), 1);
  assertExactlyOnce(w);
  assert.ok(before.every((s) => starts(w).includes(s)), "every orphan rewritten under its key");
  assert.match(w.log.join("\n"), /object\(s\) from an earlier run will be rewritten/);
});

Deno.test("a commit that fails for good stops the sink; the restart lands every record once", async () => {
  const w = world();
  w.kafka.produce("t", 30);
  w.kafka.commitRules.push((n) => n === 3 ? "fatal" : undefined);
  const r = await finish(w, sink(w));
  assert.match(r.error!.message, /^Cannot commit the sink's offsets in group "g": The coordinator/);
  w.kafka.commitRules = [];
  assert.equal(await restartUntilLanded(w), 1);
  assertExactlyOnce(w);
});

Deno.test("a commit refused while the group rebalances is retried, and the drain completes", async () => {
  const w = world();
  w.kafka.produce("t", 30);
  w.kafka.commitRules.push((n) => n >= 2 && n <= 4 ? "rebalance" : undefined);
  const r = await finish(w, sink(w));
  assert.equal(r.error, undefined);
  assert.match(w.log.join("\n"), /commit deferred while the group changes/);
  assertExactlyOnce(w);
});

Deno.test("a rebalance mid-stream re-reads from the commit and rewrites the same objects", async () => {
  const w = world();
  w.kafka.produce("t", 50);
  // The group rebalances while a commit is refused: an object is durable and uncommitted.
  w.kafka.commitRules.push((n) => n === 4 ? (w.kafka.rebalancing = true, "rebalance") : undefined);
  const r = await finish(w, sink(w, { rotateIntervalMs: 3 }));
  assert.equal(r.error, undefined);
  assert.match(
    w.log.join("\n"),
    /t\[\d\] resumes at \d+; \d+ object\(s\) from an earlier run will be rewritten/,
  );
  assertExactlyOnce(w);
});

Deno.test("a drain completes when the group rebalances after a partition was fully landed", async () => {
  const w = world();
  w.kafka.logs.get("t")![0].push(
    ...Array.from({ length: 5 }, (_, o) => JSON.stringify({ t: "t", p: 0, o })),
  );
  w.kafka.logs.get("t")![1].push(
    ...Array.from({ length: 80 }, (_, o) => JSON.stringify({ t: "t", p: 1, o })),
  );
  const s = sink(w);
  const running = s.run();
  await driveUntil(w.clock, "t[0] committed", () => w.kafka.committed.get("t:0") === 5);
  w.kafka.rebalancing = true;
  const r = await finish(w, s, running);
  assert.equal(r.error, undefined);
  assertExactlyOnce(w);
});

Deno.test("batches fetched again from below the position are taken from there, losing nothing before them", async () => {
  const w = world();
  w.kafka.produce("t", 60, (_p, o) => o % 13 === 5 ? "{not json" : undefined);
  const r = await finish(w, sink(w, { newConsumer: () => w.kafka.consumer({ stutter: 5 }) }));
  assert.equal(r.error, undefined);
  assert.match(w.log.join("\n"), /rewound to/);
  assertExactlyOnce(w);
});

Deno.test("an outage shorter than --lake-retry-timeout is waited out: heartbeats go on, no more batches are fetched, nothing is lost", async () => {
  const w = world(3);
  w.kafka.produce("t", 40);
  const s = sink(w, { once: false, lakeRetryTimeoutMs: 5 * 60_000 });
  const running = s.run();
  await driveUntil(w.clock, "some objects", () => w.lake.writes >= 3);
  w.lake.down = true;
  const down = { at: w.clock.now(), delivered: w.kafka.delivered, beats: w.kafka.heartbeats };
  await driveUntil(w.clock, "90 s of outage", () => w.clock.now() >= down.at + 90_000);
  assert.ok(
    w.kafka.delivered - down.delivered <= 3,
    "one batch per partition at most, then the fetch waits",
  );
  assert.ok(
    w.kafka.heartbeats - down.beats >= 80,
    `heartbeats: ${w.kafka.heartbeats - down.beats}`,
  );
  assert.deepEqual(w.kafka.violations, []);
  assert.match(
    w.log.join("\n"),
    /the lake "s3:\/\/fake-lake\/pinpipe" is unreachable for 1 min \d+ s \(connect ECONNREFUSED/,
  );
  w.lake.down = false;
  await driveUntil(w.clock, "everything committed", () => !targets(w).size);
  s.stop();
  const r = await finish(w, s, running);
  assert.equal(r.error, undefined);
  assert.match(w.log.join("\n"), /answers again after 1 min/);
  assertExactlyOnce(w);
});

Deno.test("an outage longer than --lake-retry-timeout stops the sink naming the lake and each partition's resume offset; the restart lands what is missing", async () => {
  const w = world();
  w.kafka.produce("t", 40);
  const s = sink(w, { lakeRetryTimeoutMs: 2 * 60_000 });
  const running = s.run();
  await driveUntil(w.clock, "some objects", () => w.lake.writes >= 3);
  w.lake.down = true;
  const r = await finish(w, s, running);
  const resume = [0, 1].map((p) => `t\\[${p}\\] at offset ${w.kafka.committed.get(`t:${p}`) ?? 0}`);
  assert.match(
    r.error!.message,
    new RegExp(
      `^Cannot write .* to the lake "s3://fake-lake/pinpipe": the lake still failed after 2 min of retries \\(--lake-retry-timeout 2 min\\): connect ECONNREFUSED 127\\.0\\.0\\.1:4568; not landed yet, the next run resumes there: ${
        resume.join(", ")
      }$`,
    ),
  );
  assert.deepEqual(w.kafka.violations, []);
  w.lake.down = false;
  assert.equal(await restartUntilLanded(w), 1);
  assertExactlyOnce(w);
});

Deno.test("stopping waits for a write in flight and commits it", async () => {
  const w = world(1);
  w.kafka.produce("t", 20);
  w.lake.writeMs = 5000;
  const s = sink(w, { once: false });
  const running = s.run();
  await driveUntil(w.clock, "a write in flight", () => w.lake.inFlight > 0);
  s.stop();
  const r = await finish(w, s, running);
  assert.equal(r.error, undefined);
  assert.equal(w.lake.inFlight, 0);
  assert.deepEqual(w.kafka.violations, []);
  const held = w.lake.holdings().get("t:0")!.length;
  assert.equal(r.summary!.records, held, "what it counted is what it landed");
  assert.equal(w.kafka.committed.get("t:0"), held, "and committed");
  assert.equal(await restartUntilLanded(w), 1);
  assertExactlyOnce(w);
});

Deno.test("stopping during an outage abandons the write without committing past it, and the next run lands it", async () => {
  const w = world();
  w.kafka.produce("t", 40);
  const s = sink(w, { once: false });
  const running = s.run();
  await driveUntil(w.clock, "some objects", () => w.lake.writes >= 2);
  w.lake.down = true;
  await driveUntil(w.clock, "failures", () => w.lake.calls > 10);
  const stoppedAt = w.clock.now();
  s.stop();
  const r = await finish(w, s, running);
  assert.equal(r.error, undefined);
  assert.ok(w.clock.now() - stoppedAt < 15_000, "stopping did not wait out the retry timeout");
  assert.match(
    w.log.join("\n"),
    /record\(s\) of t\[\d\] not landed, the lake "s3:\/\/fake-lake\/pinpipe" still failing \(connect ECONNREFUSED 127\.0\.0\.1:4568\); the next run reads them again from offset \d+/,
  );
  assert.deepEqual(w.kafka.violations, []);
  const held = [...w.lake.holdings().values()].reduce((n, l) => n + l.length, 0);
  assert.equal(r.summary!.records, held, "records counts only what landed");
  w.lake.down = false;
  assert.equal(await restartUntilLanded(w), 1);
  assertExactlyOnce(w);
});

Deno.test("rotation lands a quiet partition's tail, and keeps its cut objects through an outage until they land", async () => {
  const w = world();
  const s = sink(w, { once: false, flushSize: 1000, rotateIntervalMs: 2000 });
  const running = s.run();
  const producing = (async () => {
    for (let i = 0; i < 40; i++) {
      w.kafka.produce("t", 3);
      if (i === 10) w.lake.down = true;
      if (i === 25) w.lake.down = false;
      await w.clock.sleep(700);
    }
  })();
  await drive(w.clock, producing);
  await driveUntil(w.clock, "everything committed", () => !targets(w).size);
  s.stop();
  const r = await finish(w, s, running);
  assert.equal(r.error, undefined);
  assert.ok(starts(w).length >= 5, `rotated objects: ${starts(w)}`);
  assertExactlyOnce(w);
});

Deno.test("no join within --assign-timeout fails with a message naming what it waited for and the flag", async () => {
  for (const once of [true, false]) {
    const w = world();
    w.kafka.produce("t", 5);
    const r = await finish(
      w,
      sink(w, {
        once,
        assignTimeoutMs: 60_000,
        newConsumer: () => w.kafka.consumer({ joins: false }),
      }),
    );
    assert.match(
      r.error!.message,
      once
        ? /^Cannot consume t in group "g" from Kafka: no partition of t was assigned to this sink within 1 min: .* \(--assign-timeout lengthens the wait\)$/
        : /^Cannot consume t in group "g" from Kafka: the consumer did not join the group within 1 min: .* \(--assign-timeout lengthens the wait\)$/,
    );
    assert.equal(w.clock.now() < 70_000, true);
  }
});

Deno.test("every single failure of a lake call or a commit, in turn, leaves every record in the lake exactly once after restarts", async () => {
  /** A clean run's lake and commit calls, to know how many points there are. */
  const clean = world();
  clean.kafka.produce("t", 25, (p, o) => p === 1 && o % 11 === 3 ? null : undefined);
  await finish(clean, sink(clean, { rotateIntervalMs: 5 }));
  assertExactlyOnce(clean);
  const lakeCalls = clean.lake.calls;
  const commitCalls = clean.kafka.commits;
  assert.ok(lakeCalls >= 10 && commitCalls >= 5, `${lakeCalls} lake calls, ${commitCalls} commits`);

  const kinds: { kind: FaultKind; after?: boolean; stored?: number }[] = [
    { kind: "full" },
    { kind: "full", after: true },
    { kind: "full", stored: 1 },
    { kind: "refused" },
    { kind: "slowdown", after: true },
    { kind: "denied" },
  ];
  let stops = 0;
  const check = async (label: string, setup: (w: World) => void) => {
    const w = world();
    w.kafka.produce("t", 25, (p, o) => p === 1 && o % 11 === 3 ? null : undefined);
    setup(w);
    const r = await finish(w, sink(w, { rotateIntervalMs: 5 })).catch((err) => {
      throw new Error(`${label}: ${err.message}\n${w.log.join("\n")}`);
    });
    if (r.error) stops++;
    assert.deepEqual(w.kafka.violations, [], label);
    w.lake.rules = [];
    w.kafka.commitRules = [];
    await restartUntilLanded(w, { flushSize: 3 });
    assert.deepEqual(w.kafka.violations, [], label);
    assert.deepEqual(lakeProblems(w.kafka), [], label);
  };
  for (let n = 1; n <= lakeCalls + 2; n++) {
    for (const k of kinds) {
      await check(`lake call ${n}: ${JSON.stringify(k)}`, (w) => {
        w.lake.rules.push(faultAt((c) => c.n === n, k));
      });
    }
  }
  for (let n = 1; n <= commitCalls + 1; n++) {
    for (const kind of ["fatal", "rebalance"] as const) {
      await check(`commit ${n}: ${kind}`, (w) => {
        w.kafka.commitRules.push((c) => c === n ? kind : undefined);
      });
    }
  }
  assert.ok(stops > lakeCalls, `the failures stopped ${stops} runs`);
});

Deno.test("the sink task reads --lake-retry-timeout and --assign-timeout as durations, from flags or the environment", () => {
  const base = ["--bootstrap=127.0.0.1:9092"];
  const d = parseOptions(base, {});
  assert.equal(d.lakeRetryTimeoutMs, 5 * 60_000);
  assert.equal(d.assignTimeoutMs, 60_000);
  const f = parseOptions([...base, "--lake-retry-timeout=30s", "--assign-timeout", "2m"], {});
  assert.equal(f.lakeRetryTimeoutMs, 30_000);
  assert.equal(f.assignTimeoutMs, 120_000);
  const e = parseOptions(base, {
    PINPIPE_LAKE_RETRY_TIMEOUT: "0",
    PINPIPE_SINK_ASSIGN_TIMEOUT: "90s",
  });
  assert.equal(e.lakeRetryTimeoutMs, 0, "0: no retries");
  assert.equal(e.assignTimeoutMs, 90_000);
  assert.throws(
    () => parseOptions([...base, "--lake-retry-timeout=soon", "--assign-timeout=10ms"], {}),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /--lake-retry-timeout "soon": expected a duration/);
      assert.match(err.message, /--assign-timeout "10ms"/);
      return true;
    },
  );
});

Deno.test("a sink stopped while the group coordinator is still loading returns its summary, not a bare abort error", async () => {
  const w = world();
  w.kafka.produce("t", 5);
  let asked = 0;
  const loading = () => {
    asked++;
    return Promise.reject(
      Object.assign(new Error("The coordinator is loading and hence can't process requests"), {
        name: "KafkaJSProtocolError",
        type: "COORDINATOR_LOAD_IN_PROGRESS",
        retriable: true,
      }),
    );
  };
  const admin = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    listTopics: () => Promise.resolve(["t"]),
    fetchTopicOffsets: loading,
    fetchOffsets: loading,
  };
  const ac = new AbortController();
  const running = runSink(
    {
      kafka: { admin: () => admin } as unknown as Kafka,
      lake: w.lake,
      topicsRegex: /^t$/,
      groupId: "g",
      flushSize: 4,
      rotateIntervalMs: 0,
    },
    { signal: ac.signal },
  );
  while (asked < 2) await new Promise((r) => setTimeout(r, 10));
  ac.abort();
  const s = await running;
  assert.deepEqual(s.topics, []);
  assert.equal(s.records, 0);
});

Deno.test("a sink stopped while its consumer is still joining leaves the group only after the join, so no member is left holding partitions", async () => {
  const w = world();
  w.kafka.produce("t", 10);
  const members: FakeConsumer[] = [];
  const s = sink(w, {
    once: false,
    newConsumer: () => {
      const c = w.kafka.consumer();
      c.joinMs = 5000;
      members.push(c);
      return c;
    },
  });
  const running = s.run();
  s.stop();
  const r = await finish(w, s, running);
  assert.equal(r.error, undefined);
  assert.deepEqual(members.map((m) => m.events), [["joined", "disconnect"]]);
});
