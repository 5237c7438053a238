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
 * transaction (a failed or interrupted load leaves them empty). Re-running is safe: it
 * refuses tables that already hold rows unless `--replace`, which drops and reloads them
 * (the same seed gives the same rows). Exit codes: 0 loaded, 1 failed or refused,
 * 2 bad options, 130 interrupted.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { createDataset, DEFAULT_ROWS, DEFAULT_SEED } from "../lib/source/dataset.ts";
import { seedDatabase } from "../lib/source/mysql_source.ts";
import { parseMysqlUrl } from "../lib/source/mysql_url.ts";
import { taskProgress } from "../lib/shell/log.ts";
import { fmtInt } from "../lib/shell/progress.ts";

/** The default source database: the original's database name on a local server. */
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/pinterest_data";

const HELP = `Create the source tables and load the synthetic Pinterest dataset into MySQL.

Usage: deno task seed-db [options]

Options:
  --mysql-url URL   mysql://user@host:3306/database (PINPIPE_MYSQL_URL, config mysqlUrl;
                    default ${DEFAULT_MYSQL_URL}). The password comes
                    from PINPIPE_MYSQL_PASSWORD (or the URL) and is never printed
  --rows N          rows per table (PINPIPE_ROWS; default ${fmtInt(DEFAULT_ROWS)})
  --seed N          dataset seed: the same seed loads the same rows (PINPIPE_SEED; default ${DEFAULT_SEED})
  --batch-rows N    rows per INSERT statement (default 1,000)
  --replace         drop and reload the three tables if they hold rows (PINPIPE_REPLACE=1)
  --dry-run         say what would be done, change nothing
  --json            print the result as JSON on stdout
  -h, --help        show this help

Without --replace the task refuses tables that already hold rows and says so.
Exit codes: 0 ok, 1 failed or refused, 2 bad options, 130 interrupted.
`;

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const { values } = parseFlags(args, {
      "mysql-url": { type: "string" },
      rows: { type: "string" },
      seed: { type: "string" },
      "batch-rows": { type: "string" },
      replace: { type: "boolean" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    });
    const o = new Options(values, env, await loadConfig(env));
    const url = o.string("mysql-url", {
      env: "PINPIPE_MYSQL_URL",
      config: "mysqlUrl",
      default: DEFAULT_MYSQL_URL,
    })!;
    const rows = o.int("rows", { env: "PINPIPE_ROWS", default: DEFAULT_ROWS, min: 0 });
    const seed = o.int("seed", { env: "PINPIPE_SEED", default: DEFAULT_SEED, min: 0 });
    const batchRows = o.int("batch-rows", { default: 1000, min: 1, max: 100_000 });
    o.done();
    const target = parseMysqlUrl(url, env.PINPIPE_MYSQL_PASSWORD);
    const result = await seedDatabase({
      target,
      dataset: createDataset({ rows, seed }),
      replace: o.bool("replace", { env: "PINPIPE_REPLACE" }),
      dryRun: o.bool("dry-run"),
      batchRows,
    }, { progress: taskProgress("seed-db", { resultOnStdout: true }), signal });
    // The summary is the result: printed once, here (the progress line only clears).
    console.log(o.bool("json") ? JSON.stringify(result) : result.summary);
  });
}
