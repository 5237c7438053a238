/**
 * seed-db and the MySQL source against the real MariaDB: the tables and their types, an
 * exact round trip of the dataset (utf8mb4 text, DATETIME strings, doubles), refusing
 * non-empty tables, --replace, --dry-run, and one-line errors for bad URLs and passwords.
 */
import assert from "node:assert/strict";
import { DEFAULT_ROWS, DEFAULT_SEED } from "../../lib/source/dataset.ts";
import { DEFAULT_BATCH_ROWS } from "../../lib/source/mysql_source.ts";
import { DEFAULT_MYSQL_URL } from "../../lib/source/mysql_url.ts";
import { UsageError } from "../../lib/shell/errors.ts";
import { parseOptions } from "../../tasks/seed_db.ts";

Deno.test("seed-db's options come from flags, then variables, then the config file, then the library's defaults", () => {
  const d = parseOptions([], {});
  assert.deepEqual(
    [d.target.display, d.dataset.rows, d.dataset.seed, d.batchRows, d.replace, d.dryRun, d.json],
    [DEFAULT_MYSQL_URL, DEFAULT_ROWS, DEFAULT_SEED, DEFAULT_BATCH_ROWS, false, false, false],
  );
  const env = {
    PINPIPE_MYSQL_URL: "mysql://app@db.example:3307/src",
    PINPIPE_MYSQL_PASSWORD: "envpass",
    PINPIPE_ROWS: "40",
    PINPIPE_SEED: "7",
    PINPIPE_BATCH_ROWS: "5",
    PINPIPE_REPLACE: "1",
    PINPIPE_DRY_RUN: "yes",
    PINPIPE_JSON: "true",
  };
  const e = parseOptions([], env, { mysqlUrl: "mysql://cfg@cfg:3306/cfg" });
  assert.deepEqual(
    [e.target.display, e.target.password, e.dataset.rows, e.dataset.seed, e.batchRows],
    ["mysql://app@db.example:3307/src", "envpass", 40, 7, 5],
  );
  assert.deepEqual([e.replace, e.dryRun, e.json], [true, true, true]);
  assert.equal(parseOptions([], {}, { mysqlUrl: "mysql://cfg@cfg:3306/c" }).target.database, "c");
  const f = parseOptions(["--rows", "3", "--seed=0", "--mysql-url", "mysql://f@f/f"], env);
  assert.deepEqual([f.target.display, f.dataset.rows, f.dataset.seed], [
    "mysql://f@f/f",
    3,
    0,
  ]);
});

Deno.test("seed-db reports every bad option together, naming where each came from, without the password", () => {
  assert.throws(
    () =>
      parseOptions(["--rows", "-1", "--batch-rows", "0", "--seed", "x", "--replce"], {
        PINPIPE_MYSQL_URL: "postgres://u:hunter2@h/db",
      }),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^5 problems with the options:/);
      assert.match(err.message, /Unknown flag --replce: did you mean --replace\?/);
      assert.match(err.message, /Invalid --rows "-1": must be at least 0/);
      assert.match(err.message, /Invalid --batch-rows "0": must be at least 1/);
      assert.match(err.message, /Invalid --seed "x": expected a whole number/);
      assert.match(err.message, /Invalid PINPIPE_MYSQL_URL "postgres:\/\/u:\*\*\*@h\/db"/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    },
  );
});
