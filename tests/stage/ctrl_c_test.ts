/**
 * One Ctrl-C is one Ctrl-C, in a real terminal. Every long-running task is started in a tmux
 * pane, once directly (`./tasks/x.ts`) and once under `deno task`, and Ctrl-C is typed while it
 * works: the terminal sends SIGINT to the whole foreground process group, and under `deno task`
 * the task gets it twice (`deno task` forwards it again). Each must end as after one press: the
 * servers with 0 and their closing line (as on SIGTERM, their normal end), the others with 130
 * and their summary, and no staging folder or temp file left behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createKafka } from "../../lib/kafka/kafka_client.ts";
import { topicNames } from "../../lib/kafka/topics.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { FileLake } from "../../lib/lake/lake.ts";
import { createDataset } from "../../lib/source/dataset.ts";
import { envTest, startTestBroker, withTempDir } from "../_fixtures.ts";
import { startTask } from "../../bench/_process.ts";
import { Terminal } from "../_terminal.ts";

/** A long-running task and how one Ctrl-C must end it. */
interface Case {
  task: string;
  /** Its arguments, in a fresh folder of the case's own. */
  args: (dir: string) => string[];
  /** On the screen once the task is at work. */
  working: RegExp;
  code: number;
  /** The line it must end with. */
  closing: RegExp;
  /** What it must not leave behind in `dir` (staging folders, temp files). */
  leftovers?: (dir: string) => Promise<string[]>;
}

/** Paths under `dir` (recursively) whose name matches `re`. */
async function find(dir: string, re: RegExp): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (re.test(e.name)) found.push(join(d, e.name));
      if (e.isDirectory) await walk(join(d, e.name));
    }
  };
  await walk(dir).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  return found;
}

/** How the task file is run: directly by its shebang, or by its `deno task` name. */
const MODES = {
  direct: (task: string) => `./tasks/${task.replace("-", "_").replace(/ .*/, "")}.ts`,
  "deno task": (task: string) => `deno task ${task.replace(/ .*/, "")}`,
} as const;

/** The task's subcommand, if any (`rest-proxy serve`). */
function subcommand(task: string): string[] {
  return task.includes(" ") ? [task.slice(task.indexOf(" ") + 1)] : [];
}

await envTest(
  "one Ctrl-C in a terminal stops each long-running task cleanly, directly and under deno task",
  ["tmux"],
  async (t) => {
    const broker = await startTestBroker();
    const kafka = createKafka({ bootstrap: broker.bootstrap });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: topicNames("pinpipe").map((topic) => ({ topic, numPartitions: 3 })),
    });
    await admin.disconnect();
    const matrix: string[][] = [];
    try {
      await withTempDir(async (root) => {
        // Enough objects that the transform is still reading when Ctrl-C comes.
        const bigLake = join(root, "big-lake");
        await writeLake(new FileLake(bigLake), createDataset({ rows: 20_000 }).postings(), {
          flushSize: 5,
        });
        const cases: Case[] = [
          {
            task: "broker",
            args: (dir) => ["--port", "0", "--data-dir", join(dir, "kafka")],
            working: /broker: listening on/,
            code: 0,
            closing: /broker 127\.0\.0\.1:\d+ stopped cleanly after [\d.]+ s/,
          },
          {
            task: "rest-proxy serve",
            args: () => ["--bootstrap", broker.bootstrap, "--port", "0"],
            working: /rest-proxy: listening on/,
            code: 0,
            closing: /rest-proxy: stopped after \d+ s: \d[\d,]* records/,
          },
          {
            task: "emulate",
            args: () => ["--bootstrap", broker.bootstrap, "--mode", "random"],
            working: /records acked/,
            code: 130,
            closing: /postings read, [\d,]+ records sent, [\d,]+ acknowledged.* \(interrupted\)/,
          },
          {
            task: "sink",
            args: (dir) => [
              "--bootstrap",
              broker.bootstrap,
              "--lake",
              join(dir, "lake"),
              "--flush-size",
              "10",
              "--group",
              `g-${crypto.randomUUID().slice(0, 8)}`,
            ],
            working: /records in [1-9][\d,]* objects/,
            code: 130,
            closing: /^[\d,]+ records in [\d,]+ objects .*over [\d.]+ s$/m,
            leftovers: (dir) => find(join(dir, "lake"), /\.tmp-/),
          },
          {
            task: "transform",
            args: (dir) => ["--lake", bigLake, "--out", join(dir, "out")],
            working: /reading (pin|geo|user)/,
            code: 130,
            closing: /^interrupted$/m,
            leftovers: (dir) => find(join(dir, "out"), /^\.transform-/),
          },
          {
            task: "demo",
            args: (dir) => ["--dir", join(dir, "demo"), "--postings", "2000000"],
            working: /^emulate: /m,
            code: 130,
            closing: /^emulate: [\d,]+ postings read.*\(interrupted\)\ninterrupted$/m,
            leftovers: (dir) => find(join(dir, "demo"), /^\.run-/),
          },
        ];
        for (const c of cases) {
          for (const [mode, command] of Object.entries(MODES)) {
            await t.step(`${c.task}, ${mode}`, async () => {
              const dir = await Deno.makeTempDir({ dir: root });
              const term = await Terminal.open();
              try {
                const line = [command(c.task), ...subcommand(c.task), ...c.args(dir)].join(" ");
                const typed = await term.type(line);
                await typed.waitFor(c.working);
                await term.interrupt();
                const end = await typed.ended();
                const closing = end.screen.match(c.closing)?.[0].split("\n").at(-1) ?? "(none)";
                matrix.push([c.task, mode, String(end.code), closing.slice(0, 70)]);
                assert.equal(end.code, c.code, end.screen);
                assert.match(end.screen, c.closing);
                assert.equal(
                  end.screen.match(/press Ctrl-C again/g)?.length,
                  1,
                  `one interruption was announced:\n${end.screen}`,
                );
                assert.deepEqual(await c.leftovers?.(dir) ?? [], [], "nothing is left behind");
              } finally {
                await term.close();
              }
            });
          }
        }
      });
    } finally {
      console.log(
        `\n${
          [["task", "run", "exit", "closing line"], ...matrix].map((r) => r.join(" | ")).join("\n")
        }`,
      );
      await broker.close();
    }
  },
);

await envTest(
  "broker and rest-proxy serve end with 0 on SIGTERM, as on Ctrl-C",
  [],
  async () => {
    const broker = await startTestBroker();
    try {
      for (
        const [file, args, closing] of [
          ["broker.ts", ["--port", "0", "--memory"], /stopped cleanly/],
          ["rest_proxy.ts", ["serve", "--bootstrap", broker.bootstrap, "--port", "0"], /stopped/],
        ] as const
      ) {
        const task = startTask(file, [...args]);
        await task.waitForStderr(/listening on/);
        task.kill("SIGTERM");
        const end = await task.ended;
        assert.equal(end.code, 0, task.stderr());
        assert.match(task.stderr(), closing);
      }
    } finally {
      await broker.close();
    }
  },
);
