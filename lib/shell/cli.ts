/**
 * A task's entry point: `runMain` prints --help, owns exit codes (0 ok, 1 failure, 2 usage,
 * 130 interrupted) and Ctrl-C, and redacts secrets from error messages. A task's flags are
 * read by lib/shell/flags.ts from its one table.
 *
 * Folder `lib/shell/`: what every task shares, whatever its stage: the entry point (cli.ts),
 * flags declared once per task (flags.ts),
 * errors and exit codes (errors.ts), retries (retry.ts), progress on a terminal or in a log
 * (progress.ts), the one logger and the masking of secrets (log.ts, redact.ts), the config file
 * deploy writes (config.ts), rows as tables or CSV (table_format.ts), and outputs staged and
 * swapped into place (staging.ts). May import: `lib/deps/`.
 * @module
 */
import { describeError, UsageError } from "./errors.ts";
import { logLine } from "./log.ts";
import { registerEnvSecrets } from "./redact.ts";

/** What `runMain` hands a task's `main`. */
export interface MainContext {
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM (its echo within 300 ms is the same press). */
  signal: AbortSignal;
  /** The process environment (read once, here). */
  env: Record<string, string | undefined>;
}

/**
 * How long after the first signal another one is the same press: a terminal sends Ctrl-C's
 * SIGINT to the whole foreground process group, and `deno task`, in that group, forwards it to
 * the task again. The two arrived 0.05–0.25 ms apart here (18 of 30 presses came twice; Deno
 * merges the others); 300 ms leaves room for a loaded machine to schedule the forward late,
 * and stays below the time a person takes to read "press Ctrl-C again" and press again
 * (a visual reaction alone takes about 250 ms).
 */
export const SIGNAL_ECHO_MS = 300;

/** What a signal is: the first, the same press arriving again, or a second press. */
export type SignalKind = "first" | "echo" | "again";

/** Counts Ctrl-C presses rather than signals: one arriving within the echo window counts once. */
export class Interrupts {
  private firstAt: number | undefined;

  constructor(
    private readonly windowMs: number = SIGNAL_ECHO_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records one signal and says what it is. */
  receive(): SignalKind {
    const t = this.now();
    if (this.firstAt === undefined) {
      this.firstAt = t;
      return "first";
    }
    return t - this.firstAt < this.windowMs ? "echo" : "again";
  }
}

/** Task entry point: prints `help` for --help, runs `main`, maps errors to exit codes. */
export async function runMain(
  help: string,
  main: (args: string[], ctx: MainContext) => Promise<number | void>,
  args: string[] = Deno.args,
): Promise<never> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(help.trimEnd());
    Deno.exit(0);
  }
  let env: Record<string, string | undefined> = {};
  try {
    env = Deno.env.toObject();
  } catch {
    // Without --allow-env the task runs on flags alone.
  }
  registerEnvSecrets(env);
  const controller = new AbortController();
  const interrupts = new Interrupts();
  const onSignal = () => {
    const seen = interrupts.receive();
    if (seen === "first") {
      logLine("\ninterrupted: finishing in-flight work (press Ctrl-C again to stop at once)");
      controller.abort(new Error("interrupted"));
    } else if (seen === "again") {
      Deno.exit(130);
    }
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) {
    try {
      Deno.addSignalListener(s, onSignal);
    } catch {
      // Signals are not available everywhere (workers, some platforms).
    }
  }
  let code = 0;
  try {
    const result = await main(args, { signal: controller.signal, env });
    code = typeof result === "number" ? result : controller.signal.aborted ? 130 : 0;
  } catch (err) {
    code = err instanceof UsageError ? 2 : controller.signal.aborted ? 130 : 1;
    const interrupted = controller.signal.aborted && causedBy(err, controller.signal.reason);
    logLine(interrupted ? "interrupted" : `error: ${describeError(err)}`);
    if (env.PINPIPE_DEBUG && err instanceof Error && err.stack) {
      logLine(err.stack);
    }
  }
  Deno.exit(code);
}

/** True when `err`, or a cause of it, is the interruption `reason` or an AbortError. */
function causedBy(err: unknown, reason: unknown): boolean {
  for (let cur = err, depth = 0; cur !== undefined && cur !== null && depth < 6; depth++) {
    if (cur === reason || (cur as Error).name === "AbortError") return true;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return false;
}
