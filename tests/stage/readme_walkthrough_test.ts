/**
 * The README's step-by-step walkthrough, run as written. The commands are taken from the
 * README's text (the sh blocks between `<!-- walkthrough` and `<!-- /walkthrough -->`), not
 * copied here, so the README cannot drift from what the tasks do.
 *
 * What is changed, and only that: the ports 9092 (broker) and 8082 (REST proxy) become free
 * ones, and the database `pinterest_data` in the MySQL URLs becomes a uniquely named one on
 * the test server (PINPIPE_TEST_MYSQL_URL), dropped at the end. The commands run with bash in
 * a copy of the repository (deno.json, deno.lock, tasks/, lib/, sql/) in a temp folder, so
 * their relative paths (`.pinpipe/lake`) land there, with no PINPIPE_* variables set, as for
 * a newcomer. A command ending in `# keeps running` is started in a session of its own and
 * the next one runs once it has printed its first line on stdout (its address, which is what
 * a person waits for); at the end each gets SIGINT, as Ctrl-C in its terminal.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { envTest, ROOT, withMysqlDatabase, withTempDir } from "../_fixtures.ts";
import { closedPort } from "../_net.ts";
import { displayWidth } from "../../lib/shell/table_format.ts";
import { WalkthroughCommand, walkthroughCommands } from "../_walkthrough.ts";

/** What the test changes in a command: ports and the database name, nothing else. */
export function substitute(
  text: string,
  s: { brokerPort: number; proxyPort: number; mysqlUrl: string },
): string {
  return text
    .replaceAll(/\b9092\b/g, String(s.brokerPort))
    .replaceAll(/\b8082\b/g, String(s.proxyPort))
    .replaceAll(/mysql:\/\/root@127\.0\.0\.1:3306\/pinterest_data\b/g, s.mysqlUrl);
}

/** Copies what `deno task` needs to run the tasks into `dir`. */
async function copyRepo(dir: string): Promise<void> {
  for (const f of ["deno.json", "deno.lock"]) {
    await Deno.copyFile(join(ROOT, f), join(dir, f)).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
  const copyDir = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const e of Deno.readDir(from)) {
      if (e.isDirectory) await copyDir(join(from, e.name), join(to, e.name));
      else if (e.isFile) await Deno.copyFile(join(from, e.name), join(to, e.name));
    }
  };
  for (const d of ["tasks", "lib", "sql"]) await copyDir(join(ROOT, d), join(dir, d));
}

/** The environment a newcomer has: this one without any PINPIPE_* variable. */
function newcomerEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of Object.keys(env)) if (k.startsWith("PINPIPE_")) delete env[k];
  return { ...env, NO_COLOR: "1" };
}

interface Finished {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

interface Started {
  command: string;
  pid: number;
  stdout(): string;
  stderr(): string;
  status: Promise<Deno.CommandStatus>;
}

function spawn(command: string, cwd: string): Started & { firstLine: Promise<void> } {
  // setsid: a session (and process group) of its own, so SIGINT reaches every process of it,
  // as Ctrl-C in a terminal does.
  const child = new Deno.Command("setsid", {
    args: ["bash", "-c", command],
    cwd,
    clearEnv: true,
    env: newcomerEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  let gotLine: () => void = () => {};
  const firstLine = new Promise<void>((resolve) => (gotLine = resolve));
  const read = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) add(t);
  };
  const drained = Promise.all([
    read(child.stdout, (t) => {
      out += t;
      if (out.includes("\n")) gotLine();
    }),
    read(child.stderr, (t) => (err += t)),
  ]);
  const status = (async () => {
    const st = await child.status;
    await drained;
    gotLine();
    return st;
  })();
  return {
    command,
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    status,
    firstLine,
  };
}

async function runToEnd(command: string, cwd: string): Promise<Finished> {
  const p = spawn(command, cwd);
  const st = await p.status;
  return { command, code: st.code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Runs every command of the walkthrough once in `dir`, stopping the servers at the end. */
async function walk(
  commands: WalkthroughCommand[],
  dir: string,
  mysqlUrl: string,
): Promise<Finished[]> {
  const ports = { brokerPort: closedPort(), proxyPort: closedPort(), mysqlUrl };
  const running: Started[] = [];
  const results: Finished[] = [];
  try {
    for (const c of commands) {
      const command = substitute(c.text, ports);
      if (c.keepsRunning) {
        const p = spawn(command, dir);
        running.push(p);
        await p.firstLine;
        assert.ok(
          p.stdout().includes("\n"),
          `"${command}" ended before printing its address:\n${p.stderr()}`,
        );
        continue;
      }
      const r = await runToEnd(command, dir);
      results.push(r);
      assert.equal(r.code, 0, `"${command}" exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    }
  } finally {
    for (const p of running) {
      try {
        Deno.kill(-p.pid, "SIGINT");
      } catch {
        // Already gone.
      }
    }
    for (const p of running) {
      const st = await p.status;
      // Ctrl-C to the session, as in a terminal (deno task forwards it once more): the two
      // servers stop cleanly, which is their normal end.
      assert.equal(st.code, 0, `"${p.command}" ended ${st.code}:\n${p.stderr()}`);
      assert.match(p.stderr(), /stopped/, p.command);
    }
  }
  return results;
}

await envTest(
  "the README walkthrough works as written, and again: every command succeeds and the answers come from the postings it sent",
  ["mysql"],
  async () => {
    const commands = walkthroughCommands(await Deno.readTextFile(join(ROOT, "README.md")));
    await withTempDir(async (dir) => {
      await copyRepo(dir);
      await withMysqlDatabase(async (url) => {
        const results = await walk(commands, dir, url);
        const out = (name: string, from = results) =>
          from.find((r) => r.command.includes(`deno task ${name}`))!;
        const postings = Number(/--postings (\d+)/.exec(out("emulate").command)![1]);
        const records = postings * 3;
        const n = (k: number) => k.toLocaleString("en-US");
        assert.equal(
          out("topics").stdout.match(/created/g)?.length,
          3,
          `topics: ${out("topics").stdout}`,
        );
        assert.match(out("seed-db").stdout, /loaded 11,153 rows \(seed 100\) into each of/);
        assert.match(
          out("emulate").stdout,
          new RegExp(
            `${n(postings)} postings read, ${n(records)} records sent, ${
              n(records)
            } acknowledged, 0 failed`,
          ),
        );
        assert.match(out("sink").stdout, new RegExp(`^${n(records)} records in `));
        // The transform read what the emulator sent, and wrote the answers and the report.
        assert.match(
          out("transform").stderr,
          new RegExp(`transform: ${n(records)} records from \\d+ objects`),
        );
        assert.match(out("transform").stdout, /Q1 {2}Most popular category in each country/);
        // The answers fit an 80-column terminal (long names wrap inside their column).
        for (const line of out("transform").stdout.split("\n")) {
          assert.ok(displayWidth(line) <= 80, `wider than 80 columns: ${line}`);
        }
        const outDir = /--out (\S+)/.exec(out("transform").command)![1];
        for (const f of ["report.html", "answers/q1.csv", "answers/q8.json", "summary.json"]) {
          await Deno.stat(join(dir, outDir, f));
        }
        const summary = JSON.parse(await Deno.readTextFile(join(dir, outDir, "summary.json")));
        assert.equal(summary.records, records);
        assert.equal(summary.quarantined, 0);
        // Every posting was found in the database seed-db loaded.
        assert.doesNotMatch(out("emulate").stdout, /missing from the source/);

        // Run again, as the README says one may: the steps add to what is there.
        const again = await walk(commands, dir, url);
        assert.doesNotMatch(out("topics", again).stdout, /created/);
        assert.match(out("seed-db", again).stdout, /are loaded already .*: left as they are/);
        assert.match(out("sink", again).stdout, new RegExp(`^${n(records)} records in `));
        const second = JSON.parse(await Deno.readTextFile(join(dir, outDir, "summary.json")));
        assert.equal(second.lines, 2 * records, "the transform read both runs' records");
      });
    });
  },
);
