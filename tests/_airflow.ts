/**
 * Real Apache Airflow 2.10.3 (the engine venv's, with the Databricks provider) for the DAG
 * tests: an AIRFLOW_HOME in a temp dir whose sqlite database is migrated once per test file
 * and copied for each home, the `airflow` CLI, a scheduler (SequentialExecutor), a stand-in
 * for MWAA's `/aws_mwaa/cli` endpoint that runs each command on this real CLI (so what
 * lib/aws/mwaa.ts parses is what Airflow prints), and a small fake of the Databricks Jobs API
 * (`api/2.1/jobs/runs/submit`, `runs/get`), the one thing here that cannot run for real.
 * @module
 */
import { join } from "node:path";
import { venvBin } from "./_engines.ts";
import { run, start } from "../bench/_process.ts";

/** What one CLI command gave. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let template: Promise<string> | undefined;

/** A migrated Airflow database, made once per test process (`airflow db migrate`). */
function migratedDatabase(): Promise<string> {
  template ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-airflow-db-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone */ }
    });
    const r = await airflowCommand(dir, {}, ["db", "migrate"], 180_000);
    if (r.code !== 0) {
      throw new Error(`Cannot migrate Airflow's database:\n${r.stderr.slice(-2000)}`);
    }
    return join(dir, "airflow.db");
  })();
  return template;
}

/** The environment one Airflow home runs with. */
function airflowEnv(home: string, bin: string, extra: Record<string, string>) {
  return {
    PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
    HOME: Deno.env.get("HOME") ?? home,
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: join(home, "dags"),
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, "airflow.db")}`,
    // Pick up a new DAG file within seconds, not minutes.
    AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL: "2",
    AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL: "1",
    AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: "1",
    AIRFLOW__WEBSERVER__SECRET_KEY: "pinpipe-tests",
    PYTHONWARNINGS: "ignore",
    NO_COLOR: "1",
    ...extra,
  };
}

async function airflowCommand(
  home: string,
  extra: Record<string, string>,
  args: string[],
  timeoutMs = 120_000,
): Promise<CliResult> {
  const bin = await venvBin();
  if (!bin) throw new Error("Cannot run Airflow: the engine venv is not provisioned");
  const child = start(join(bin, "airflow"), args, {
    cwd: home,
    env: airflowEnv(home, bin, extra),
    clearEnv: true,
    what: "airflow",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code } = await child.ended;
  clearTimeout(timer);
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** Splits a command line as MWAA's endpoint does (shell words: quotes and backslashes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`Unclosed quote in: ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      let text = "";
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length) text += line[++j];
        else text += line[j];
      }
      word = (word ?? "") + text;
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? "") + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** One Airflow home: its DAG folder, CLI, scheduler and MWAA-like endpoint. */
export interface Airflow {
  home: string;
  dags: string;
  /** Environment added to every command (connections, variables as AIRFLOW_VAR_*). */
  env: Record<string, string>;
  /** `airflow <args>`. */
  cli(args: string[], timeoutMs?: number): Promise<CliResult>;
  /** Python in the venv with this home's environment (e.g. to load a DagBag). */
  python(code: string, args?: string[]): Promise<CliResult>;
  /** Starts `airflow scheduler` (SequentialExecutor); stop it when done. */
  startScheduler(): { stop(): Promise<void>; log(): string };
  /** Removes the home. */
  close(): Promise<void>;
}

/** A fresh Airflow home (its database copied from the once-migrated one). */
export async function newAirflow(env: Record<string, string> = {}): Promise<Airflow> {
  const db = await migratedDatabase();
  const home = await Deno.makeTempDir({ prefix: "pinpipe-airflow-" });
  const dags = join(home, "dags");
  await Deno.mkdir(dags);
  await Deno.copyFile(db, join(home, "airflow.db"));
  const bin = (await venvBin())!;
  const airflow: Airflow = {
    home,
    dags,
    env,
    cli: (args, timeoutMs) => airflowCommand(home, airflow.env, args, timeoutMs),
    async python(code, args = []) {
      return await run(join(bin, "python"), ["-c", code, ...args], {
        cwd: home,
        env: airflowEnv(home, bin, airflow.env),
        clearEnv: true,
      });
    },
    startScheduler() {
      const child = start(join(bin, "airflow"), ["scheduler"], {
        cwd: home,
        env: airflowEnv(home, bin, airflow.env),
        clearEnv: true,
        keepLast: { stdout: 30_000, stderr: 30_000 },
        what: "airflow scheduler",
      });
      return {
        log: () => (child.stdout() + child.stderr()).slice(-30_000),
        async stop() {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
          await child.ended;
          clearTimeout(timer);
          // The executor's task processes are the scheduler's children: gone with it.
        },
      };
    },
    close: () => Deno.remove(home, { recursive: true }).catch(() => {}),
  };
  return airflow;
}

/** A request the fake Databricks workspace received. */
export interface DatabricksCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: Record<string, unknown>;
  authorization: string | null;
}

/**
 * A fake of the Databricks Jobs API 2.1 on loopback: `runs/submit` answers a run id,
 * `runs/get` says RUNNING once, then TERMINATED with `result` (default SUCCESS). Anything
 * else is a 404 in Databricks' error shape.
 */
export function fakeDatabricks(opts: { result?: string } = {}) {
  const calls: DatabricksCall[] = [];
  const polls = new Map<number, number>();
  let next = 1000;
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, async (req) => {
    const url = new URL(req.url);
    const text = await req.text();
    const call: DatabricksCall = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: text ? JSON.parse(text) : undefined,
      authorization: req.headers.get("authorization"),
    };
    calls.push(call);
    if (req.method === "POST" && url.pathname === "/api/2.1/jobs/runs/submit") {
      const runId = ++next;
      polls.set(runId, 0);
      return Response.json({ run_id: runId });
    }
    if (req.method === "GET" && url.pathname === "/api/2.1/jobs/runs/get") {
      const runId = Number(url.searchParams.get("run_id"));
      if (!polls.has(runId)) {
        return Response.json({ error_code: "RESOURCE_DOES_NOT_EXIST", message: "no run" }, {
          status: 400,
        });
      }
      const n = polls.get(runId)! + 1;
      polls.set(runId, n);
      const state = n < 2 ? { life_cycle_state: "RUNNING", state_message: "In run" } : {
        life_cycle_state: "TERMINATED",
        result_state: opts.result ?? "SUCCESS",
        state_message: "",
      };
      return Response.json({
        job_id: 1,
        run_id: runId,
        run_page_url: `http://127.0.0.1/#job/1/run/${runId}`,
        state,
        tasks: [],
      });
    }
    return Response.json({ error_code: "ENDPOINT_NOT_FOUND", message: url.pathname }, {
      status: 404,
    });
  });
  const port = server.addr.port;
  return {
    port,
    calls,
    /** The submitted run payloads. */
    submits: () => calls.filter((c) => c.path.endsWith("/runs/submit")).map((c) => c.body!),
    /** The Airflow connection `databricks_default` pointing here, as AIRFLOW_CONN_… JSON. */
    connection: (token: string) =>
      JSON.stringify({
        conn_type: "databricks",
        host: "127.0.0.1",
        port,
        schema: "http",
        password: token,
      }),
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

/**
 * A stand-in for MWAA's `POST https://<webserver>/aws_mwaa/cli`: each command (bearer token
 * required) runs on the real Airflow CLI of `airflow`, its output returned base64-encoded as
 * MWAA does. `beforeEach` runs first (e.g. to sync the DAG bucket into the DAG folder, as
 * MWAA does every 30 s); `failFirst` statuses are answered before any command runs.
 */
export function mwaaEndpoint(
  airflow: Airflow,
  opts: { beforeEach?: () => Promise<void>; failFirst?: number[] } = {},
) {
  const commands: string[] = [];
  const failures = [...(opts.failFirst ?? [])];
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, async (req) => {
    if (new URL(req.url).pathname !== "/aws_mwaa/cli" || req.method !== "POST") {
      return new Response("not found", { status: 404 });
    }
    if (!/^Bearer \S+$/.test(req.headers.get("authorization") ?? "")) {
      return new Response("Unauthorized", { status: 401 });
    }
    const command = await req.text();
    const status = failures.shift();
    if (status) return new Response("busy", { status });
    commands.push(command);
    await opts.beforeEach?.();
    const r = await airflow.cli(shellWords(command));
    const b64 = (s: string) => {
      const bytes = new TextEncoder().encode(s);
      let bin = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(bin);
    };
    return Response.json({ stdout: b64(r.stdout), stderr: b64(r.stderr) });
  });
  return {
    host: `127.0.0.1:${server.addr.port}`,
    commands,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}
