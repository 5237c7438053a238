/**
 * End to end: the emulator posts the synthetic dataset through the local REST proxy into
 * the embedded broker, and the sink lands it in a lake on disk and on s3rver. Every posting
 * must land exactly once, in the S3 sink layout, checked by offsets (no offset twice, none
 * missing) and by content (every (topic, key) present with the dataset's row) — for flush
 * sizes 1 and 1000, with the sink SIGKILLed and restarted mid-stream, and with the REST proxy
 * overloaded into answering 429s.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import type { Broker } from "../../lib/broker/broker.ts";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import type { Kafka } from "../../lib/deps/kafkajs.ts";
import { createDataset } from "../../lib/source/dataset.ts";
import type { Dataset } from "../../lib/source/dataset.ts";
import { datasetSource, emulate } from "../../lib/ingest/emulator.ts";
import type { EmulateResult, Target } from "../../lib/ingest/emulator.ts";
import { RestProducer } from "../../lib/ingest/rest_client.ts";
import { startRestProxy } from "../../lib/rest_proxy/rest_proxy.ts";
import type { RestProxyOptions } from "../../lib/rest_proxy/rest_proxy.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import type { Lake } from "../../lib/lake/lake.ts";
import { ROOT, waitFor, withTempDir } from "../_fixtures.ts";
import { assertLakeHoldsDataset, PREFIX, TOPICS } from "../_pipeline_lake.ts";

const T = { sanitizeOps: false, sanitizeResources: false };

/** A broker with the three topics (2 partitions each) and a REST proxy in front of it. */
async function withPipeline(
  fn: (
    ctx: { broker: Broker; kafka: Kafka; restUrl: string; stats: () => number },
  ) => Promise<void>,
  proxyOpts: Partial<RestProxyOptions> = {},
): Promise<void> {
  const broker = await startBroker({ port: 0 });
  const kafka = createKafka({ bootstrap: broker.bootstrap, clientId: "e2e" });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 2 })) });
  await admin.disconnect();
  const proxy = await startRestProxy({ kafka, ...proxyOpts });
  try {
    await fn({ broker, kafka, restUrl: proxy.url, stats: () => proxy.stats().rejected429 });
  } finally {
    await proxy.close();
    await broker.close();
  }
}

async function emulateThrough(
  restUrl: string,
  ds: Dataset,
  opts: { rate?: number; concurrency?: number; batch?: number; gate?: Gate } = {},
): Promise<EmulateResult> {
  const rest = new RestProducer({ baseUrl: restUrl, baseMs: 20, maxMs: 500, maxAttempts: 50 });
  const res = await emulate({
    prefix: PREFIX,
    mode: "sequential",
    seed: 100,
    count: ds.rows,
    rate: opts.rate ?? 0,
    batch: opts.batch ?? 50,
    concurrency: opts.concurrency ?? 4,
  }, {
    source: datasetSource(ds),
    target: opts.gate ? opts.gate.wrap(rest) : rest,
  });
  assert.equal(res.error?.message, undefined);
  assert.equal(res.acknowledged, ds.rows * 3);
  return res;
}

/** Holds the emulator at set record counts until the test lets it go on (no timing races). */
class Gate {
  private sent = 0;
  private opened = 0;
  private waiters: (() => void)[] = [];
  constructor(readonly stops: number[]) {}
  /** Lets the emulator past the next stop. */
  open(): void {
    this.opened++;
    for (const w of this.waiters.splice(0)) w();
  }
  /** True when the emulator is waiting at a stop. */
  get holding(): boolean {
    return this.waiters.length > 0;
  }
  wrap(target: Target): Target {
    return {
      name: target.name,
      close: () => target.close(),
      send: async (topic, records, hooks) => {
        while (this.opened < this.stops.length && this.sent >= this.stops[this.opened]) {
          await new Promise<void>((r) => this.waiters.push(r));
        }
        this.sent += records.length;
        return target.send(topic, records, hooks);
      },
    };
  }
}

/** `deno run -A tasks/sink.ts …` as a child process. */
function sinkProcess(bootstrap: string, dir: string, extra: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/tasks/sink.ts`,
      `--bootstrap=${bootstrap}`,
      `--lake=file://${dir}`,
      `--prefix=${PREFIX}`,
      "--group=killed",
      ...(extra.some((a) => a.startsWith("--flush-size")) ? [] : ["--flush-size=7"]),
      // A killed member holds its partitions until its session times out.
      "--session-timeout=2s",
      ...extra,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function objectCount(lake: Lake): Promise<number> {
  let n = 0;
  for await (const _ of lake.list("topics/")) n++;
  return n;
}

Deno.test({
  ...T,
  name: "a sink SIGKILLed mid-stream and restarted leaves every posting exactly once",
  fn: () =>
    withPipeline(async ({ broker, restUrl }) => {
      const ds = createDataset({ rows: 400, seed: 3 });
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        // The emulator stops at a third and at two thirds of the records; the sink is killed
        // at each stop, after landing part of what came before it.
        const gate = new Gate([400, 800]);
        const emulating = emulateThrough(restUrl, ds, { batch: 10, concurrency: 2, gate });
        for (let kill = 0; kill < 2; kill++) {
          const before = await objectCount(lake);
          const child = sinkProcess(broker.bootstrap, dir, ["--rotate-interval=50ms"]);
          await waitFor("the emulator to reach its stop", () => gate.holding, 60_000);
          await waitFor(
            "the sink to land objects",
            async () => (await objectCount(lake)) > before + 3,
            60_000,
          );
          child.kill("SIGKILL");
          const st = await child.status;
          assert.equal(st.signal, "SIGKILL");
          await child.stdout.cancel();
          await child.stderr.cancel();
          gate.open();
        }
        await emulating;
        const last = sinkProcess(broker.bootstrap, dir, ["--once", "--json"]);
        const out = await last.output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        const summary = JSON.parse(new TextDecoder().decode(out.stdout));
        assert.equal(summary.lag, 0);
        await assertLakeHoldsDataset(lake, ds);
      });
    }),
});

/** Every file under `dir` whose name is a FileLake temp name. */
function tempFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      if (e.isDirectory) walk(`${d}/${e.name}`);
      else if (/\.tmp-\d+-[0-9a-f]{8}$/.test(e.name)) out.push(`${d}/${e.name}`);
    }
  };
  walk(dir);
  return out;
}

Deno.test({
  ...T,
  name:
    "SIGKILLs mid-write at flush size 1 leave temp files that the next sink removes, and every posting once",
  fn: () =>
    withPipeline(async ({ broker, restUrl }) => {
      const ds = createDataset({ rows: 600, seed: 5 });
      await emulateThrough(restUrl, ds, { batch: 100, concurrency: 4 });
      await withTempDir(async (dir) => {
        const lake = new FileLake(dir);
        // Temp files found right after each kill (each next sink removes the earlier ones).
        const leftByKill: number[] = [];
        for (let kill = 0; kill < 4; kill++) {
          const before = await objectCount(lake);
          const child = sinkProcess(broker.bootstrap, dir, ["--flush-size=1"]);
          await waitFor(
            "the sink to be writing",
            async () => (await objectCount(lake)) > before + 40,
            60_000,
          );
          child.kill("SIGKILL");
          await child.status;
          await child.stdout.cancel();
          await child.stderr.cancel();
          leftByKill.push(tempFiles(dir).length);
        }
        const last = sinkProcess(broker.bootstrap, dir, ["--flush-size=1", "--once", "--json"]);
        const out = await last.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        const summary = JSON.parse(new TextDecoder().decode(out.stdout));
        assert.ok(leftByKill.some((n) => n > 0), `kills mid-write left temp files: ${leftByKill}`);
        assert.equal(summary.tempsRemoved, leftByKill.at(-1), "the last kill's, removed at start");
        assert.deepEqual(tempFiles(dir), [], "no temp file is left in the lake");
        assert.equal(await assertLakeHoldsDataset(lake, ds), 1800);
      });
    }),
});
