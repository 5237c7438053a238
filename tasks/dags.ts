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
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { MWAAClient } from "../lib/deps/aws_mwaa.ts";
import { S3Client } from "../lib/deps/aws_s3.ts";
import { runDags } from "../lib/aws/mwaa.ts";
import type { DagsJob } from "../lib/aws/mwaa.ts";
import { Progress } from "../lib/shell/progress.ts";

export const HELP =
  `Uploads the Airflow DAG and requirements.txt to MWAA, and optionally runs the DAG.

Usage: deno task dags [--trigger] [flags]
       deno task dags --out DIR [--prefix P]

  --prefix P          topic prefix; the DAG is <prefix>_dag (PINPIPE_PREFIX, config prefix;
                      default pinpipe)
  --bucket B          the MWAA DAG bucket (PINPIPE_DAG_BUCKET, config dagBucket; required
                      unless --out)
  --region R          AWS region (AWS_REGION or AWS_DEFAULT_REGION, config region; required
                      unless --out)
  --environment E     the MWAA environment, for --trigger (PINPIPE_MWAA_ENVIRONMENT, config
                      mwaaEnvironment)
  --trigger           after uploading, unpause the DAG, start a run and follow it to the end
  --conf JSON         the run's conf, e.g. '{"cluster_id": "0101-123456-abcd"}' (default none)
  --timeout DUR       stop following the run after this long (PINPIPE_DAG_TIMEOUT; default 2h)
  --poll DUR          how often to ask for the run's state (PINPIPE_DAG_POLL; default 15s)
  --out DIR           write the rendered files to DIR instead of uploading (no AWS needed)
  --dry-run           say what would be uploaded, upload nothing, trigger nothing
  --json              print the result as JSON
  --help              this text
`;

const FLAGS = {
  prefix: { type: "string" },
  bucket: { type: "string" },
  region: { type: "string" },
  environment: { type: "string" },
  trigger: { type: "boolean" },
  conf: { type: "string" },
  timeout: { type: "string" },
  poll: { type: "string" },
  out: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** The task's options, parsed and checked. */
export interface DagsOptions extends DagsJob {
  region: string;
  json: boolean;
}

/** Parses flags, environment and config; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  config: Record<string, unknown>,
): DagsOptions {
  const o = new Options(parseFlags(args, FLAGS).values, env, config);
  const out = o.string("out");
  const trigger = o.bool("trigger");
  const prefix = o.prefix();
  const bucket = o.string("bucket", { env: "PINPIPE_DAG_BUCKET", config: "dagBucket" }) ?? "";
  const region = o.string("region", { env: "AWS_REGION" }) ??
    o.string("region", { env: "AWS_DEFAULT_REGION", config: "region" }) ?? "";
  const environment =
    o.string("environment", { env: "PINPIPE_MWAA_ENVIRONMENT", config: "mwaaEnvironment" }) ?? "";
  if (!out) {
    if (!bucket) {
      o.problem(
        "Missing --bucket (or PINPIPE_DAG_BUCKET): run deno task deploy, or name the DAG bucket",
      );
    }
    if (!region) o.problem("Missing --region (or AWS_REGION)");
  } else if (trigger) o.problem("--out and --trigger do not go together: --out touches no AWS");
  if (trigger && !environment) {
    o.problem(
      "--trigger needs --environment (or PINPIPE_MWAA_ENVIRONMENT): which MWAA environment?",
    );
  }
  let conf: Record<string, unknown> | undefined;
  const confText = o.string("conf");
  if (confText !== undefined) {
    try {
      conf = JSON.parse(confText);
      if (typeof conf !== "object" || conf === null || Array.isArray(conf)) {
        throw new Error("not an object");
      }
    } catch {
      o.problem(`Invalid --conf "${confText}": expected a JSON object`);
    }
  }
  const opts: DagsOptions = {
    prefix,
    bucket,
    region,
    environment,
    trigger,
    conf,
    timeoutMs: o.duration("timeout", {
      env: "PINPIPE_DAG_TIMEOUT",
      default: 2 * 3600_000,
      min: 1000,
    }),
    pollMs: o.duration("poll", { env: "PINPIPE_DAG_POLL", default: 15_000, min: 100 }),
    out,
    dryRun: o.bool("dry-run"),
    json: o.bool("json"),
  };
  o.done();
  return opts;
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const progress = new Progress("dags");
    const clientConfig = { region: opts.region || "us-east-1" };
    const result = await runDags(opts, {
      s3: new S3Client(clientConfig),
      mwaa: new MWAAClient(clientConfig),
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
    if (opts.json) console.log(JSON.stringify(result, null, 2));
    else if (result.written) console.log(result.written.join("\n"));
    else {
      for (const u of up?.uploaded ?? []) {
        console.log(`${opts.dryRun ? "would upload" : "uploaded"}  s3://${opts.bucket}/${u.key}`);
      }
      for (const k of up?.unchanged ?? []) console.log(`unchanged  s3://${opts.bucket}/${k}`);
      if (result.run) {
        console.log(
          `run ${result.run.runId} of ${result.run.dagId}: ${result.run.state} (${
            Math.round(result.run.seconds)
          } s)`,
        );
      }
    }
    if (result.run && result.run.state !== "success") {
      console.error(
        `error: Cannot complete DAG run "${result.run.runId}" of "${result.run.dagId}": it ended ${result.run.state}`,
      );
      return 1;
    }
    return 0;
  });
}
