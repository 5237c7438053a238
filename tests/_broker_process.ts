/**
 * The broker task run as its own process, under a lowered open-file limit when asked, with its
 * memory and descriptors readable from /proc: for the stage tests that kill it or starve it.
 * @module
 */
import { type Ended, start, taskCommand } from "../bench/_process.ts";

/** The broker task in its own process. */
export interface BrokerProcess {
  pid: number;
  bootstrap: string;
  /** Its stderr so far. */
  stderr(): string;
  /** Resident memory now, in MB (0 once it ended). */
  rssMB(): number;
  /** File descriptors it has open now (0 once it ended). */
  openFiles(): number;
  /** Whether it is still running. */
  alive(): boolean;
  /** Sends `signal` (default SIGTERM) and waits for it to end. */
  stop(signal?: Deno.Signal): Promise<Ended>;
}

/**
 * Starts `tasks/broker.ts` with `args` (plus `--port 0 --json`), under `ulimit -n
 * <openFiles>` when given; resolves once it listens, or rejects with its stderr.
 */
export async function spawnBrokerProcess(
  args: string[],
  opts: { openFiles?: number } = {},
): Promise<BrokerProcess> {
  const all = [...taskCommand("broker.ts"), "--port", "0", "--json", ...args];
  const p = opts.openFiles
    ? start("sh", ["-c", `ulimit -n ${opts.openFiles} && exec "$@"`, "sh", ...all], {
      what: "the broker",
    })
    : start(all[0], all.slice(1), { what: "the broker" });
  try {
    await p.waitFor("stdout", /\n/, 120_000);
  } catch {
    p.kill("SIGKILL");
    await p.ended;
    throw new Error(`the broker exited before listening: ${p.stderr().trim()}`);
  }
  const { bootstrap } = JSON.parse(p.stdout().split("\n")[0]) as { bootstrap: string };
  return {
    pid: p.pid,
    bootstrap,
    stderr: p.stderr,
    rssMB: () => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${p.pid}/status`));
        return m ? Number(m[1]) / 1000 : 0;
      } catch {
        return 0;
      }
    },
    openFiles: () => {
      try {
        return [...Deno.readDirSync(`/proc/${p.pid}/fd`)].length;
      } catch {
        return 0;
      }
    },
    alive: p.alive,
    stop: p.stop,
  };
}
