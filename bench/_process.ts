/**
 * The one way tests and benchmarks start a process and collect what it prints: `start`
 * (output collected as it comes, wait for a line, signal, how it ended), `run` (to the end),
 * and for tasks `startTask` (as a user starts `./tasks/x.ts`, with its shebang's `deno run`
 * flags) and `spawnTask` (once it printed its first stdout line: its address or `--json`).
 * Dependency-free and outside tests/ (bench/ imports nothing from tests/); tests import it.
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** The repository root, as a path. */
export const REPO_ROOT = ROOT.pathname.replace(/\/$/, "");

/** Output of a finished process, decoded. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How a process ended, and milliseconds from start to end. */
export interface Ended {
  code: number;
  signal: Deno.Signal | null;
  ms: number;
}

/** Options of `start` and `run`. */
export interface StartOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Added to the environment, after NO_COLOR=1. */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (default: no stdin). */
  stdin?: string | Uint8Array;
  /** Pass stderr through to ours (live progress) instead of collecting it. */
  inheritStderr?: boolean;
  /** Start from an empty environment (only `env`), not a copy of ours. */
  clearEnv?: boolean;
  /** Keep only about this many of the last characters of a stream (a long-lived log). */
  keepLast?: { stdout?: number; stderr?: number };
}

/** A running process whose stdout and stderr are collected as text. */
export interface Running {
  pid: number;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Resolves once `stream` matches `re`; rejects after `timeoutMs` or if it ends first. */
  waitFor(stream: "stdout" | "stderr", re: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves once stderr matches `re` (see waitFor). */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal`; a process already gone is no error. */
  kill(signal?: Deno.Signal): void;
  /** Sends `signal` (default SIGTERM) and waits for the end. */
  stop(signal?: Deno.Signal): Promise<Ended>;
  /** Whether it is still running. */
  alive(): boolean;
  /** How it ended, once both streams are read to their end. */
  ended: Promise<Ended>;
}

/**
 * Starts `cmd args…` with stdout and stderr collected. `what` names it in errors (default:
 * the command). A command that cannot start throws, naming it.
 */
export function start(
  cmd: string,
  args: string[],
  opts: StartOptions & { what?: string } = {},
): Running {
  const what = opts.what ?? cmd;
  const t0 = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd ?? REPO_ROOT,
      env: { NO_COLOR: "1", ...opts.env },
      clearEnv: opts.clearEnv,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: opts.inheritStderr ? "inherit" : "piped",
    }).spawn();
  } catch (e) {
    throw new Error(`cannot start ${what}: ${e instanceof Error ? e.message : e}`);
  }
  if (opts.stdin !== undefined) {
    const data = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
    const w = child.stdin.getWriter();
    w.write(data).then(() => w.close()).catch(() => {/* it ended without reading */});
  }
  const out = { stdout: "", stderr: "" };
  const read = async (s: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      out[key] += t;
      const keep = opts.keepLast?.[key];
      if (keep && out[key].length > 2 * keep) out[key] = out[key].slice(-keep);
    }
  };
  const drained = Promise.all([
    read(child.stdout, "stdout"),
    opts.inheritStderr ? undefined : read(child.stderr, "stderr"),
  ]);
  let done = false;
  const ended = (async () => {
    const st = await child.status;
    await drained;
    done = true;
    return { code: st.code, signal: st.signal, ms: performance.now() - t0 };
  })();
  const kill = (signal: Deno.Signal = "SIGTERM") => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const waitFor = async (stream: "stdout" | "stderr", re: RegExp, timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs;
    while (!re.test(out[stream])) {
      if (done) throw new Error(`${what} ended before printing ${re} on ${stream}:\n${out.stderr}`);
      if (Date.now() > end) {
        throw new Error(
          `${what} did not print ${re} on ${stream} within ${timeoutMs} ms:\n${out.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    pid: child.pid,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor,
    waitForStderr: (re, timeoutMs) => waitFor("stderr", re, timeoutMs),
    kill,
    async stop(signal: Deno.Signal = "SIGTERM") {
      kill(signal);
      return await ended;
    },
    alive: () => !done,
    ended,
  };
}

/**
 * Runs `cmd args…` to its end and answers its exit code and output. A command that cannot
 * start answers code 127 with the reason on stderr, as a shell does.
 */
export async function run(
  cmd: string,
  args: string[],
  opts: StartOptions = {},
): Promise<RunResult> {
  let p: Running;
  try {
    p = start(cmd, args, opts);
  } catch (e) {
    return { code: 127, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
  }
  const { code } = await p.ended;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** The `deno run` flags in the shebang of `file` (e.g. `-A --v8-flags=…`). */
export function shebangFlags(file: string | URL): string[] {
  const first = Deno.readTextFileSync(file).split("\n", 1)[0];
  const m = /^#!\/usr\/bin\/env -S deno run (.*)$/.exec(first);
  return m ? m[1].trim().split(/\s+/) : ["-A"];
}

/** `deno run <shebang flags> tasks/<file>`: the command line that starts a task. */
export function taskCommand(file: string): string[] {
  const path = new URL(`tasks/${file}`, ROOT);
  return [Deno.execPath(), "run", ...shebangFlags(path), path.pathname];
}

/** Starts `tasks/<file>` with `args`, as a user does (see `start`). */
export function startTask(file: string, args: string[], env: Record<string, string> = {}): Running {
  const [cmd, ...rest] = taskCommand(file);
  return start(cmd, [...rest, ...args], { env, what: `tasks/${file}` });
}

/** A task running in its own process, past its first stdout line. */
export interface TaskProcess extends Running {
  /** The first line it printed on stdout: its address, or its `--json` line. */
  firstLine: string;
}

/** Starts `tasks/<file>` with `args` and resolves once it printed its first stdout line. */
export async function spawnTask(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<TaskProcess> {
  const p = startTask(file, args, env);
  try {
    await p.waitFor("stdout", /\n/, 120_000);
  } catch (e) {
    p.kill("SIGKILL");
    await p.ended;
    throw new Error(
      `tasks/${file} exited or hung before printing a line: ${p.stderr().trim() || String(e)}`,
    );
  }
  return { ...p, firstLine: p.stdout().split("\n")[0].trim() };
}
