#!/usr/bin/env -S deno run -A
/**
 * `deno task dags`: renders the Airflow DAG (dags/pinpipe_dag.py) for a prefix and puts it,
 * with dags/requirements.txt, in the MWAA environment's bucket (dags/<prefix>_dag.py and
 * requirements.txt), skipping files whose content is already there. With `--trigger` it
 * then unpauses the DAG, starts a run and follows it until it succeeds or fails, through
 * the Airflow CLI endpoint (CreateCliToken + POST /aws_mwaa/cli; InvokeRestApi is not in
 * the registry's @aws-sdk/client-mwaa). `--out DIR` only writes the rendered files locally.
 *
 * Run: `deno task dags [--trigger]` after `deno task deploy` (bucket, environment and region
 * come from .pinpipe/aws.json), or from a URL: `deno run -A https://…/tasks/dags.ts --help`.
 * Changes: objects in the DAG bucket; with --trigger, one DAG run (which runs the Databricks
 * notebook). A re-run is safe: unchanged files are not uploaded again.
 * Exit codes: 0 done (the run succeeded), 1 failed (or the run failed), 2 bad options,
 * 130 interrupted.
 * @module
 */
import { runMain } from "../lib/shell/cli.ts";
import {
  dryRunFlag,
  type FlagTable,
  helpText,
  jsonFlag,
  PREFIX_FLAG,
  readFlags,
  REGION_FLAG,
} from "../lib/shell/flags.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { MWAAClient } from "../lib/deps/aws_mwaa.ts";
import { S3Client } from "../lib/deps/aws_s3.ts";
import {
  DAG_BUCKET_FLAG,
  DEFAULT_DAG_POLL_MS,
  DEFAULT_DAG_TIMEOUT_MS,
  formatDags,
  runDags,
} from "../lib/aws/mwaa.ts";
import type { DagsJob } from "../lib/aws/mwaa.ts";
import { Progress } from "../lib/shell/progress.ts";

/** Why `text` is not a DAG run's conf, or undefined. */
function confProblem(text: string): string | undefined {
  try {
    const conf = JSON.parse(text);
    if (typeof conf === "object" && conf !== null && !Array.isArray(conf)) return undefined;
  } catch {
    // Said below.
  }
  return "expected a JSON object";
}

/** The dags task's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  prefix: { ...PREFIX_FLAG, help: "topic prefix; the DAG is P_dag" },
  "dag-bucket": { ...DAG_BUCKET_FLAG, help: "the MWAA DAG bucket, required unless --out" },
  region: REGION_FLAG,
  environment: {
    type: "string",
    arg: "E",
    help: "the MWAA environment, for --trigger",
    env: "PINPIPE_MWAA_ENVIRONMENT",
    config: "mwaaEnvironment",
  },
  trigger: {
    type: "boolean",
    help: "after uploading, unpause the DAG, start a run and follow it to the end",
    env: "PINPIPE_DAG_TRIGGER",
  },
  conf: {
    type: "string",
    arg: "JSON",
    help: `the run's conf, e.g. '{"cluster_id": "0101-123456-abcd"}'`,
    env: "PINPIPE_DAG_CONF",
    defaultText: "none",
    check: confProblem,
  },
  timeout: {
    type: "duration",
    help: "stop following the run after this long",
    env: "PINPIPE_DAG_TIMEOUT",
    default: DEFAULT_DAG_TIMEOUT_MS,
    min: 1000,
  },
  poll: {
    type: "duration",
    help: "how often to ask for the run's state",
    env: "PINPIPE_DAG_POLL",
    default: DEFAULT_DAG_POLL_MS,
    min: 100,
  },
  out: {
    type: "string",
    arg: "DIR",
    help: "write the rendered files to DIR instead of uploading (no AWS needed)",
    env: "PINPIPE_DAG_OUT",
  },
  "dry-run": dryRunFlag("what would be uploaded"),
  json: jsonFlag("the result"),
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Uploads the Airflow DAG and requirements.txt to MWAA, and optionally runs the DAG.",
  usage: ["deno task dags [--trigger] [flags]", "deno task dags --out DIR [--prefix P]"],
  flags: FLAGS,
});

/** The task's options, parsed and checked. */
export interface DagsOptions extends DagsJob {
  region: string;
  json: boolean;
}

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = { "--bucket": "--dag-bucket B" };

/** Parses flags, environment and config; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): DagsOptions {
  const p = readFlags(FLAGS, args, env, cfg, { retired: RETIRED });
  const v = p.values;
  if (v.out && v.trigger) p.problem("--out and --trigger do not go together: --out touches no AWS");
  if (!v.out && !v.dagBucket) {
    p.problem(
      "Missing --dag-bucket (or PINPIPE_DAG_BUCKET): run deno task deploy, or name the DAG bucket",
    );
  }
  if (v.trigger && !v.environment) {
    p.problem(
      "--trigger needs --environment (or PINPIPE_MWAA_ENVIRONMENT): which MWAA environment?",
    );
  }
  p.done();
  return {
    prefix: v.prefix,
    bucket: v.dagBucket ?? "",
    region: v.region,
    environment: v.environment ?? "",
    trigger: v.trigger,
    conf: v.conf === undefined ? undefined : JSON.parse(v.conf),
    timeoutMs: v.timeout,
    pollMs: v.poll,
    out: v.out,
    dryRun: v.dryRun,
    json: v.json,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const progress = new Progress("dags");
    const result = await runDags(opts, {
      s3: new S3Client({ region: opts.region }),
      mwaa: new MWAAClient({ region: opts.region }),
      log: (line) => progress.log(line),
      signal,
    });
    const up = result.upload;
    progress.done(
      result.written
        ? `wrote ${result.written.length} files`
        : `${up?.uploaded.length ?? 0} uploaded, ${up?.unchanged.length ?? 0} unchanged${
          result.run ? `, run ${result.run.state}` : ""
        } in ${progress.elapsedSec().toFixed(0)} s`,
    );
    const text = opts.json ? JSON.stringify(result, null, 2) : formatDags(result, opts.dryRun);
    if (text) console.log(text);
    if (result.run && result.run.state !== "success") {
      console.error(
        `error: Cannot complete DAG run "${result.run.runId}" of "${result.run.dagId}": it ended ${result.run.state}`,
      );
      return 1;
    }
    return 0;
  });
}
