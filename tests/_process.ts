/**
 * Running a task as its own process, the way a user starts it (`./tasks/x.ts …`, with the
 * `deno run` flags of its shebang): for tests that kill it (SIGKILL, SIGTERM) and for
 * benchmarks that sample its memory. Dependency-free, so benchmarks can import it too.
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** The `deno run` flags in the shebang of `file` (e.g. `-A --v8-flags=…`). */
export function shebangFlags(file: string | URL): string[] {
  const first = Deno.readTextFileSync(file).split("\n", 1)[0];
  const m = /^#!\/usr\/bin\/env -S deno run (.*)$/.exec(first);
  return m ? m[1].trim().split(/\s+/) : ["-A"];
}

/** A task running in its own process. */
export interface TaskProcess {
  pid: number;
  /** The first line it printed on stdout: its address, or its `--json` line. */
  firstLine: string;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM) and waits for the process to end. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts `tasks/<file>` with `args` and resolves once it printed its first stdout line. */
export async function spawnTask(file: string, args: string[]): Promise<TaskProcess> {
  const path = new URL(`tasks/${file}`, ROOT);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...shebangFlags(path), path.pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drained = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      await drained;
      throw new Error(`tasks/${file} exited before printing a line: ${stderr.trim()}`);
    }
    text += value;
  }
  // The rest of stdout is not needed; keep reading it so the task never blocks on a pipe.
  const rest = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    pid: child.pid,
    firstLine: text.split("\n")[0].trim(),
    stderr: () => stderr,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await Promise.all([drained, rest]);
      return status;
    },
  };
}
