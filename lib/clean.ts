/**
 * Cleaning the lake with DuckDB (SPEC §4): reads every object of a topic in one scan
 * (`read_text` over the file list, split into lines, each parsed once with
 * `json_transform` into text columns, so a producer that wrote `"7528"` or `7528` reads the
 * same), sets malformed lines aside with their object and line number, drops exact
 * duplicates, then runs the shared cleaning SQL (`sql/clean_<table>.sql`, which the
 * Databricks notebook runs too) into the tables `pin_clean`, `geo_clean` and `user_clean`.
 * @module
 */
import type { DuckDBConnection } from "./deps/duckdb.ts";
import { readSql } from "./read_sql.ts";

/** The three tables of a posting. */
export type TableName = "pin" | "geo" | "user";

/** The tables in topic order. */
export const TABLES: readonly TableName[] = ["pin", "geo", "user"];

/** The source columns of each table, in source order (SPEC §1). */
export const SOURCE_COLUMNS: Record<TableName, readonly string[]> = {
  pin: [
    "index",
    "unique_id",
    "title",
    "description",
    "poster_name",
    "follower_count",
    "tag_list",
    "is_image_or_video",
    "image_src",
    "downloaded",
    "save_location",
    "category",
  ],
  geo: ["ind", "timestamp", "latitude", "longitude", "country"],
  user: ["ind", "first_name", "last_name", "age", "date_joined"],
};

/** The key column of each source table; a record without an integer key is malformed. */
export const KEY_COLUMN: Record<TableName, string> = { pin: "index", geo: "ind", user: "ind" };

/** The shared cleaning SQL per table (the Databricks notebook runs the same files). */
export const CLEANING_SQL: Record<TableName, string> = {
  pin: "clean_pin.sql",
  geo: "clean_geo.sql",
  user: "clean_user.sql",
};

/** DuckDB's definitions of the helpers the shared SQL calls (Spark's: functions_spark.sql). */
export const FUNCTIONS_SQL = "functions_duckdb.sql";

/** The cleaned columns and their DuckDB types, in SPEC order. */
export const CLEAN_SCHEMA: Record<TableName, readonly (readonly [string, string])[]> = {
  pin: [
    ["ind", "INTEGER"],
    ["unique_id", "VARCHAR"],
    ["title", "VARCHAR"],
    ["description", "VARCHAR"],
    ["follower_count", "INTEGER"],
    ["poster_name", "VARCHAR"],
    ["tag_list", "VARCHAR"],
    ["is_image_or_video", "VARCHAR"],
    ["image_src", "VARCHAR"],
    ["save_location", "VARCHAR"],
    ["category", "VARCHAR"],
  ],
  geo: [
    ["ind", "INTEGER"],
    ["country", "VARCHAR"],
    ["coordinates", "DOUBLE[]"],
    ["timestamp", "TIMESTAMP"],
  ],
  user: [
    ["ind", "INTEGER"],
    ["user_name", "VARCHAR"],
    ["age", "INTEGER"],
    ["date_joined", "TIMESTAMP"],
  ],
};

/**
 * Columns whose non-null values cleaning may turn into NULL (placeholders, empty strings,
 * values that do not parse), counted per column for the data-quality report.
 */
export const NULLABLE_COLUMNS: Record<TableName, readonly string[]> = {
  pin: [
    "unique_id",
    "title",
    "description",
    "follower_count",
    "poster_name",
    "tag_list",
    "is_image_or_video",
    "image_src",
    "save_location",
    "category",
  ],
  geo: ["timestamp"],
  user: ["age", "date_joined"],
};

/** One object of a topic: where DuckDB reads it and its key in the lake. */
export interface LakeFile {
  path: string;
  key: string;
}

/** A line that is not a record: kept out of the tables and reported. */
export interface QuarantinedLine {
  table: TableName;
  /** The object's key in the lake. */
  key: string;
  /** 1-based line number within the object. */
  line: number;
  reason: string;
  text: string;
}

/** What cleaning one table found. */
export interface TableStats {
  objects: number;
  /** Non-blank lines read. */
  lines: number;
  /** Lines that were records (lines minus quarantined). */
  records: number;
  quarantined: number;
  /** Exact duplicate records dropped. */
  duplicates: number;
  /** Rows in the cleaned table. */
  rows: number;
  /** Per column, the values cleaning turned into NULL. */
  nulled: Record<string, number>;
}

/** What `cleanLake` returns. */
export interface CleanResult {
  tables: Record<TableName, TableStats>;
  quarantine: QuarantinedLine[];
}

/** Options for `cleanLake`. */
export interface CleanOptions {
  signal?: AbortSignal;
  /** Told before each step, for progress. */
  onStep?: (step: string) => void;
}

/** SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * SQL that is true when `key` (text) is an integer key: digits only, within INTEGER. (A
 * TRY_CAST alone would round "1.5" to 2.) The notebook applies the same rule.
 */
function isRecordSql(key: string): string {
  return `coalesce(regexp_full_match(trim(${key}), '-?[0-9]{1,10}') ` +
    `AND TRY_CAST(${key} AS INTEGER) IS NOT NULL, false)`;
}

/** The number in a one-row, one-column result. */
async function scalar(conn: DuckDBConnection, sql: string): Promise<number> {
  const r = await conn.runAndReadAll(sql);
  return Number(r.getRows()[0][0]);
}

/**
 * Loads the objects of each table into DuckDB, quarantines malformed lines, drops exact
 * duplicates, cleans with the shared SQL and writes `<outDir>/<table>.parquet`; then
 * `pin_clean`, `geo_clean` and `user_clean` are views over those files.
 */
export async function cleanLake(
  conn: DuckDBConnection,
  files: Record<TableName, LakeFile[]>,
  outDir: string,
  opts: CleanOptions = {},
): Promise<CleanResult> {
  await conn.run(await readSql(FUNCTIONS_SQL));
  const tables = {} as Record<TableName, TableStats>;
  const quarantine: QuarantinedLine[] = [];
  for (const table of TABLES) {
    opts.signal?.throwIfAborted();
    opts.onStep?.(`reading ${table} (${files[table].length} objects)`);
    const loaded = await loadRecords(conn, table, files[table]);
    quarantine.push(...loaded.quarantine);
    opts.signal?.throwIfAborted();
    opts.onStep?.(`cleaning ${table}`);
    const kept = await defineRaw(conn, table);
    const parquet = `${outDir}/${table}.parquet`;
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW ${table}_clean AS ${await readSql(CLEANING_SQL[table])}`,
    );
    await conn.run(`COPY (SELECT * FROM ${table}_clean) TO ${sqlString(parquet)} (FORMAT parquet)`);
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW ${table}_clean AS SELECT * FROM read_parquet(${
        sqlString(parquet)
      })`,
    );
    const nulled = await countNulled(conn, table);
    await conn.run(`DROP VIEW ${table}_raw`);
    await conn.run(`DROP TABLE ${table}_parsed`);
    await conn.run(`DROP TABLE ${table}_shared`);
    tables[table] = {
      objects: files[table].length,
      lines: loaded.lines,
      records: loaded.records,
      quarantined: loaded.lines - loaded.records,
      duplicates: loaded.records - kept,
      rows: await scalar(conn, `SELECT count(*) FROM ${table}_clean`),
      nulled,
    };
  }
  return { tables, quarantine };
}

/**
 * Reads the objects of `table` into `<table>_parsed`: one row per non-blank line with the
 * record's fields as text and a hash of them; a line that is not a record (not JSON, not
 * an object, no integer key) has no hash and keeps its object's path.
 *
 * DuckDB's NDJSON reader does the fast work (one row per non-blank line, all NULL for a
 * line it cannot parse); only the few objects holding such lines are read again line by
 * line to report each one with its line number, reason and text.
 */
async function loadRecords(
  conn: DuckDBConnection,
  table: TableName,
  files: LakeFile[],
): Promise<{ lines: number; records: number; quarantine: QuarantinedLine[] }> {
  const cols = SOURCE_COLUMNS[table];
  const key = KEY_COLUMN[table];
  const quoted = cols.map((c) => `"${c}"`).join(", ");
  const columns = `{${cols.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(", ")}}`;
  const isRecord = isRecordSql(`"${key}"`);
  // read_json takes a list of paths; an empty list is an error, so no objects, no scan.
  const source = files.length === 0
    ? `(SELECT ${cols.map((c) => `NULL::VARCHAR AS "${c}"`).join(", ")}, ` +
      `NULL::VARCHAR AS filename WHERE false)`
    : `read_json([${files.map((f) => sqlString(f.path)).join(", ")}], ` +
      `format = 'newline_delimited', columns = ${columns}, filename = true, ` +
      `ignore_errors = true, auto_detect = false, records = true)`;
  await conn.run(`
    CREATE OR REPLACE TEMP TABLE ${table}_parsed AS
    SELECT
      CASE WHEN ${isRecord} THEN hash(${quoted}) END AS h,
      CASE WHEN NOT ${isRecord} THEN filename END AS bad_file,
      ${quoted}
    FROM ${source}`);
  const lines = await scalar(conn, `SELECT count(*) FROM ${table}_parsed`);
  const records = await scalar(conn, `SELECT count(h) FROM ${table}_parsed`);
  const badFiles = (await conn.runAndReadAll(
    `SELECT DISTINCT bad_file FROM ${table}_parsed WHERE h IS NULL ORDER BY bad_file`,
  )).getRows().map((r) => String(r[0]));
  if (badFiles.length === 0) return { lines, records, quarantine: [] };
  const struct = `{${cols.map((c) => `"${c}":"VARCHAR"`).join(",")}}`;
  const bad = await conn.runAndReadAll(`
    SELECT filename, line_no, line,
      CASE
        WHEN NOT json_valid(line) THEN 'not valid JSON'
        WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object'
        ELSE 'no integer "${key}"'
      END AS reason
    FROM (
      SELECT filename,
        unnest(string_split(content, chr(10))) AS line,
        generate_subscripts(string_split(content, chr(10)), 1) AS line_no
      FROM read_text([${badFiles.map(sqlString).join(", ")}])
    )
    WHERE trim(line, ' ' || chr(9) || chr(13)) <> ''
      AND NOT ${isRecordSql(`try(json_transform(line, ${sqlString(struct)}))."${key}"`)}
    ORDER BY filename, line_no`);
  const keyOf = new Map(files.map((f) => [f.path, f.key]));
  const quarantine = bad.getRows().map(([file, line, text, reason]) => ({
    table,
    key: keyOf.get(String(file)) ?? String(file),
    line: Number(line),
    reason: String(reason),
    text: String(text),
  }));
  return { lines, records, quarantine };
}

/**
 * Defines the view `<table>_raw`: the records of `<table>_parsed` without exact duplicates,
 * every column as text (the input of the shared cleaning SQL). Returns its row count.
 * Rows whose hash is unique are unique; only rows sharing a hash go through the exact
 * DISTINCT, so a lake without replays pays almost nothing for it.
 */
async function defineRaw(conn: DuckDBConnection, table: TableName): Promise<number> {
  const cols = SOURCE_COLUMNS[table].map((c) => `"${c}"`).join(", ");
  await conn.run(`
    CREATE OR REPLACE TEMP TABLE ${table}_shared AS
    SELECT h FROM ${table}_parsed WHERE h IS NOT NULL GROUP BY h HAVING count(*) > 1`);
  const shared = await scalar(conn, `SELECT count(*) FROM ${table}_shared`);
  await conn.run(
    shared === 0
      ? `CREATE OR REPLACE TEMP VIEW ${table}_raw AS
         SELECT ${cols} FROM ${table}_parsed WHERE h IS NOT NULL`
      : `CREATE OR REPLACE TEMP VIEW ${table}_raw AS
         SELECT ${cols} FROM ${table}_parsed AS p
         WHERE p.h IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${table}_shared AS s WHERE s.h = p.h)
         UNION ALL
         SELECT DISTINCT ${cols} FROM ${table}_parsed AS p
         WHERE EXISTS (SELECT 1 FROM ${table}_shared AS s WHERE s.h = p.h)`,
  );
  return await scalar(conn, `SELECT count(*) FROM ${table}_raw`);
}

/** Per column, values present before cleaning and absent after. */
async function countNulled(
  conn: DuckDBConnection,
  table: TableName,
): Promise<Record<string, number>> {
  const cols = NULLABLE_COLUMNS[table];
  const counts = (from: string) =>
    `SELECT ${cols.map((c) => `count("${c}")`).join(", ")} FROM ${from}`;
  const before = (await conn.runAndReadAll(counts(`${table}_raw`))).getRows()[0];
  const after = (await conn.runAndReadAll(counts(`${table}_clean`))).getRows()[0];
  return Object.fromEntries(cols.map((c, i) => [c, Number(before[i]) - Number(after[i])]));
}
