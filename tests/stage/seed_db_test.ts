/**
 * seed-db and the MySQL source against the real MariaDB: the tables and their types, an
 * exact round trip of the dataset (utf8mb4 text, DATETIME strings, doubles), refusing
 * non-empty tables, --replace, --dry-run, and one-line errors for bad URLs and passwords.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createConnection } from "../../lib/deps/mysql2.ts";
import type { RowDataPacket } from "../../lib/deps/mysql2.ts";
import { createDataset } from "../../lib/source/dataset.ts";
import { datasetSource, emulate } from "../../lib/ingest/emulator.ts";
import { MysqlSource, seedDatabase, SOURCE_TABLES } from "../../lib/source/mysql_source.ts";
import { parseMysqlUrl } from "../../lib/source/mysql_url.ts";
import { NdjsonTarget } from "../../lib/ingest/ndjson_target.ts";
import { envTest, run, withMysqlDatabase, withTempDir } from "../_fixtures.ts";

const seedDb = (args: string[], env: Record<string, string> = {}) =>
  run("deno", ["run", "-A", "tasks/seed_db.ts", ...args], { env });

async function query(url: string, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const conn = await createConnection({ uri: url, dateStrings: true });
  try {
    const [rows] = await conn.query<RowDataPacket[]>(sql, params);
    return rows;
  } finally {
    await conn.end();
  }
}

await envTest(
  "seed-db creates the RDS tables and loads the dataset exactly",
  ["mysql"],
  async () => {
    await withMysqlDatabase(async (url, db) => {
      const r = await seedDb(["--mysql-url", url, "--rows", "400", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout);
      assert.deepEqual(result.tables.map((t: { rows: number }) => t.rows), [400, 400, 400]);

      const cols = await query(
        url,
        `SELECT table_name AS t, column_name AS c, data_type AS d, column_key AS k
         FROM information_schema.columns WHERE table_schema = ?
         ORDER BY table_name, ordinal_position`,
        [db],
      );
      for (const s of SOURCE_TABLES) {
        const mine = cols.filter((c) => c.t === s.name);
        assert.deepEqual(mine.map((c) => c.c), s.columns.map(([c]) => c));
        assert.equal(mine.find((c) => c.k === "PRI")?.c, s.key);
      }
      const type = (t: string, c: string) => cols.find((x) => x.t === t && x.c === c)?.d;
      assert.equal(type("pinterest_data", "index"), "int");
      assert.equal(type("pinterest_data", "unique_id"), "varchar");
      assert.equal(type("pinterest_data", "follower_count"), "text");
      assert.equal(type("pinterest_data", "downloaded"), "int");
      assert.equal(type("geolocation_data", "timestamp"), "datetime");
      assert.equal(type("geolocation_data", "latitude"), "double");
      assert.equal(type("user_data", "age"), "int");
      assert.equal(type("user_data", "date_joined"), "datetime");
      const charset = await query(
        url,
        "SELECT table_collation AS c FROM information_schema.tables WHERE table_schema = ?",
        [db],
      );
      for (const t of charset) assert.match(t.c, /^utf8mb4/);

      // Every posting reads back byte for byte: emoji, Greek, Russian, "…\u00a0", datetimes.
      const ds = createDataset({ rows: 400 });
      const src = await MysqlSource.open(parseMysqlUrl(url));
      try {
        assert.equal(src.rows, 400);
        const keys = Array.from({ length: 400 }, (_, i) => i);
        const got = await src.read(keys);
        assert.equal(got.length, 400);
        for (const p of got) assert.equal(JSON.stringify(p), JSON.stringify(ds.posting(p.key)));
      } finally {
        await src.close();
      }
    });
  },
);

await envTest("seed-db run again says the tables are loaded and leaves them, unless --replace", [
  "mysql",
], async () => {
  await withMysqlDatabase(async (url) => {
    assert.equal((await seedDb(["--mysql-url", url, "--rows", "50"])).code, 0);
    await query(url, "UPDATE user_data SET first_name = 'Kept' WHERE ind = 3");
    const again = await seedDb(["--mysql-url", url, "--rows", "50"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /^the tables in ".*" are loaded already \(pinterest_data 50 rows, geolocation_data 50 rows, user_data 50 rows\): left as they are; --replace drops and reloads them\n$/,
    );
    const [kept] = await query(url, "SELECT first_name FROM user_data WHERE ind = 3");
    assert.equal(kept.first_name, "Kept", "the tables were left as they were");
    const other = await seedDb(["--mysql-url", url, "--rows", "60", "--json"]);
    assert.equal(other.code, 0, other.stderr);
    const result = JSON.parse(other.stdout);
    assert.equal(result.kept, true);
    assert.match(result.summary, /user_data 50 rows, not the 60 asked for\): left as they are/);
    const replaced = await seedDb(["--mysql-url", url, "--rows", "80", "--seed", "5", "--replace"]);
    assert.equal(replaced.code, 0, replaced.stderr);
    // The summary is the result: once, on stdout, not repeated on stderr.
    assert.match(
      replaced.stdout,
      /^replaced the tables and loaded 80 rows \(seed 5\) into each of /,
    );
    assert.equal(replaced.stdout.trim().split("\n").length, 1, replaced.stdout);
    assert.doesNotMatch(replaced.stderr, /loaded 80 rows/);
    for (const s of SOURCE_TABLES) {
      const [{ n }] = await query(url, `SELECT COUNT(*) AS n FROM \`${s.name}\``);
      assert.equal(Number(n), 80);
    }
    const [row] = await query(url, "SELECT * FROM user_data WHERE ind = 7");
    assert.deepEqual({ ...row }, createDataset({ rows: 80, seed: 5 }).posting(7).user);
  });
});

await envTest(
  "seed-db refuses a database where only some of the tables hold rows",
  ["mysql"],
  async () => {
    await withMysqlDatabase(async (url) => {
      assert.equal((await seedDb(["--mysql-url", url, "--rows", "20"])).code, 0);
      await query(url, "DELETE FROM geolocation_data");
      const r = await seedDb(["--mysql-url", url, "--rows", "20"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /"pinterest_data" holds 20 rows, "user_data" holds 20 rows, but not all/,
      );
      assert.match(r.stderr, /--replace/);
    });
  },
);

await envTest("seed-db --dry-run changes nothing", ["mysql"], async () => {
  await withMysqlDatabase(async (url, db) => {
    const r = await seedDb(["--mysql-url", url, "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would use database .* \(dry run: nothing changed\)\n$/);
    assert.doesNotMatch(r.stderr, /dry run/);
    const tables = await query(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
      [db],
    );
    assert.equal(tables.length, 0);
  });
});

Deno.test("seed-db rejects a malformed MySQL URL in one line with exit 2", async () => {
  const r = await seedDb(["--mysql-url", "mysql//root:hunter2@localhost/db"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /^error: Invalid --mysql-url/);
  const r2 = await seedDb(["--mysql-url", "postgres://root:hunter2@localhost/db"]);
  assert.equal(r2.code, 2);
  assert.doesNotMatch(r.stderr + r2.stderr, /hunter2/);
});

await envTest(
  "a wrong password is one line without the password or a stack",
  ["mysql"],
  async () => {
    await withMysqlDatabase(async (url) => {
      const r = await seedDb(["--mysql-url", url], { PINPIPE_MYSQL_PASSWORD: "envsecret9" });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^error: Cannot connect to MySQL as "root" at .*Access denied/);
      assert.doesNotMatch(r.stderr + r.stdout, /envsecret9/);
    });
  },
);

Deno.test("a password inside --mysql-url is refused with exit 2, naming PINPIPE_MYSQL_PASSWORD", async () => {
  const r = await seedDb(["--mysql-url", "mysql://root:urlsecret9@127.0.0.1:1/x"]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^error: Invalid --mysql-url "mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\/x"/);
  assert.match(r.stderr, /PINPIPE_MYSQL_PASSWORD/);
  assert.doesNotMatch(r.stderr + r.stdout, /urlsecret9/);
});

await envTest(
  "the MySQL source reads postings by key, in any order, leaving out missing keys",
  ["mysql"],
  async () => {
    await withMysqlDatabase(async (url) => {
      const ds = createDataset({ rows: 300, seed: 9 });
      const target = parseMysqlUrl(url);
      await seedDatabase({ target, dataset: ds });
      const src = await MysqlSource.open(target);
      try {
        const got = await src.read([250, 3, 3, 299, 1000, 0]);
        assert.deepEqual(got.map((p) => p.key), [250, 3, 3, 299, 0]);
        for (const p of got) assert.equal(JSON.stringify(p), JSON.stringify(ds.posting(p.key)));
        const range = await src.read(Array.from({ length: 100 }, (_, i) => 100 + i));
        assert.deepEqual(range.map((p) => p.key), Array.from({ length: 100 }, (_, i) => 100 + i));
      } finally {
        await src.close();
      }
    });
  },
);

await envTest(
  "emulating from MySQL sends what emulating from the dataset sends",
  ["mysql"],
  async () => {
    await withMysqlDatabase(async (url) => {
      await withTempDir(async (dir) => {
        const ds = createDataset({ rows: 500 });
        const target = parseMysqlUrl(url);
        await seedDatabase({ target, dataset: ds });
        const opts = {
          prefix: "p",
          mode: "random" as const,
          seed: 100,
          count: 700,
          rate: 0,
          batch: 128,
          concurrency: 3,
        };
        const outputs: string[] = [];
        for (const which of ["mysql", "dataset"]) {
          const file = join(dir, `${which}.ndjson`);
          const out = await NdjsonTarget.open(file);
          const source = which === "mysql" ? await MysqlSource.open(target) : datasetSource(ds);
          const res = await emulate({ ...opts, concurrency: 1 }, { source, target: out });
          await out.close();
          await source.close?.();
          assert.equal(res.error, undefined);
          assert.equal(res.acknowledged, 2100);
          outputs.push(await Deno.readTextFile(file));
        }
        assert.equal(outputs[0], outputs[1]);
      });
    });
  },
);
