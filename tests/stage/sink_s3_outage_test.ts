/**
 * The sink task through S3 outages, end to end: a producer sends records into the embedded
 * broker while `deno task sink` lands them on an `s3://` lake served by s3rver in a process of
 * its own (tests/_s3rver_main.ts), and s3rver is SIGKILLed mid-stream and started again on
 * the same port and directory, again and again, each outage lasting until the sink has said
 * it noticed and more records have been produced. Afterwards every record must be in the lake
 * exactly once (count and values, each at its offset), each partition's objects following
 * each other with no gap, and the sink must never have stopped on its own.
 *
 * A sink that exits is started again at once (as a supervisor would), so the same file
 * measures an older sink too: it prints one line of figures (kills, records, lost,
 * duplicates, gaps, sink restarts) before it asserts. `PINPIPE_OUTAGE_KILLS`,
 * `PINPIPE_OUTAGE_RECORDS`, `PINPIPE_OUTAGE_FLUSH_SIZE` and `PINPIPE_OUTAGE_ROTATE_INTERVAL`
 * shape the run (default 6 kills, at least 30,000 records, flush size 1000, rotation 1s).
 */
import assert from "node:assert/strict";
import { ListObjectsV2Command, S3Client } from "../../lib/deps/aws_s3.ts";
import { startBroker } from "../../lib/broker/broker.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import { S3Lake } from "../../lib/lake/lake.ts";
import { waitFor, withTempDir } from "../_fixtures.ts";
import { closedPort } from "../_net.ts";
import { startTask } from "../../bench/_process.ts";
import type { Running as RunningTask } from "../../bench/_process.ts";

const KILLS = Number(Deno.env.get("PINPIPE_OUTAGE_KILLS") ?? 6);
const RECORDS = Number(Deno.env.get("PINPIPE_OUTAGE_RECORDS") ?? 30_000);
/**
 * The sink's cuts, as the demo runs it: objects of up to 1,000 records, and whatever a
 * partition holds landed after 1 s. At this rate most writes are rotations, with the next
 * batch of the partition waiting behind them: the case where the old sink lost records.
 */
const FLUSH_SIZE = Deno.env.get("PINPIPE_OUTAGE_FLUSH_SIZE") ?? "1000";
const ROTATE = Deno.env.get("PINPIPE_OUTAGE_ROTATE_INTERVAL") ?? "1s";
const PARTITIONS = 3;
const TOPIC = "pinpipe.pin";
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** s3rver in its own process, killed and started again on one port and directory. */
class S3Process {
  private child?: Deno.ChildProcess;
  readonly port = closedPort();
  readonly endpoint = `http://127.0.0.1:${this.port}`;
  constructor(readonly dir: string) {}

  /** Starts it and waits until it says it listens. */
  async start(): Promise<void> {
    const main = new URL("../_s3rver_main.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, String(this.port), this.dir, "lake"],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.child = child;
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`s3rver on port ${this.port} exited before it was ready: ${out}`);
      out += value;
    }
    // Keep draining, so a full pipe never blocks it.
    (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })().catch(() => {});
  }

  /** SIGKILLs it and waits until it is gone. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.child?.status;
  }
}

/** The objects of the topic in the lake, by partition: start offset and parsed lines. */
async function lakeContents(lake: S3Lake) {
  const out = new Map<number, { start: number; lines: { n: number }[] }[]>();
  for await (const o of lake.list(`topics/${TOPIC}/`)) {
    const m = /partition=(\d+)\/.*\+(\d+)\.json$/.exec(o.key);
    assert.ok(m, `unexpected key ${o.key}`);
    const text = new TextDecoder().decode(await lake.get(o.key));
    const list = out.get(Number(m[1])) ?? [];
    out.set(Number(m[1]), list);
    list.push({
      start: Number(m[2]),
      lines: text.split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    });
  }
  for (const list of out.values()) list.sort((a, b) => a.start - b.start);
  return out;
}

/** How many objects the lake lists now, or -1 while it cannot be reached. */
async function objectCount(client: S3Client): Promise<number> {
  let n = 0;
  let token: string | undefined;
  try {
    do {
      const res = await client.send(
        new ListObjectsV2Command({
          Bucket: "lake",
          Prefix: "pinpipe/topics/",
          ContinuationToken: token,
        }),
      );
      n += res.KeyCount ?? 0;
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  } catch {
    return -1;
  }
  return n;
}

Deno.test({
  name:
    "the sink task lands every record exactly once while its S3 server is killed and restarted mid-stream",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTempDir(async (dir) => {
      const broker = await startBroker({ port: 0 });
      const s3 = new S3Process(`${dir}/s3`);
      await s3.start();
      const client = new S3Client({
        region: "us-east-1",
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: CREDENTIALS,
        maxAttempts: 1,
      });
      const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "outage-test" });
      const admin = kafka.admin();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      let sink: RunningTask | undefined;
      let producing: Promise<void> | undefined;
      let halt = () => {};
      try {
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
        await producer.connect();

        // The sink, started again whenever it exits on its own (an old sink stops at the
        // first failed write).
        let restarts = 0;
        let stopping = false;
        let stderr = "";
        const startSink = () =>
          startTask("sink.ts", [
            "--bootstrap",
            broker.bootstrap,
            "--lake",
            "s3://lake/pinpipe",
            "--s3-endpoint",
            s3.endpoint,
            "--flush-size",
            FLUSH_SIZE,
            "--rotate-interval",
            ROTATE,
            "--session-timeout",
            "6s",
          ], {
            AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
            AWS_REGION: "us-east-1",
            AWS_CONFIG_FILE: "/dev/null",
            AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
            AWS_EC2_METADATA_DISABLED: "true",
          });
        sink = startSink();
        const supervised = (async () => {
          for (;;) {
            const end = await sink!.ended;
            stderr += sink!.stderr();
            if (stopping) return end;
            restarts++;
            sink = startSink();
          }
        })();
        const said = (re: RegExp) =>
          (stderr + sink!.stderr()).match(new RegExp(re, "g"))?.length ?? 0;

        // The producer: posting-sized JSON records, record n to partition n % 3, until the
        // kills are done and at least RECORDS were sent.
        let produced = 0;
        let killsDone = false;
        let halted = false;
        const pad = "x".repeat(200);
        halt = () => halted = true;
        producing = (async () => {
          while ((!killsDone || produced < RECORDS) && !halted) {
            const n0 = produced;
            await producer.send({
              topic: TOPIC,
              acks: -1,
              messages: Array.from({ length: 150 }, (_, k) => ({
                key: String(n0 + k),
                value: JSON.stringify({ n: n0 + k, pad }),
                partition: (n0 + k) % PARTITIONS,
              })),
            });
            produced += 150;
            // About 1,500 records a second: a stream, not one burst.
            await new Promise((r) => setTimeout(r, 100));
          }
        })();

        let kills = 0;
        for (; kills < KILLS; kills++) {
          const before = await objectCount(client);
          await waitFor(
            "objects landing",
            async () => (await objectCount(client)) >= before + 3,
            120_000,
            200,
          );
          const landed = await objectCount(client);
          const noticed = { unreachable: said(/is unreachable/), restarts, produced };
          await s3.kill();
          await waitFor(
            "the sink to notice the outage",
            () => said(/is unreachable/) > noticed.unreachable || restarts > noticed.restarts,
            60_000,
            50,
          );
          await waitFor(
            "records produced during the outage",
            () => produced >= noticed.produced + 1500,
            60_000,
            50,
          );
          await s3.start();
          await waitFor(
            "the sink to land again",
            async () => (await objectCount(client)) > landed,
            120_000,
            200,
          );
        }
        killsDone = true;
        await producing;

        // Everything produced is committed (for an old sink: committed past what it lost).
        const ends = async () =>
          new Map((await admin.fetchTopicOffsets(TOPIC)).map((p) => [p.partition, Number(p.high)]));
        const high = await ends();
        await waitFor(
          "the sink to commit everything",
          async () => {
            const [g] = await admin.fetchOffsets({ groupId: "pinpipe-sink", topics: [TOPIC] });
            return g.partitions.every((p) => Number(p.offset) === high.get(p.partition));
          },
          180_000,
          500,
        );
        stopping = true;
        sink.kill("SIGINT");
        const end = await supervised;

        // Every record once, at its offset; objects following each other with no gap.
        const contents = await lakeContents(new S3Lake(client, "lake", "pinpipe"));
        const seen = new Map<number, number>();
        let gaps = 0;
        let misplaced = 0;
        for (const [p, objects] of contents) {
          let expected = 0;
          for (const o of objects) {
            if (o.start !== expected) gaps++;
            o.lines.forEach((l, i) => {
              seen.set(l.n, (seen.get(l.n) ?? 0) + 1);
              if ((l.n - p) / PARTITIONS !== o.start + i || l.n % PARTITIONS !== p) misplaced++;
            });
            expected = o.start + o.lines.length;
          }
        }
        let lost = 0;
        for (let n = 0; n < produced; n++) if (!seen.has(n)) lost++;
        const duplicates = [...seen.values()].reduce((a, c) => a + c - 1, 0);
        const objects = [...contents.values()].reduce((a, l) => a + l.length, 0);
        console.log(
          `s3 outage: ${kills} kills, ${produced} records, ${lost} lost, ${duplicates} duplicates, ${gaps} objects past a gap, ${misplaced} misplaced, ${restarts} sink restarts, ${objects} objects, ${
            said(/is unreachable/)
          } outage lines`,
        );
        assert.equal(kills, KILLS);
        assert.equal(lost, 0, "records lost");
        assert.equal(duplicates, 0, "records landed twice");
        assert.equal(gaps, 0, "objects past a gap");
        assert.equal(misplaced, 0, "records at another offset than their own");
        assert.equal(seen.size, produced);
        assert.equal(restarts, 0, `the sink stopped on its own:\n${stderr.slice(-3000)}`);
        assert.equal(end.code, 130, stderr.slice(-3000));
        assert.ok(said(/answers again after/) >= KILLS, "each outage's end was logged");
      } finally {
        halt();
        await producing?.catch(() => {});
        stopHard(sink);
        await producer.disconnect().catch(() => {});
        await admin.disconnect().catch(() => {});
        client.destroy();
        await s3.kill();
        await broker.close();
      }
    }),
});

Deno.test({
  name:
    "the sink task stops with exit 1 after --lake-retry-timeout naming where each partition resumes, Ctrl-C in an outage exits 130 committing nothing past the lake, and the next run lands the rest",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTempDir(async (dir) => {
      const broker = await startBroker({ port: 0 });
      const s3 = new S3Process(`${dir}/s3`);
      await s3.start();
      const client = new S3Client({
        region: "us-east-1",
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: CREDENTIALS,
      });
      const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "outage-test" });
      const admin = kafka.admin();
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      let sink: RunningTask | undefined;
      let n = 0;
      const produce = async (count: number) => {
        for (let k = 0; k < count; k++, n++) {
          await producer.send({
            topic: TOPIC,
            acks: -1,
            messages: [{ value: JSON.stringify({ n }), partition: n % PARTITIONS }],
          });
        }
      };
      const committed = async () => {
        const [g] = await admin.fetchOffsets({ groupId: "pinpipe-sink", topics: [TOPIC] });
        return g.partitions.map((p) => Number(p.offset)).sort((a, b) => a - b);
      };
      const run = (extra: string[]) =>
        startTask("sink.ts", [
          "--bootstrap",
          broker.bootstrap,
          "--lake",
          "s3://lake/pinpipe",
          "--s3-endpoint",
          s3.endpoint,
          "--flush-size",
          "50",
          "--rotate-interval",
          "500ms",
          ...extra,
        ], {
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_REGION: "us-east-1",
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
          AWS_EC2_METADATA_DISABLED: "true",
        });
      try {
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
        await producer.connect();
        await produce(300);

        // The lake goes away for longer than the sink retries.
        sink = run(["--lake-retry-timeout", "3s"]);
        await waitFor(
          "the first 300 committed",
          async () => (await committed()).every((c) => c === 100),
          60_000,
          100,
        );
        await s3.kill();
        await produce(30);
        let end = await sink.ended;
        assert.equal(end.code, 1, sink.stderr());
        const last = sink.stderr().trim().split("\n").at(-1)!;
        assert.match(
          last,
          /^error: Cannot (write|list) .*the lake "s3:\/\/lake\/pinpipe": the lake still failed after [\d.]+ s of retries \(--lake-retry-timeout 3 s\): connect ECONNREFUSED 127\.0\.0\.1:\d+; not landed yet, the next run resumes there: pinpipe\.pin\[0\] at offset 100, pinpipe\.pin\[1\] at offset 100, pinpipe\.pin\[2\] at offset 100$/,
        );
        assert.match(sink.stderr(), /the lake "s3:\/\/lake\/pinpipe" is unreachable/);
        assert.deepEqual(await committed(), [100, 100, 100]);

        // It comes back; the sink lands what was missing, then the lake goes away again and
        // Ctrl-C stops the sink in the middle of its retries.
        await s3.start();
        sink = run(["--lake-retry-timeout", "5m"]);
        await waitFor(
          "the 330 committed",
          async () => (await committed()).every((c) => c === 110),
          60_000,
          100,
        );
        await s3.kill();
        await produce(30);
        await sink.waitForStderr(/is unreachable/, 60_000);
        sink.kill("SIGINT");
        end = await sink.ended;
        assert.equal(end.code, 130, sink.stderr());
        assert.ok(end.ms < 60_000);
        assert.match(
          sink.stderr(),
          /sink: 10 record\(s\) of pinpipe\.pin\[\d\] not landed, the lake "s3:\/\/lake\/pinpipe" still failing \(connect ECONNREFUSED 127\.0\.0\.1:\d+\); the next run reads them again from offset 110\n/,
        );
        assert.deepEqual(await committed(), [110, 110, 110], "nothing committed past the lake");

        await s3.start();
        sink = run(["--once", "--json"]);
        end = await sink.ended;
        assert.equal(end.code, 0, sink.stderr());
        assert.equal(JSON.parse(sink.stdout()).records, 30, "exactly what was missing");
        const contents = await lakeContents(new S3Lake(client, "lake", "pinpipe"));
        const seen = [...contents.values()].flatMap((objs) =>
          objs.flatMap((o) => o.lines.map((l) => l.n))
        );
        assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
      } finally {
        stopHard(sink);
        await producer.disconnect().catch(() => {});
        await admin.disconnect().catch(() => {});
        client.destroy();
        await s3.kill();
        await broker.close();
      }
    }),
});

/** Kills a sink still running after a failed assertion, so the test does not hang. */
function stopHard(sink: RunningTask | undefined): void {
  sink?.kill("SIGKILL");
}
