/**
 * The source database, shaped like the original RDS `pinterest_data` database: the three
 * tables' schema, loading a dataset into them in large batches, and reading postings back
 * by key (batched `IN (…)` / `BETWEEN` lookups on the primary key, never `LIMIT n,1`
 * scans), with DATETIME values returned exactly as stored.
 * @module
 */
import { createConnection, createPool } from "../deps/mysql2.ts";
import type { Connection, Pool, RowDataPacket } from "../deps/mysql2.ts";
import type { Dataset, GeoRow, PinRow, Posting, PostingSource, UserRow } from "./dataset.ts";
import { mysqlError, mysqlOptions, quoteId } from "./mysql_url.ts";
import type { MysqlTarget } from "./mysql_url.ts";
import { fmtInt, fmtRate, fmtSec, Progress, silentSink } from "../shell/progress.ts";

/** One source table: its name, key column and columns in source order with their types. */
export interface SourceTable {
  part: "pin" | "geo" | "user";
  name: string;
  key: string;
  columns: readonly [string, string][];
}

/** The three tables, with the RDS column names and types (SPEC §1). */
export const SOURCE_TABLES: readonly SourceTable[] = [
  {
    part: "pin",
    name: "pinterest_data",
    key: "index",
    columns: [
      ["index", "INT NOT NULL"],
      ["unique_id", "VARCHAR(36) NOT NULL"],
      ["title", "TEXT"],
      ["description", "TEXT"],
      ["poster_name", "TEXT"],
      ["follower_count", "TEXT"],
      ["tag_list", "TEXT"],
      ["is_image_or_video", "TEXT"],
      ["image_src", "TEXT"],
      ["downloaded", "INT"],
      ["save_location", "TEXT"],
      ["category", "TEXT"],
    ],
  },
  {
    part: "geo",
    name: "geolocation_data",
    key: "ind",
    columns: [
      ["ind", "INT NOT NULL"],
      ["timestamp", "DATETIME"],
      ["latitude", "DOUBLE"],
      ["longitude", "DOUBLE"],
      ["country", "TEXT"],
    ],
  },
  {
    part: "user",
    name: "user_data",
    key: "ind",
    columns: [
      ["ind", "INT NOT NULL"],
      ["first_name", "TEXT"],
      ["last_name", "TEXT"],
      ["age", "INT"],
      ["date_joined", "DATETIME"],
    ],
  },
];

/** `CREATE TABLE IF NOT EXISTS` for `t`, in utf8mb4 (emoji survive). */
export function createTableSql(t: SourceTable): string {
  const cols = t.columns.map(([c, type]) => `  ${quoteId(c)} ${type}`).join(",\n");
  return `CREATE TABLE IF NOT EXISTS ${quoteId(t.name)} (\n${cols},\n  PRIMARY KEY (${
    quoteId(t.key)
  })\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`;
}

/** Rows per INSERT statement by default. */
export const DEFAULT_BATCH_ROWS = 1000;

/** How `seedDatabase` runs. */
export interface SeedOptions {
  target: MysqlTarget;
  dataset: Dataset;
  /**
   * Drop and recreate the three tables. Otherwise three tables that hold rows are left as they
   * are (a second run of the walkthrough), and one or two that hold rows are refused.
   */
  replace?: boolean;
  /** Say what would be done, change nothing. */
  dryRun?: boolean;
  /** Rows per INSERT statement; default DEFAULT_BATCH_ROWS. */
  batchRows?: number;
}

/** What `seedDatabase` did. */
export interface SeedResult {
  database: string;
  url: string;
  tables: { name: string; rows: number }[];
  replaced: boolean;
  /** The three tables held rows already and were left as they were (`tables` has their rows). */
  kept: boolean;
  dryRun: boolean;
  elapsedSec: number;
  rowsPerSec: number;
  /** One line saying what was done (or, with dryRun, what would be). */
  summary: string;
}

/** Opens one connection to the server (no database selected), as a clear error if it fails. */
async function connectServer(t: MysqlTarget): Promise<Connection> {
  try {
    return await createConnection(mysqlOptions(t, { withDatabase: false }));
  } catch (err) {
    throw mysqlError(`connect to MySQL as "${t.user}"`, t, err);
  }
}

/** Whether `db` exists, and the rows each of the three tables holds there, for those that exist. */
async function existingRows(
  conn: Connection,
  db: string,
  step: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<{ dbExists: boolean; existing: Map<string, number> }> {
  const existing = new Map<string, number>();
  const [dbs] = await step(
    "list databases",
    () => conn.query<RowDataPacket[]>("SHOW DATABASES LIKE ?", [db]),
  );
  if (dbs.length === 0) return { dbExists: false, existing };
  for (const s of SOURCE_TABLES) {
    const [found] = await step(`look for table "${s.name}"`, () =>
      conn.query<RowDataPacket[]>(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [db, s.name],
      ));
    if (!found.length) continue;
    const [cnt] = await step(`count the rows of "${s.name}"`, () =>
      conn.query<RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM ${quoteId(db)}.${quoteId(s.name)}`,
      ));
    existing.set(s.name, Number(cnt[0].n));
  }
  return { dbExists: true, existing };
}

/** The summary of a run that found the three tables loaded and left them. */
function keptSummary(display: string, full: [string, number][], asked: number): string {
  const rows = full.map(([name, n]) => `${name} ${fmtInt(n)} rows`).join(", ");
  const other = full.some(([, n]) => n !== asked) ? `, not the ${fmtInt(asked)} asked for` : "";
  return `the tables in "${display}" are loaded already (${rows}${other}): left as they are; ` +
    `--replace drops and reloads them`;
}

/**
 * Creates the database and the three tables and loads `dataset` into them in one
 * transaction, so a failed or interrupted load leaves the tables empty. Three tables that
 * already hold rows are left as they are (said in the summary), unless `replace`; one or two
 * holding rows are refused.
 */
export async function seedDatabase(
  opts: SeedOptions,
  deps: { progress?: Progress; signal?: AbortSignal } = {},
): Promise<SeedResult> {
  const { target: t, dataset } = opts;
  const progress = deps.progress ?? new Progress("seed-db", { sink: silentSink });
  const db = t.database;
  if (!db) {
    throw new Error(`Cannot seed "${t.display}": the URL names no database (add /<database>)`);
  }
  const started = performance.now();
  const result: SeedResult = {
    database: db,
    url: t.display,
    tables: SOURCE_TABLES.map((s) => ({ name: s.name, rows: dataset.rows })),
    replaced: false,
    kept: false,
    dryRun: !!opts.dryRun,
    elapsedSec: 0,
    rowsPerSec: 0,
    summary: "",
  };
  const conn = await connectServer(t);
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw mysqlError(what, t, err);
    }
  };
  try {
    const { dbExists, existing } = await existingRows(conn, db, step);
    const full = [...existing].filter(([, n]) => n > 0);
    if (full.length === SOURCE_TABLES.length && !opts.replace) {
      result.kept = true;
      result.tables = full.map(([name, rows]) => ({ name, rows }));
      result.summary = keptSummary(t.display, full, dataset.rows);
      progress.done(result.summary);
      return result;
    }
    if (full.length && !opts.replace) {
      const list = full.map(([name, n]) => `"${name}" holds ${fmtInt(n)} rows`).join(", ");
      throw new Error(
        `Cannot load the dataset into "${t.display}": ${list}, but not all three tables hold ` +
          `rows (use --replace to drop and reload the three tables)`,
      );
    }
    result.replaced = !!opts.replace && existing.size > 0;
    if (opts.dryRun) {
      result.summary = `would ${dbExists ? "use" : "create"} database "${db}", ${
        result.replaced ? "drop and recreate" : "create"
      } ${SOURCE_TABLES.map((s) => s.name).join(", ")} and load ${
        fmtInt(dataset.rows)
      } rows (seed ${dataset.seed}) into each (dry run: nothing changed)`;
      progress.done(result.summary);
      return result;
    }
    await step(`create database "${db}"`, () =>
      conn.query(
        `CREATE DATABASE IF NOT EXISTS ${
          quoteId(db)
        } CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      ));
    await step(`use database "${db}"`, () => conn.query(`USE ${quoteId(db)}`));
    for (const s of SOURCE_TABLES) {
      if (opts.replace) {
        await step(
          `drop table "${s.name}"`,
          () => conn.query(`DROP TABLE IF EXISTS ${quoteId(s.name)}`),
        );
      }
      await step(`create table "${s.name}"`, () => conn.query(createTableSql(s)));
    }

    const total = dataset.rows * SOURCE_TABLES.length;
    let loaded = 0;
    const batchRows = Math.max(1, opts.batchRows ?? DEFAULT_BATCH_ROWS);
    const inserts = SOURCE_TABLES.map((s) =>
      `INSERT INTO ${quoteId(s.name)} (${s.columns.map(([c]) => quoteId(c)).join(", ")}) VALUES ?`
    );
    await step("start a transaction", () => conn.beginTransaction());
    try {
      // Keep one batch in flight while the next is generated: the server inserts while
      // the client builds rows.
      let pending: Promise<unknown> | undefined;
      for (let from = 0; from < dataset.rows; from += batchRows) {
        if (deps.signal?.aborted) throw new Error("interrupted");
        const to = Math.min(dataset.rows, from + batchRows);
        const values: unknown[][][] = [[], [], []];
        for (const p of dataset.postings(from, to)) {
          SOURCE_TABLES.forEach((s, i) => {
            const row = p[s.part] as unknown as Record<string, unknown>;
            values[i].push(s.columns.map(([c]) => row[c]));
          });
        }
        if (pending) await pending;
        pending = Promise.all(
          SOURCE_TABLES.map((s, i) =>
            step(
              `insert rows ${from}..${to - 1} into "${s.name}"`,
              () => conn.query(inserts[i], [values[i]]),
            )
          ),
        ).then(() => {
          loaded += (to - from) * SOURCE_TABLES.length;
          progress.update(`${fmtInt(loaded)}/${fmtInt(total)} rows`, {
            done: loaded,
            total,
            unit: "rows",
          });
        });
      }
      if (pending) await pending;
      await step("commit", () => conn.commit());
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    }
    result.elapsedSec = (performance.now() - started) / 1000;
    result.rowsPerSec = result.elapsedSec > 0 ? total / result.elapsedSec : 0;
    result.summary = `${result.replaced ? "replaced the tables and loaded" : "loaded"} ${
      fmtInt(dataset.rows)
    } rows (seed ${dataset.seed}) into each of ${
      SOURCE_TABLES.map((s) => s.name).join(", ")
    } in "${t.display}" (${fmtInt(total)} rows in ${fmtSec(result.elapsedSec)}, ${
      fmtRate(total, result.elapsedSec)
    })`;
    progress.done(result.summary);
    return result;
  } finally {
    await conn.end().catch(() => {});
  }
}

/** Reads postings from the three tables by key. */
export class MysqlSource implements PostingSource {
  readonly name: string;
  private constructor(
    private readonly pool: Pool,
    private readonly target: MysqlTarget,
    readonly rows: number,
  ) {
    this.name = target.display;
  }

  /** Connects a pool to `target` and finds the key range (max key + 1 of pinterest_data). */
  static async open(
    target: MysqlTarget,
    opts: { connections?: number } = {},
  ): Promise<MysqlSource> {
    if (!target.database) {
      throw new Error(
        `Cannot read postings from "${target.display}": the URL names no database (add /<database>)`,
      );
    }
    const pool = createPool(
      mysqlOptions(target, { connectionLimit: opts.connections ?? 6, waitForConnections: true }),
    );
    try {
      const conn = await pool.getConnection();
      conn.release();
    } catch (err) {
      await pool.end().catch(() => {});
      throw mysqlError(`connect to MySQL as "${target.user}"`, target, err);
    }
    try {
      const [r] = await pool.query<RowDataPacket[]>(
        `SELECT MAX(${quoteId("index")}) AS maxKey FROM ${quoteId("pinterest_data")}`,
      );
      const maxKey = r[0]?.maxKey;
      return new MysqlSource(
        pool,
        target,
        maxKey === null || maxKey === undefined ? 0 : Number(maxKey) + 1,
      );
    } catch (err) {
      await pool.end().catch(() => {});
      throw mysqlError('read table "pinterest_data"', target, err);
    }
  }

  /** The postings for `keys` (in that order); keys missing from any table are left out. */
  async read(keys: number[]): Promise<Posting[]> {
    if (keys.length === 0) return [];
    const unique = [...new Set(keys)].sort((a, b) => a - b);
    const contiguous = unique[unique.length - 1] - unique[0] + 1 === unique.length;
    const parts = await Promise.all(SOURCE_TABLES.map(async (s) => {
      const key = quoteId(s.key);
      const sql = contiguous
        ? `SELECT * FROM ${quoteId(s.name)} WHERE ${key} BETWEEN ? AND ?`
        : `SELECT * FROM ${quoteId(s.name)} WHERE ${key} IN (?)`;
      const params = contiguous ? [unique[0], unique[unique.length - 1]] : [unique];
      try {
        const [rows] = await this.pool.query<RowDataPacket[]>(sql, params);
        const byKey = new Map<number, RowDataPacket>();
        for (const row of rows) byKey.set(Number(row[s.key]), row);
        return byKey;
      } catch (err) {
        throw mysqlError(`read table "${s.name}"`, this.target, err);
      }
    }));
    const [pins, geos, users] = parts;
    const out: Posting[] = [];
    for (const key of keys) {
      const pin = pins.get(key);
      const geo = geos.get(key);
      const user = users.get(key);
      if (!pin || !geo || !user) continue;
      // mysql2 builds plain objects with the columns in table order.
      out.push({ key, pin: pin as PinRow, geo: geo as GeoRow, user: user as UserRow });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}
