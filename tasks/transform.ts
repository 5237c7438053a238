#!/usr/bin/env -S deno run -A
/**
 * `deno task transform`: cleans the lake the sink (or the real S3 connector) wrote and
 * answers the eight questions, with DuckDB and the same SQL files the Databricks notebooks
 * run. Reads `topics/<prefix>.{pin,geo,user}/…` from a local folder or S3 (SPEC §3), cleans
 * per SPEC §4 (exact duplicates dropped first, malformed lines quarantined with their object
 * key and line number), answers SPEC §5, prints the answers as tables and writes to `--out`:
 * `pin.parquet`, `geo.parquet`, `user.parquet`, `answers/<q>.csv|json`, `quarantine.jsonl`,
 * `summary.json` and a self-contained `report.html`.
 *
 * Run: `deno task transform --lake file:///tmp/lake --out /tmp/answers`, or from a URL:
 * `deno run -A https://…/tasks/transform.ts --lake s3://bucket --out out`.
 * Changes: only the files above in `--out`, replaced together once all the new ones are
 * complete (an interrupted or failed run leaves the previous ones); the lake is only read.
 * A re-run is safe: it replaces them with the same tables and answers (row order in the
 * Parquet files may differ).
 * Exit codes: 0 ok (also when some lines were quarantined), 1 failure (also: no objects for
 * the prefix, unless --allow-empty, or every line quarantined), 2 bad options, 130
 * interrupted.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import type { FlagSpec } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { readLakeOptions } from "../lib/lake/lake.ts";
import { stderrSink } from "../lib/shell/progress.ts";
import { formatAnswers } from "../lib/analytics/questions.ts";
import { transform } from "../lib/analytics/transform.ts";
import type { TransformOptions, TransformResult } from "../lib/analytics/transform.ts";

export const HELP = `Clean the lake and answer the eight questions with DuckDB.

Usage: deno task transform [--lake file:///path | --lake s3://bucket/prefix] [--out DIR] [flags]

  --lake URL           file:///path, a path, or s3://bucket/prefix (PINPIPE_LAKE; default
                       s3://<config bucket> when deployed, else .pinpipe/lake)
  --s3-endpoint URL    S3-compatible endpoint, path-style (PINPIPE_S3_ENDPOINT; default AWS)
  --region R           S3 region (AWS_REGION, config region; default us-east-1)
  --prefix P           topic prefix: topics P.pin, P.geo, P.user (PINPIPE_PREFIX, config
                       prefix; default pinpipe)
  --out DIR            where the tables, answers and report go (PINPIPE_OUT; default
                       .pinpipe/transform)
  --threads N          DuckDB threads (PINPIPE_DUCKDB_THREADS; default: every core)
  --memory-limit SIZE  DuckDB memory limit, e.g. 1GiB (PINPIPE_DUCKDB_MEMORY; default 1GiB)
  --show N             rows shown per answer on stdout, 0 = all (PINPIPE_SHOW; default 20);
                       the files always hold every row
  --no-report          do not write report.html
  --allow-empty        a lake with no objects for the prefix writes empty answers instead of
                       failing (PINPIPE_ALLOW_EMPTY; default off)
  --json               print the summary and the answers as JSON instead of tables
  --help               this text

Renamed (the old names still work, with a warning, in this release only):
  --rows, PINPIPE_ROWS  are now --show, PINPIPE_SHOW (PINPIPE_ROWS means the dataset's rows)
`;

const FLAGS: Record<string, FlagSpec> = {
  lake: { type: "string" },
  "s3-endpoint": { type: "string" },
  region: { type: "string" },
  prefix: { type: "string" },
  out: { type: "string" },
  threads: { type: "string" },
  "memory-limit": { type: "string" },
  show: { type: "string" },
  rows: { type: "string" }, // renamed --show; read with a warning for one release
  "no-report": { type: "boolean" },
  "allow-empty": { type: "boolean" },
  json: { type: "boolean" },
};

const WHY_SHOW = "as in the demo; --rows and PINPIPE_ROWS mean the dataset's rows";

/** The transform task's options. */
export interface TransformTaskOptions extends TransformOptions {
  /** Rows shown per answer on stdout, 0 = all. */
  show: number;
  json: boolean;
}

/** Reads flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): TransformTaskOptions {
  const o = new Options(parseFlags(args, FLAGS).values, env, cfg);
  const { lake, s3 } = readLakeOptions(o);
  const memory = o.bytes("memory-limit", { env: "PINPIPE_DUCKDB_MEMORY", min: 64 * 1024 ** 2 });
  const threads = o.int("threads", { env: "PINPIPE_DUCKDB_THREADS", min: 1, max: 256 });
  const opts: TransformTaskOptions = {
    lake,
    prefix: o.prefix(),
    out: o.string("out", { env: "PINPIPE_OUT", default: ".pinpipe/transform" })!,
    s3,
    threads: threads || undefined,
    memoryLimit: memory ? `${Math.floor(memory / 1024 ** 2)}MiB` : undefined,
    report: !o.bool("no-report"),
    allowEmpty: o.bool("allow-empty", { env: "PINPIPE_ALLOW_EMPTY" }),
    show: o.int("show", {
      env: "PINPIPE_SHOW",
      default: 20,
      min: 0,
      was: { flag: "rows", env: "PINPIPE_ROWS", why: WHY_SHOW },
    }),
    json: o.bool("json"),
  };
  o.done();
  return opts;
}

/** The result as printed with --json: the summary and the answers, without the quarantine. */
export function jsonSummary(r: TransformResult): Record<string, unknown> {
  const { quarantine: _, answers, ...rest } = r;
  return {
    ...rest,
    answers: answers.map((a) => ({ id: a.id, title: a.title, columns: a.columns, rows: a.rows })),
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const result = await transform(opts, { signal, progress: stderrSink() });
    if (opts.json) {
      console.log(JSON.stringify(jsonSummary(result)));
    } else {
      console.log(formatAnswers(result.answers, { maxRows: opts.show }));
      console.log(
        `\nwrote ${result.files.length} files to ${result.out} (report: ${
          opts.report ? `${result.out}/report.html` : "not written"
        })`,
      );
      if (result.quarantined > 0) {
        console.log(
          `${result.quarantined} malformed lines set aside in ${result.out}/quarantine.jsonl`,
        );
      }
    }
  });
}
