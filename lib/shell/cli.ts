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
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  /** The process environment (read once, here). */
  env: Record<string, string | undefined>;
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
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      logLine("\ninterrupted: finishing in-flight work (press Ctrl-C again to stop at once)");
      controller.abort(new Error("interrupted"));
    } else {
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
    const interrupted = controller.signal.aborted &&
      (err === controller.signal.reason || (err as Error)?.name === "AbortError");
    logLine(interrupted ? "interrupted" : `error: ${describeError(err)}`);
    if (env.PINPIPE_DEBUG && err instanceof Error && err.stack) {
      logLine(err.stack);
    }
  }
  Deno.exit(code);
}
