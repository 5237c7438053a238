/**
 * A real pseudo-terminal, for tests that act as a person at a keyboard: an interactive bash in
 * a tmux pane, on a tmux server of the test's own (a private socket, no user config). Ctrl-C
 * typed here goes through the terminal's line discipline to the whole foreground process group,
 * as it does for a user: under `deno task` that is `deno task` and the task, and `deno task`
 * forwards it once more. A signal sent with `kill` reaches one process and shows none of that.
 * @module
 */
import { join } from "node:path";
import { ROOT } from "./_fixtures.ts";
import { run } from "../bench/_process.ts";

/** How a command typed into the terminal ended, and what the screen showed. */
export interface Ended {
  code: number;
  /** What the screen showed from the command on, wrapped lines joined. */
  screen: string;
}

/** An interactive bash in a tmux pane of a private tmux server. */
export class Terminal {
  private commands = 0;

  private constructor(private readonly socket: string, private readonly dir: string) {}

  /** Starts the terminal (200 columns, so progress lines stay on one line) in `cwd`. */
  static async open(cwd = ROOT, env: Record<string, string> = {}): Promise<Terminal> {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-tty-" });
    const conf = join(dir, "tmux.conf");
    await Deno.writeTextFile(conf, "set -g history-limit 100000\nset -g status off\n");
    const term = new Terminal(`pinpipe-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`, dir);
    await term.tmux(
      ["-f", conf, "new-session", "-d", "-x", "200", "-y", "50", "-c", cwd],
      ["bash", "--norc", "--noprofile", "-i"],
      env,
    );
    return term;
  }

  /** Runs tmux on this terminal's server. */
  private async tmux(
    args: string[],
    command: string[] = [],
    env: Record<string, string> = {},
  ): Promise<string> {
    const out = await run("tmux", ["-L", this.socket, ...args, ...command], {
      // The server keeps the environment of the client that started it.
      env: { PS1: "$ ", HISTFILE: "/dev/null", ...env },
    });
    if (out.code !== 0) {
      throw new Error(`Cannot run "tmux ${args.join(" ")}": ${out.stderr.trim()}`);
    }
    return out.stdout;
  }

  /** The whole scrollback, wrapped lines joined, trailing blank lines dropped. */
  async screen(): Promise<string> {
    return (await this.tmux(["capture-pane", "-p", "-J", "-S", "-", "-E", "-"])).trimEnd();
  }

  /**
   * Types `command` and Enter, as a person does; its exit code is written where `ended` looks.
   * Returns a handle to wait for its output and its end.
   */
  async type(command: string): Promise<Typed> {
    const n = ++this.commands;
    const exitFile = join(this.dir, `exit-${n}.code`);
    await this.tmux(["send-keys", "-l", `${command}; echo $? > ${exitFile}`]);
    await this.tmux(["send-keys", "Enter"]);
    return new Typed(this, exitFile, `exit-${n}.code`);
  }

  /** Presses Ctrl-C. */
  async interrupt(): Promise<void> {
    await this.tmux(["send-keys", "C-c"]);
  }

  /** Ends the tmux server (and anything still running in it). */
  async close(): Promise<void> {
    await this.tmux(["kill-server"]).catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A command typed into a terminal. */
export class Typed {
  constructor(
    private readonly term: Terminal,
    private readonly exitFile: string,
    private readonly mark: string,
  ) {}

  /** What the screen shows since the command was typed (the command line itself left out). */
  async output(): Promise<string> {
    const screen = await this.term.screen();
    const at = screen.lastIndexOf(this.mark);
    if (at < 0) return "";
    const eol = screen.indexOf("\n", at);
    return eol < 0 ? "" : screen.slice(eol + 1);
  }

  /** Waits until the screen matches `re`; throws after `timeoutMs` or if the command ended. */
  async waitFor(re: RegExp, timeoutMs = 60_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.output();
      if (re.test(screen)) return screen;
      if (await this.code() !== undefined) {
        throw new Error(`The command ended before the screen showed ${re}:\n${screen}`);
      }
      if (Date.now() > end) {
        throw new Error(`The screen did not show ${re} within ${timeoutMs} ms:\n${screen}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for the command to end; throws after `timeoutMs`. */
  async ended(timeoutMs = 60_000): Promise<Ended> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const code = await this.code();
      if (code !== undefined) return { code, screen: await this.output() };
      if (Date.now() > end) {
        throw new Error(
          `The command did not end within ${timeoutMs} ms:\n${await this.output()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The exit code, once the shell wrote it. */
  private async code(): Promise<number | undefined> {
    try {
      const text = await Deno.readTextFile(this.exitFile);
      return text.endsWith("\n") ? Number(text.trim()) : undefined;
    } catch {
      return undefined;
    }
  }
}
