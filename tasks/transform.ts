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
import { runMain } from "../lib/shell/cli.ts";
import { type FlagTable, helpText, jsonFlag, PREFIX_FLAG, readFlags } from "../lib/shell/flags.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { LAKE_FLAGS, lakeS3Options } from "../lib/lake/lake.ts";
import { stderrSink } from "../lib/shell/progress.ts";
import { formatAnswers, SHOW_FLAG } from "../lib/analytics/questions.ts";
import {
  DEFAULT_DUCKDB_MEMORY,
  DEFAULT_TRANSFORM_OUT,
  transform,
} from "../lib/analytics/transform.ts";
import type { TransformOptions, TransformResult } from "../lib/analytics/transform.ts";

/** The transform's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  ...LAKE_FLAGS,
  prefix: PREFIX_FLAG,
  out: {
    type: "string",
    arg: "DIR",
    help: "where the tables, answers and report go",
    env: "PINPIPE_OUT",
    default: DEFAULT_TRANSFORM_OUT,
  },
  threads: {
    type: "int",
    help: "DuckDB threads",
    env: "PINPIPE_DUCKDB_THREADS",
    min: 1,
    max: 256,
    defaultText: "every core",
  },
  "memory-limit": {
    type: "bytes",
    help: "DuckDB memory limit",
    env: "PINPIPE_DUCKDB_MEMORY",
    default: DEFAULT_DUCKDB_MEMORY,
    min: 64 * 1024 ** 2,
  },
  show: SHOW_FLAG,
  "no-report": { type: "boolean", help: "do not write report.html", env: "PINPIPE_NO_REPORT" },
  "allow-empty": {
    type: "boolean",
    help: "a lake with no objects for the prefix writes empty answers instead of failing",
    env: "PINPIPE_ALLOW_EMPTY",
  },
  json: jsonFlag("the summary and the answers, instead of tables,"),
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Clean the lake and answer the eight questions with DuckDB.",
  usage:
    "deno task transform [--lake file:///path | --lake s3://bucket/prefix] [--out DIR] [flags]",
  flags: FLAGS,
});

/** The transform task's options. */
export interface TransformTaskOptions extends TransformOptions {
  /** Rows shown per answer on stdout, 0 = all. */
  show: number;
  json: boolean;
}

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = { "--rows": "--show N" };

/** Reads flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): TransformTaskOptions {
  const p = readFlags(FLAGS, args, env, cfg, { retired: RETIRED });
  p.done();
  const v = p.values;
  return {
    lake: v.lake,
    prefix: v.prefix,
    out: v.out,
    s3: lakeS3Options(v),
    threads: v.threads,
    memoryLimitBytes: v.memoryLimit,
    report: !v.noReport,
    allowEmpty: v.allowEmpty,
    show: v.show,
    json: v.json,
  };
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
