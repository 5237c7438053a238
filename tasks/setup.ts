#!/usr/bin/env -S deno run -A
/**
 * `deno task setup`: fetches, once, the npm packages the local tasks use (the embedded broker,
 * the REST proxy, the sink, DuckDB and the report for the transform, the demo …), with a
 * progress line, and says how much it fetched. Deno fetches a task's packages before the task
 * runs, so without this the first `deno task demo` spends its first minute fetching; with it,
 * that minute is spent here, shown. `--all` adds the AWS tasks' packages (deploy, connector,
 * dags).
 *
 * Run: `deno task setup`, or from a URL: `deno run -A https://…/tasks/setup.ts`. Changes:
 * Deno's cache only. A re-run is safe and fetches nothing. Exit codes: 0 ok, 1 a package could
 * not be fetched, 2 bad flags, 130 interrupted.
 * @module
 */
import { runMain } from "../lib/shell/cli.ts";
import { type FlagTable, helpText, jsonFlag, readFlags } from "../lib/shell/flags.ts";
import { taskProgress } from "../lib/shell/log.ts";
import { describeFetch, fetchPackages } from "../lib/shell/fetch_packages.ts";

/** The tasks that run with no AWS account, and those that need one. */
export const LOCAL_TASKS = [
  "broker",
  "seed_db",
  "topics",
  "emulate",
  "rest_proxy",
  "sink",
  "transform",
  "demo",
] as const;
export const AWS_TASKS = ["deploy", "connector", "dags"] as const;

/** The setup task's flags. */
export const FLAGS = {
  all: {
    type: "boolean",
    help: "also the AWS tasks' packages (deploy, connector, dags: the AWS SDK clients)",
    env: "PINPIPE_SETUP_ALL",
  },
  json: jsonFlag("what was fetched"),
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Fetch, once, the npm packages the local tasks use, showing progress and how much.",
  usage: "deno task setup [--all]",
  flags: FLAGS,
});

/** Reads the flags; every problem is reported together. */
export function parseOptions(args: string[], env: Record<string, string | undefined>) {
  const p = readFlags(FLAGS, args, env);
  p.done();
  return p.values;
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env);
    const tasks = opts.all ? [...LOCAL_TASKS, ...AWS_TASKS] : [...LOCAL_TASKS];
    const entrypoints = tasks.map((t) => new URL(`./${t}.ts`, import.meta.url).href);
    const progress = taskProgress("setup", { resultOnStdout: true });
    progress.log(`setup: fetching the npm packages of ${tasks.join(", ")}`);
    const r = await fetchPackages(entrypoints, { progress, signal });
    progress.done(describeFetch(r));
    console.log(opts.json ? JSON.stringify(r) : describeFetch(r));
  });
}
