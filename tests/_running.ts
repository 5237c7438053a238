/**
 * A task running as its own process for tests that interrupt it or watch it fail: its
 * output is collected as it comes, a test can wait for a line on stderr, send a signal,
 * and read how it ended and how long that took. (tests/_process.ts `spawnTask` serves tasks
 * that print a first line on stdout; these may print nothing there until they end.)
 * @module
 */
import { shebangFlags } from "./_process.ts";

const ROOT = new URL("../", import.meta.url);

/** A running task. */
export interface RunningTask {
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr matches `re`; rejects after `timeoutMs` or if the task ends first. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` to the process. */
  kill(signal: Deno.Signal): void;
  /** How it ended, and milliseconds from start to end. */
  ended: Promise<{ code: number; signal: Deno.Signal | null; ms: number }>;
}

/** Starts `tasks/<file>` with the flags of its shebang, as a user does. */
export function startTask(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): RunningTask {
  const path = new URL(`tasks/${file}`, ROOT);
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...shebangFlags(path), path.pathname, ...args],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const read = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) add(t);
  };
  const drained = Promise.all([
    read(child.stdout, (t) => out += t),
    read(child.stderr, (t) => err += t),
  ]);
  let done = false;
  const ended = (async () => {
    const st = await child.status;
    await drained;
    done = true;
    return { code: st.code, signal: st.signal, ms: performance.now() - t0 };
  })();
  return {
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    async waitForStderr(re, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      while (!re.test(err)) {
        if (done) throw new Error(`tasks/${file} ended before printing ${re}:\n${err}`);
        if (Date.now() > end) {
          throw new Error(`tasks/${file} did not print ${re} within ${timeoutMs} ms:\n${err}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    },
    ended,
  };
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers (a hung broker). */
export function silentServer(): { address: string; accepted(): number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const c of listener) conns.push(c);
    } catch {
      // Closed.
    }
  })();
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted: () => conns.length,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** A loopback port nothing listens on (free when asked). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
