#!/usr/bin/env -S deno run -A
/**
 * `deno task seed-db`: creates the source database of the original pipeline (the RDS
 * `pinterest_data` database: tables `pinterest_data`, `geolocation_data`, `user_data`)
 * in any MySQL or MariaDB, and loads pinpipe's deterministic synthetic dataset into it.
 *
 *     deno task seed-db --mysql-url mysql://root@127.0.0.1:3306/pinterest_data
 *     deno run -A https://<host>/tasks/seed_db.ts --rows 100000 --replace
 *
 * Changes: creates the database if missing, creates the three tables, inserts rows in one
 * transaction (a failed or interrupted load leaves them empty). Re-running is safe: three
 * tables that hold rows are left as they are and the task says so (exit 0), one or two are
 * refused, and `--replace` drops and reloads them (the same seed gives the same rows).
 * Exit codes: 0 loaded (or loaded already), 1 failed or refused, 2 bad options,
 * 130 interrupted.
 * @module
 */
import { runMain } from "../lib/shell/cli.ts";
import {
  dryRunFlag,
  type FlagTable,
  helpText,
  jsonFlag,
  readFlags,
  urlCheck,
} from "../lib/shell/flags.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { createDataset, ROWS_FLAG, SEED_FLAG } from "../lib/source/dataset.ts";
import { DEFAULT_BATCH_ROWS, seedDatabase, type SeedOptions } from "../lib/source/mysql_source.ts";
import { DEFAULT_MYSQL_URL, MYSQL_CONNECT_MS, parseMysqlUrl } from "../lib/source/mysql_url.ts";
import { taskProgress } from "../lib/shell/log.ts";

/** The seed-db task's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  "mysql-url": {
    type: "string",
    arg: "URL",
    help: "mysql://user@host:3306/database; the password comes from PINPIPE_MYSQL_PASSWORD " +
      "only (never the URL, which deno task echoes) and is never printed",
    env: "PINPIPE_MYSQL_URL",
    config: "mysqlUrl",
    default: DEFAULT_MYSQL_URL,
    check: urlCheck("PINPIPE_MYSQL_PASSWORD"),
  },
  "connect-timeout": {
    type: "duration",
    help: "how long connecting to MySQL may take: the TCP connection and the server's greeting",
    idea: "how long the first connection may take (to Kafka, MySQL or a REST proxy)",
    env: "PINPIPE_CONNECT_TIMEOUT",
    default: MYSQL_CONNECT_MS,
    min: 100,
  },
  rows: { ...ROWS_FLAG, help: "rows per table" },
  seed: SEED_FLAG,
  "batch-rows": {
    type: "int",
    help: "rows per INSERT statement",
    env: "PINPIPE_BATCH_ROWS",
    default: DEFAULT_BATCH_ROWS,
    min: 1,
    max: 100_000,
  },
  replace: {
    type: "boolean",
    help:
      "drop and reload the three tables if they hold rows (without it, loaded tables are left " +
      "as they are)",
    env: "PINPIPE_REPLACE",
  },
  "dry-run": dryRunFlag("what would be done"),
  json: jsonFlag("the result"),
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Create the source tables and load the synthetic Pinterest dataset into MySQL.",
  usage: "deno task seed-db [--mysql-url URL] [--rows N] [--replace] [flags]",
  flags: FLAGS,
  notes: `Without --replace, three tables that hold rows already are left as they are (the task
says so: a second run of the walkthrough), and one or two that hold rows are refused.
Exit codes: 0 ok (also: loaded already, left as they are), 1 failed or refused, 2 bad
options, 130 interrupted.`,
});

/** The seed-db task's options: what `seedDatabase` takes, and how to print its result. */
export interface SeedDbOptions extends SeedOptions {
  json: boolean;
}

/** Reads flags, environment and config file; every problem is reported together. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): SeedDbOptions {
  const p = readFlags(FLAGS, args, env, cfg);
  const v = p.values;
  let target;
  try {
    target = {
      ...parseMysqlUrl(v.mysqlUrl, env.PINPIPE_MYSQL_PASSWORD, p.from("mysql-url")),
      connectTimeoutMs: v.connectTimeout,
    };
  } catch (err) {
    p.problem((err as Error).message);
  }
  p.done();
  return {
    target: target!,
    dataset: createDataset({ rows: v.rows, seed: v.seed }),
    batchRows: v.batchRows,
    replace: v.replace,
    dryRun: v.dryRun,
    json: v.json,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const progress = taskProgress("seed-db", { resultOnStdout: true });
    const result = await seedDatabase(opts, { progress, signal });
    // The summary is the result: printed once, here (the progress line only clears).
    console.log(opts.json ? JSON.stringify(result) : result.summary);
  });
}
