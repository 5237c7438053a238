/**
 * Kafka Connect's exactly-once source support (KIP-618, issue 24), side by side on Apache
 * Kafka 3.9.1 and the embedded broker: a Connect 3.9.1 worker in distributed mode with
 * `exactly.once.source.support=enabled` (its config topic written by a transactional
 * leader, read read_committed) runs Kafka's FileStreamSourceConnector with
 * `exactly.once.support=required` (its task a transactional producer writing records and
 * source offsets in one transaction) on a file lines are appended to. Three cases: the
 * `poll` and the `interval` transaction boundary with the worker SIGKILLed twice
 * mid-stream (a transaction open) and restarted, and the `interval` boundary with the
 * broker SIGKILLed twice mid-stream and restarted; and the `interval` boundary with the
 * worker SIGKILLed twice on Connect 4.x (tests/engines/connect-4.pom.xml; its 4.x clients,
 * against Kafka 3.9.1 and the embedded broker alike). Then more lines are appended and the
 * stopped connector's offsets are altered through the REST API (the leader fences the
 * task's producer with Admin.fenceProducers first). The output topic, read read_committed,
 * must hold every line exactly once, in order, and what read_uncommitted sees beyond it
 * only records of aborted transactions sent again. The counts of aborted records, the
 * producer epochs and the time from each kill to the next commit are printed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  connect4Classpath,
  connect4Version,
  connectFileClasspath,
  connectFileVersion,
  freePort,
  kafkaClasspath,
  kafkaPerFile,
  kafkaTool,
} from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { type Running, start } from "../../bench/_process.ts";
import { sideBySide, type Target, txnStep } from "../_txn_targets.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const { onBoth } = sideBySide(kafkaPerFile());

/** Times the worker is SIGKILLed mid-stream. */
const KILLS = 2;
/** Lines appended before the first kill, while each killed worker is down, and at the end. */
const FIRST = 500;
const DOWN = 200;
const LAST = 500;

/** A Connect worker: its REST address, its log, SIGKILL and restart. */
interface Worker {
  rest: string;
  /** The current run's log. */
  log(): string;
  /** Times its task has started (this run). */
  taskStarts(): number;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a distributed Connect worker on `t` (log in `dir`), once its REST API answers:
 * Connect 3.9.1, or with `major` 4 Connect 4.x (the connect-4 engine).
 */
async function startWorker(t: Target, dir: string, tag: string, major = 3): Promise<Worker> {
  const cp = major === 4
    ? (await connect4Classpath())!
    : `${await kafkaClasspath()}:${await connectFileClasspath()}`;
  const port = freePort();
  const props = {
    "bootstrap.servers": t.bootstrap,
    "group.id": `connect-${tag}`,
    "config.storage.topic": `connect-configs-${tag}`,
    "offset.storage.topic": `connect-offsets-${tag}`,
    "status.storage.topic": `connect-status-${tag}`,
    "config.storage.replication.factor": 1,
    "offset.storage.replication.factor": 1,
    "status.storage.replication.factor": 1,
    "exactly.once.source.support": "enabled",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    "listeners": `http://127.0.0.1:${port}`,
    // The restarted worker takes its task back at once, not after the 5 min default.
    "scheduled.rebalance.max.delay.ms": 0,
  };
  const propsFile = join(dir, "worker.properties");
  await Deno.writeTextFile(
    propsFile,
    Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n",
  );
  let run = 0;
  let child: Running;
  const logFile = () => join(dir, `worker-${run}.log`);
  const launch = async () => {
    run++;
    const log4j = join(dir, `log4j-${run}.properties`);
    // Where zombie fencing (Admin.fenceProducers) is logged.
    const worker = "org.apache.kafka.connect.runtime.Worker";
    await Deno.writeTextFile(
      log4j,
      major === 4
        ? "status = warn\nappender.out.type = File\nappender.out.name = out\n" +
          `appender.out.fileName = ${logFile()}\nappender.out.layout.type = PatternLayout\n` +
          "appender.out.layout.pattern = [%d] %p %m (%c)%n\n" +
          "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = out\n" +
          `logger.worker.name = ${worker}\nlogger.worker.level = DEBUG\n`
        : "log4j.rootLogger=INFO, out\nlog4j.appender.out=org.apache.log4j.FileAppender\n" +
          `log4j.appender.out.File=${logFile()}\n` +
          "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n" +
          "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n" +
          `log4j.logger.${worker}=DEBUG\n`,
    );
    child = start("java", [
      "-Xmx512m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      major === 4 ? `-Dlog4j2.configurationFile=${log4j}` : `-Dlog4j.configuration=file:${log4j}`,
      "-cp",
      cp,
      "org.apache.kafka.connect.cli.ConnectDistributed",
      propsFile,
    ], { what: "Kafka Connect worker", keepLast: { stdout: 4000, stderr: 4000 } });
    await waitFor(
      "the worker's REST API",
      async () => {
        if (!child.alive()) throw new Error(`the worker exited:\n${tail(readLog(logFile()))}`);
        return await fetch(`http://127.0.0.1:${port}/`).then(async (r) => {
          await r.body?.cancel();
          return r.status === 200;
        }, () => false);
      },
      120_000,
      200,
    );
  };
  await launch();
  const w: Worker = {
    rest: `http://127.0.0.1:${port}`,
    log: () => readLog(logFile()),
    taskStarts: () => w.log().split("Source task finished initialization and start").length - 1,
    async kill() {
      await child.stop("SIGKILL");
    },
    async restart() {
      await launch();
    },
    async stop() {
      await child.stop("SIGKILL");
    },
  };
  return w;
}

function readLog(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function tail(text: string, n = 40): string {
  return text.trim().split("\n").filter((l) => !/^\s/.test(l)).slice(-n).join("\n");
}

/** One Connect REST call; answers its status and JSON body. */
async function rest(
  w: Worker,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Any }> {
  const r = await fetch(`${w.rest}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: Any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { text: text.slice(0, 500) };
  }
  return { status: r.status, body: json };
}

/** Waits for the connector and its one task to be RUNNING, the task started `starts` times. */
async function running(w: Worker, name: string, starts: number): Promise<void> {
  try {
    await waitFor(
      `connector ${name} and its task RUNNING`,
      async () => {
        const s = await rest(w, "GET", `/connectors/${name}/status`);
        return s.status === 200 && s.body.connector.state === "RUNNING" &&
          s.body.tasks.length === 1 && s.body.tasks[0].state === "RUNNING" &&
          w.taskStarts() >= starts;
      },
      180_000,
      250,
    );
  } catch (err) {
    throw new Error(`${err}\n${tail(w.log())}`);
  }
}

/** The connector's committed source offset: the byte position in its file it has passed. */
async function position(w: Worker, name: string): Promise<number> {
  const r = await rest(w, "GET", `/connectors/${name}/offsets`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return Number(r.body.offsets[0]?.offset?.position ?? 0);
}

/** Appends `lines` to `file`, `per` lines every `everyMs` ms. */
async function append(file: string, lines: string[], per = lines.length, everyMs = 0) {
  for (let i = 0; i < lines.length; i += per) {
    await Deno.writeTextFile(file, lines.slice(i, i + per).join("\n") + "\n", { append: true });
    if (everyMs) await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the connector has committed the whole of `file`. */
async function caughtUp(w: Worker, name: string, file: string): Promise<void> {
  const size = (await Deno.stat(file)).size;
  try {
    await waitFor(
      `the connector to commit all ${size} bytes of its file`,
      async () => await position(w, name) === size,
      180_000,
      250,
    );
  } catch (err) {
    throw new Error(`${err} (at ${await position(w, name)})\n${tail(w.log())}`);
  }
}

/** The values of TxnCases' `partition:offset=value` records, in offset order. */
function values(records: string[]): string[] {
  return records.map((r) => /^0:(\d+)=(.*)$/.exec(r)!).sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[2]);
}

const lines = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, "0")}`);

/**
 * A case: the connector's transaction boundary, what is SIGKILLed mid-stream, and which
 * Connect runs (3.9.1 from Kafka's jars, or 4.x from the connect-4 engine).
 */
const CASES = [
  { boundary: "poll", kill: "worker", connect: 3 },
  { boundary: "interval", kill: "worker", connect: 3 },
  { boundary: "interval", kill: "broker", connect: 3 },
  { boundary: "interval", kill: "worker", connect: 4 },
] as const;

for (const { boundary, kill, connect } of CASES) {
  await envTest(
    `Kafka Connect ${
      connect === 4 ? connect4Version() : connectFileVersion()
    } exactly-once source (FileStream, transaction.boundary=${boundary}), ` +
      `${kill} SIGKILLed ${KILLS} times mid-stream, offsets altered: each line once`,
    connect === 4
      ? ["kafka", "java-clients", "connect-4"]
      : ["kafka", "java-clients", "connect-file"],
    async () => {
      const got = await onBoth(async (t, tag) => {
        const dir = await Deno.makeTempDir({ prefix: "pinpipe-connect-eos-" });
        const file = join(dir, "input.txt");
        await Deno.writeTextFile(file, "");
        const topic = `eos-lines-${tag}`;
        const name = `eos-${tag}`;
        const config = {
          "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
          "tasks.max": "1",
          file,
          topic,
          "exactly.once.support": "required",
          "transaction.boundary": boundary,
          // The interval boundary's default is offset.flush.interval.ms, a minute.
          ...(boundary === "interval" ? { "transaction.boundary.interval.ms": "1000" } : {}),
          "topic.creation.default.partitions": "1",
          "topic.creation.default.replication.factor": "1",
        };
        const w = await startWorker(t, dir, tag, connect);
        const sent: string[] = [];
        let killed = 0;
        /** At each kill: the committed position and the file's size, in bytes. */
        const killedAt: { position: number; size: number }[] = [];
        /** Milliseconds from each kill to the connector's next commit. */
        const resumedMs: number[] = [];
        try {
          await waitFor(
            "the connector to be created",
            async () => {
              const r = await rest(w, "PUT", `/connectors/${name}/config`, config);
              return r.status === 201 || r.status === 200;
            },
            120_000,
            500,
          );
          await running(w, name, 1);
          sent.push(...lines("first", FIRST));
          await append(file, sent);
          await caughtUp(w, name, file);

          for (; killed < KILLS; killed++) {
            const before = (await Deno.stat(file)).size;
            // Lines keep coming, 20 every 40 ms, until the process is killed and restarted.
            let stop = false;
            const appending = (async () => {
              for (let i = 0; !stop; i++) {
                const batch = lines(`stream${killed}-${i}`, 20);
                sent.push(...batch);
                await append(file, batch);
                await new Promise((r) => setTimeout(r, 40));
              }
            })();
            // Killed once it has committed some of this stream.
            await waitFor(
              "the worker to commit part of the stream",
              async () => await position(w, name) > before,
              120_000,
              100,
            );
            const at = await position(w, name);
            killedAt.push({ position: at, size: (await Deno.stat(file)).size });
            const t0 = performance.now();
            if (kill === "worker") {
              await w.kill();
              stop = true;
              await appending;
              // And some while it is down.
              const down = lines(`down${killed}`, DOWN);
              sent.push(...down);
              await append(file, down);
              await w.restart();
            } else {
              await t.killAndRestart();
              stop = true;
              await appending;
              const after = lines(`after${killed}`, DOWN);
              sent.push(...after);
              await append(file, after);
            }
            await running(w, name, 1);
            await waitFor(
              "the connector to commit again",
              async () => await position(w, name) > at,
              180_000,
              100,
            );
            resumedMs.push(Math.round(performance.now() - t0));
          }
          sent.push(...lines("last", LAST));
          await append(file, lines("last", LAST));
          await caughtUp(w, name, file);

          // Offsets altered on the stopped connector: the leader fences the task's producers
          // (Admin.fenceProducers) before it writes them.
          assert.equal((await rest(w, "PUT", `/connectors/${name}/stop`)).status, 204);
          await waitFor(
            "the connector to stop",
            async () => {
              const s = await rest(w, "GET", `/connectors/${name}/status`);
              return s.body?.connector?.state === "STOPPED" && s.body.tasks.length === 0;
            },
            60_000,
            250,
          );
          const size = (await Deno.stat(file)).size;
          const altered = await rest(w, "PATCH", `/connectors/${name}/offsets`, {
            offsets: [{ partition: { filename: file }, offset: { position: size } }],
          });
          assert.equal(altered.status, 200, `${JSON.stringify(altered.body)}\n${tail(w.log())}`);
          const startsBefore = w.taskStarts();
          assert.equal((await rest(w, "PUT", `/connectors/${name}/resume`)).status, 202);
          await running(w, name, startsBefore + 1);
          sent.push(...lines("resumed", 100));
          await append(file, lines("resumed", 100));
          await caughtUp(w, name, file);

          const view = await txnStep("view", { bootstrap: t.bootstrap, topic });
          const committed = values(view.read_committed);
          const uncommitted = values(view.read_uncommitted);
          const seen = new Map<string, number>();
          for (const v of committed) seen.set(v, (seen.get(v) ?? 0) + 1);
          const abortedOnly = uncommitted.filter((v) => !seen.has(v));
          const txn = await kafkaTool("kafka-transactions", [
            "--bootstrap-server",
            t.bootstrap,
            "describe",
            "--transactional-id",
            `connect-${tag}-${name}-0`,
          ]);
          assert.equal(txn.code, 0, txn.stderr);
          const [cols, row] = txn.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/));
          const described = Object.fromEntries(cols.map((c, i) => [c, row[i]]));
          return {
            killed,
            killedAt,
            resumedMs,
            sent: sent.length,
            inOrder: committed.join("\n") === sent.join("\n"),
            committed: committed.length,
            duplicates: [...seen.values()].filter((n) => n > 1).length,
            lost: sent.filter((l) => !seen.has(l)).length,
            aborted: uncommitted.length - committed.length,
            // Records read_uncommitted that are no committed line (every aborted record is one
            // the restarted task sent again).
            abortedOnly: abortedOnly.length,
            endOffset: view["read_committed end"]["0"],
            taskProducer: { epoch: described.ProducerEpoch, state: described.TransactionState },
            // Worker.fenceZombies logs it once Admin.fenceProducers succeeded.
            fenced: w.log().includes(
              `Finished fencing out 1 task producers for source connector ${name}`,
            ),
            errors: w.log().split("\n").filter((l) => / ERROR /.test(l)).slice(0, 5),
          };
        } catch (err) {
          throw new Error(`${err}\n--- the worker's log ---\n${tail(w.log())}`);
        } finally {
          await w.stop();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        }
      });
      for (const [broker, r] of Object.entries(got)) {
        console.log(`${broker}: ${JSON.stringify(r)}`);
      }
      for (const [broker, r] of Object.entries(got)) {
        assert.equal(r.killed, KILLS, broker);
        assert.ok(r.sent > FIRST + KILLS * DOWN + LAST + 100, broker);
        assert.deepEqual(
          { committed: r.committed, duplicates: r.duplicates, lost: r.lost, inOrder: r.inOrder },
          { committed: r.sent, duplicates: 0, lost: 0, inOrder: true },
          `${broker}: every line read_committed exactly once, in order`,
        );
        assert.equal(r.abortedOnly, 0, `${broker}: each aborted record was sent again, committed`);
        assert.equal(r.taskProducer.state, "CompleteCommit", broker);
        assert.ok(r.fenced, `${broker}: Admin.fenceProducers fenced the task's producer`);
      }
    },
  );
}
