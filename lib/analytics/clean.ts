/**
 * Cleaning the lake with DuckDB (SPEC §4 and §4.1). Each topic's objects are read in one
 * scan and split into lines; every line is classified once (too long, not JSON, not an
 * object, an array of objects read as one record per element, a field named twice, no
 * integer key) and parsed into a map of its fields as text, so `"7528"` and `7528` read the
 * same and unknown extra fields take part in the exact-duplicate comparison. A number is read
 * as written in the line, never re-printed by the parser (SPEC §4.1): a line holding a
 * fraction, an exponent or a minus sign outside its strings is first rewritten so that each
 * number becomes a tagged string of its own text (modeSql). Malformed lines
 * are set aside with their object key and line number, exact duplicates are dropped, and
 * the shared cleaning SQL (`sql/clean_<table>.sql`, which the Spark notebook runs too) makes
 * the tables `pin_clean`, `geo_clean` and `user_clean`, then the shared views (`pin_user`).
 *
 * Objects are read as bytes and decoded here, so one that is not valid UTF-8 does not fail
 * the scan: it is copied with its bad lines blanked (they are quarantined with their line
 * numbers) and read again. notebooks/transform.py applies every rule below the same way in
 * Spark; tests/engine/spark_notebook_test.ts compares the two cell for cell.
 * @module
 */
import { join } from "node:path";
import type { DuckDBConnection } from "../deps/duckdb.ts";
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

/**
 * Columns (besides the key) read as an integer, where a minus sign counts only in a JSON
 * number: `-5` is -5, `"-5"` is not a string of digits (SPEC §4.1). The raw table gives the
 * shared SQL a column `<name>_signed`, true when the value is a JSON number written with a
 * minus sign. Exact duplicates are found on the text alone (`-5` and `"-5"` are the same
 * value); the record kept is signed when any of its copies was.
 */
export const SIGNED_COLUMNS: Record<TableName, readonly string[]> = {
  pin: [],
  geo: [],
  user: ["age"],
};

/** The shared cleaning SQL per table (the Spark notebook runs the same files). */
export const CLEANING_SQL: Record<TableName, string> = {
  pin: "clean_pin.sql",
  geo: "clean_geo.sql",
  user: "clean_user.sql",
};

/** Views over the cleaned tables that the questions share, defined once for both engines. */
export const VIEW_SQL: Record<string, string> = { pin_user: "pin_user.sql" };

/**
 * DuckDB's definitions of the Spark built-ins the shared SQL calls that DuckDB lacks (Spark
 * needs no helper file: the shared SQL is plain Spark SQL).
 */
export const FUNCTIONS_SQL = "functions_duckdb.sql";

/** A line longer than this many bytes is quarantined unread (DuckDB's JSON object limit). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Quarantined text is cut to this many characters. */
export const QUARANTINE_TEXT_CHARS = 10_000;

/** Why a line (or an element of an array line) is not a record. Both engines say the same. */
export const REASONS = {
  utf8: "not valid UTF-8",
  tooLong: "longer than 16 MiB",
  json: "not valid JSON",
  notObject: "not a JSON object",
  badArray: "a JSON array holding something other than objects",
  twice: "a field appears twice",
  key: (key: string) => `no integer "${key}"`,
} as const;

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
  geo: ["country", "timestamp"],
  user: ["age", "date_joined"],
};

/** One object of a topic: where DuckDB reads it and its key in the lake. */
export interface LakeFile {
  path: string;
  key: string;
  /** Its size in bytes, where known: objects are read in batches of about READ_BATCH_BYTES. */
  size?: number;
}

/**
 * Objects are read in batches of about this many bytes (or READ_BATCH_OBJECTS objects), one
 * statement each, so progress can be told between them; a batch is large enough that DuckDB
 * still reads its objects in parallel.
 */
export const READ_BATCH_BYTES = 64 * 1024 * 1024;
/** At most this many objects per read batch (a lake at flush size 1 has tiny objects). */
export const READ_BATCH_OBJECTS = 4096;

/** A line (or an element of an array line) that is not a record: kept out and reported. */
export interface QuarantinedLine {
  table: TableName;
  /** The object's key in the lake. */
  key: string;
  /** 1-based line number within the object. */
  line: number;
  /** For a line holding a JSON array: the 1-based element that is not a record. */
  element?: number;
  reason: string;
  /** The line (or the element), cut to QUARANTINE_TEXT_CHARS characters. */
  text: string;
}

/** What cleaning one table found. */
export interface TableStats {
  objects: number;
  /** Non-blank lines read. */
  lines: number;
  /** Records found: one per object line, one per element of an array line. */
  records: number;
  /** Lines (or array elements) set aside. */
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
  /** Told after each batch of objects is read: the objects and the non-blank lines they held. */
  onRead?: (table: TableName, objects: LakeFile[], lines: number) => void;
  /** Objects per read batch at most (default READ_BATCH_OBJECTS; tests read in small ones). */
  batchObjects?: number;
  /** A scratch folder for sanitised copies of objects that are not valid UTF-8. */
  workDir?: string;
}

/** SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The number in a one-row, one-column result. */
async function scalar(conn: DuckDBConnection, sql: string): Promise<number> {
  const r = await conn.runAndReadAll(sql);
  return Number(r.getRows()[0][0]);
}

/**
 * Loads the objects of each table into DuckDB, quarantines malformed lines, drops exact
 * duplicates, cleans with the shared SQL and writes `<outDir>/<table>.parquet`; then
 * `pin_clean`, `geo_clean` and `user_clean` are views over those files, and the shared
 * views (VIEW_SQL) are defined over them.
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
    const loaded = await loadRecords(conn, table, files[table], opts.workDir ?? outDir, opts);
    quarantine.push(...loaded.quarantine);
    opts.signal?.throwIfAborted();
    opts.onStep?.(`cleaning ${table}`);
    const kept = await defineRaw(conn, table);
    const parquet = join(outDir, `${table}.parquet`);
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
      quarantined: loaded.quarantine.length,
      duplicates: loaded.records - kept,
      rows: await scalar(conn, `SELECT count(*) FROM ${table}_clean`),
      nulled,
    };
  }
  for (const [view, file] of Object.entries(VIEW_SQL)) {
    await conn.run(`CREATE OR REPLACE TEMP VIEW ${view} AS ${await readSql(file)}`);
  }
  return { tables, quarantine };
}

/**
 * DuckDB's JSON reader is more lenient than JSON (and than Spark with the options the
 * notebook sets): it takes NaN, Infinity and trailing commas. This is true when `line`
 * holds one of them outside its strings (looked for outside strings only on the few lines
 * where the quick search finds one).
 */
function lenientSql(line: string): string {
  const found = `'(^|[:,\\[])[ \\t\\r]*-?([Nn][Aa][Nn]|[Ii][Nn][Ff])|,[ \\t\\r]*[\\]}]'`;
  return `(regexp_matches(${line}, ${found}) AND regexp_matches(` +
    `regexp_replace(${line}, '"(?:[^"\\\\]|\\\\.)*"', '', 'g'), ${found}))`;
}

/**
 * SQL that is true when `text` is an integer key: a JSON integer or a string of digits,
 * within INT (SPEC §4.1); `signed` is true when it is a JSON number with a minus sign, the
 * only form in which a minus counts (`-5` is a key, `"-5"` and `"+7"` are not).
 */
function isKeySql(text: string, signed: string): string {
  return `coalesce((regexp_full_match(${text}, '[0-9]+') ` +
    `OR (${signed} AND regexp_full_match(${text}, '-[0-9]+'))) ` +
    `AND TRY_CAST(${text} AS INTEGER) IS NOT NULL, false)`;
}

/**
 * SQL that is true when the JSON text `text` may hold, outside its strings, a number the
 * parser would re-print (a fraction or an exponent: `10000000.0`, `1.5e3`) or one whose
 * sign matters (a minus). A quick search that may also find such text inside a string;
 * a line it misses holds only unsigned integers, which the parser gives as written.
 */
function needsRewriteSql(text: string): string {
  return `regexp_matches(${text}, '[:,\\[][ \\t\\r\\n]*(-|[0-9]+[.eE])')`;
}

/**
 * A JSON number (RFC 8259), in the regular expressions of both engines. Only a valid number
 * is rewritten, so `1.5.5`, `007` or `1.` stay invalid.
 */
export const JSON_NUMBER = "-?(?:0|[1-9][0-9]*)(?:[.][0-9]+)?(?:[eE][+-]?[0-9]+)?";

/**
 * How a line's numbers are read as written (SPEC §4.1: never re-printed by the parser), its
 * `mode`: 0, it holds no number that needs it (needsRewriteSql) and is read as it is; 1, each
 * number `N` that is a member's value (after a `:`, before a `,` or `}`) is rewritten as the
 * string `"~N"` (rewriteNumbersSql), where the line has no string starting with `~` (so a
 * value starting with `~` was a number) and no number after a `[` or `,` (in an array); 2,
 * the rest, every value is tagged (rewriteAllSql): a number `N` becomes `"~N"` and every
 * string (names too) gets a `~` at its end, so no string can pass for a number. A mode-1
 * rewrite that touched a string's text (`"a: 5, b"`) leaves `~` outside any string, so the
 * line does not parse and is read again in mode 2. Mode 1 costs one simple pass; the lake's
 * geo lines (decimal coordinates, times inside strings) are read in it.
 */
function modeSql(text: string): string {
  return `CASE WHEN NOT ${needsRewriteSql(text)} THEN 0 ` +
    `WHEN contains(${text}, '"~') OR regexp_matches(${text}, '"\\\\u007[eE]') ` +
    `OR regexp_matches(${text}, '[\\[,][ \\t\\r\\n]*-?[0-9]') THEN 2 ELSE 1 END`;
}

/** Mode 1 of modeSql: each number that is a member's value becomes the string `"~N"`. */
function rewriteNumbersSql(text: string): string {
  return `regexp_replace(${text}, '(:[ \\t\\r\\n]*)(${JSON_NUMBER})([ \\t\\r\\n]*[,}])', ` +
    `'\\1"~\\2"\\3', 'g')`;
}

/** Mode 2 of modeSql: strings (names too) end in `~`; each number becomes `"~N"`. */
function rewriteAllSql(text: string): string {
  return `regexp_replace(${text}, '"((?:[^"\\\\]|\\\\.)*)"|(${JSON_NUMBER})', '"\\1~\\2"', 'g')`;
}

/** The text `text` of a JSON map (MAP(VARCHAR, VARCHAR)) of a line rewritten for `mode`. */
function rewrittenMapSql(text: string, mode: string): string {
  return toMapSql(
    `CASE ${mode} WHEN 0 THEN ${text} WHEN 1 THEN ${rewriteNumbersSql(text)} ` +
      `ELSE ${rewriteAllSql(text)} END`,
  );
}

/** A JSON text's fields as a text map, or NULL when it is no object (or names a field twice). */
function toMapSql(text: string): string {
  return `try(json_transform(${text}, '"MAP(VARCHAR, VARCHAR)"'))`;
}

/** JSON text written from the tagged values of `mode` (a nested value, an element) untagged. */
function untagJsonSql(text: string, mode: 1 | 2): string {
  const numbers = `regexp_replace(${text}, '"~(-?[0-9][0-9.eE+-]*)"', '\\1', 'g')`;
  return mode === 1 ? numbers : `regexp_replace(${numbers}, '~"', '"', 'g')`;
}

/** A value of a map read in `mode` as text: a string's text, a number as written, JSON. */
function untagSql(v: string, mode: string): string {
  const nested = (m: 1 | 2) => `WHEN left(${v}, 1) IN ('[', '{') THEN ${untagJsonSql(v, m)}`;
  return `CASE ${mode} WHEN 0 THEN ${v} WHEN 1 THEN CASE ` +
    `WHEN starts_with(${v}, '~') THEN substr(${v}, 2) ${nested(1)} ELSE ${v} END ELSE CASE ` +
    `WHEN ends_with(${v}, '~') THEN left(${v}, length(${v}) - 1) ` +
    `WHEN starts_with(${v}, '~') THEN substr(${v}, 2) ${nested(2)} ELSE ${v} END END`;
}

/** The field `name` of the map `m` read in `mode` as it is in the map (still tagged). */
function rawFieldSql(name: string): string {
  return `(CASE WHEN mode = 2 THEN m['${name}~'] ELSE m['${name}'] END)`;
}

/**
 * True when `raw`, a field as rawFieldSql gives it, is a JSON number written with a minus
 * sign (SIGNED_COLUMNS). `raw` should be a column: it is read more than once.
 */
function signedSql(raw: string): string {
  return `coalesce(mode > 0 AND starts_with(${raw}, '~-') ` +
    `AND NOT (mode = 2 AND ends_with(${raw}, '~')), false)`;
}

/**
 * The relation `t` of (…, mode, m) with the key as text (`key_text`), `key_signed` and the
 * `<column>_signed` flags of SIGNED_COLUMNS; each field looked up once.
 */
function keyedSql(table: TableName, t: string): string {
  const key = KEY_COLUMN[table];
  const signed = SIGNED_COLUMNS[table];
  return `
    SELECT * EXCLUDE (key_raw${signed.map((c) => `, "${c}_raw"`).join("")}),
      ${untagSql("key_raw", "mode")} AS key_text,
      ${signedSql("key_raw")} AS key_signed${
    signed.map((c) => `,\n      ${signedSql(`"${c}_raw"`)} AS "${c}_signed"`).join("")
  }
    FROM (
      SELECT *, ${rawFieldSql(key)} AS key_raw${
    signed.map((c) => `, ${rawFieldSql(c)} AS "${c}_raw"`).join("")
  }
      FROM ${t}
    )`;
}

/** A line holding an array of objects, before its elements are read (never kept). */
const ARRAY_MARK = "(array)";

/**
 * The columns of `<table>_parsed` from a relation `j` of items (file, line_no, elem, item:
 * the JSON text, m: its fields as a text map read in `mode` (modeSql), `<column>_signed` for
 * SIGNED_COLUMNS, reason0: why it is no record, or ARRAY_MARK):
 * is_array, reason, text (the quarantined text, or the whole array line), h (the hash of
 * a record's fields), the known fields as text and `extras`, the unknown non-null fields
 * sorted (NULL when there are none, as for nearly every record).
 */
function parsedColumnsSql(table: TableName, j: string): string {
  const cols = SOURCE_COLUMNS[table];
  const known = `[${cols.map(sqlString).join(", ")}]`;
  const quoted = cols.map((c) => `"${c}"`).join(", ");
  // A record can have unknown fields only if it has more fields than known ones with a
  // value (cheap to count); only then are its fields sorted and filtered.
  const present = cols.map((c) => `("${c}" IS NOT NULL)::INTEGER`).join(" + ");
  const signed = SIGNED_COLUMNS[table].map((c) => `"${c}_signed"`);
  const withSigned = (f: (c: string) => string) => signed.map((c) => `, ${f(c)}`).join("");
  // The extras' names and values untagged as the mode of their line says (see modeSql).
  const entries = `list_transform(map_entries(m), lambda e: {'key': ` +
    `CASE WHEN mode = 2 THEN left(e.key, length(e.key) - 1) ELSE e.key END, ` +
    `'value': ${untagSql("e.value", "mode")}})`;
  return `
    SELECT file, line_no, elem, is_array, reason,
      CASE WHEN is_array THEN item WHEN reason IS NOT NULL THEN left(item, ${QUARANTINE_TEXT_CHARS})
        END AS text,
      CASE WHEN reason IS NULL AND NOT is_array THEN hash(${quoted}, extras) END AS h,
      ${quoted},
      extras${withSigned((c) => c)}
    FROM (
      SELECT *,
        CASE WHEN rec AND cardinality(m) > ${present} THEN nullif(list_sort(list_filter(
          ${entries}, lambda e: e.value IS NOT NULL AND NOT list_contains(${known}, e.key)
        )), []) END AS extras
      FROM (
        SELECT file, line_no, elem, is_array, reason, item, m, mode, rec,
          ${cols.map((c) => `${untagSql(`"${c}"`, "mode")} AS "${c}"`).join(",\n          ")}
          ${withSigned((c) => `CASE WHEN rec THEN ${c} END AS ${c}`)}
        FROM (
          SELECT *,
            ${
    cols.map((c) => `CASE WHEN rec THEN ${rawFieldSql(c)} END AS "${c}"`).join(",\n            ")
  }
          FROM (
            SELECT file, line_no, elem, item, m, mode${withSigned((c) => c)},
              coalesce(reason0 = ${sqlString(ARRAY_MARK)}, false) AS is_array,
              nullif(reason0, ${sqlString(ARRAY_MARK)}) AS reason,
              reason0 IS NULL AS rec
            FROM ${j}
          )
        )
      )
    )`;
}

/** A line standing for an object that is not valid UTF-8, read again by sanitiseUtf8. */
const UTF8_MARK = "(not utf-8)";

/**
 * Copies `files` (objects that are not valid UTF-8 as a whole) into `workDir` with each bad
 * line blanked (its line number stays); returns the copies and the bad lines quarantined.
 */
async function sanitiseUtf8(
  table: TableName,
  files: LakeFile[],
  workDir: string,
): Promise<{ files: LakeFile[]; quarantine: QuarantinedLine[] }> {
  const quarantine: QuarantinedLine[] = [];
  const dir = join(workDir, `utf8-${table}`);
  await Deno.mkdir(dir, { recursive: true });
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
  const out: LakeFile[] = [];
  for (const [i, f] of files.entries()) {
    const bytes = await Deno.readFile(f.path);
    const body = new Uint8Array(bytes.length);
    let at = 0;
    let start = 0;
    for (let n = 1; start <= bytes.length; n++) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      const line = bytes.subarray(start, end);
      try {
        strict.decode(line);
        body.set(line, at);
        at += line.length;
      } catch {
        quarantine.push({
          table,
          key: f.key,
          line: n,
          reason: REASONS.utf8,
          text: lossy.decode(line).slice(0, QUARANTINE_TEXT_CHARS),
        });
      }
      if (end < bytes.length) body[at++] = 0x0a;
      start = end + 1;
    }
    const copy = join(dir, `${i}.json`);
    await Deno.writeFile(copy, body.subarray(0, at));
    out.push({ path: copy, key: f.key });
  }
  return { files: out, quarantine };
}

/**
 * The statement that reads `files` into `<table>_parsed` (creating it, or inserting into
 * it): one row per non-blank line, a record's fields as text or the reason it is none; an
 * object that is not valid UTF-8 as a whole gives one row marked UTF8_MARK instead.
 */
function parseSql(table: TableName, files: LakeFile[], insert: boolean): string {
  const key = KEY_COLUMN[table];
  // read_blob takes a list of paths; an empty list is an error, so no objects, no scan.
  // Decoding here (not read_text) keeps one bad object from failing the whole read.
  const source = files.length === 0
    ? `(SELECT NULL::VARCHAR AS filename, NULL::VARCHAR AS content WHERE false)`
    : `(SELECT filename, try(decode(content)) AS content FROM read_blob([${
      files.map((f) => sqlString(f.path)).join(", ")
    }]))`;
  const keyOk = isKeySql("key_text", "key_signed");
  const first = `regexp_extract(item, '^[ \\t\\r]*(.)', 1)`;
  const allObjects = `list_bool_and(list_transform(json_type(item, '$[*]'), ` +
    `lambda t: t = 'OBJECT')) IS NOT false`;
  return `
    ${insert ? `INSERT INTO ${table}_parsed` : `CREATE OR REPLACE TEMP TABLE ${table}_parsed AS`}
    WITH split_lines AS (
      SELECT filename AS file, unnest(list) AS item, generate_subscripts(list, 1) AS line_no
      FROM (
        SELECT filename,
          coalesce(string_split(content, chr(10)), [${sqlString(UTF8_MARK)}]) AS list
        FROM ${source}
      )
    ),
    lines AS (
      SELECT file, line_no, item FROM (
        SELECT file, line_no,
          CASE WHEN line_no = 1 AND starts_with(item, chr(65279)) THEN substr(item, 2)
            ELSE item END AS item
        FROM split_lines
      )
      WHERE NOT regexp_full_match(item, '[ \\t\\r]*')
    ),
    moded AS (
      SELECT file, line_no, NULL::BIGINT AS elem, item,
        CASE WHEN strlen(item) <= ${MAX_LINE_BYTES} THEN ${modeSql("item")} ELSE 0 END AS mode0
      FROM lines
    ),
    mapped0 AS (
      SELECT *,
        CASE WHEN strlen(item) <= ${MAX_LINE_BYTES} THEN ${
    rewrittenMapSql("item", "mode0")
  } END AS m0
      FROM moded
    ),
    -- A mode-1 line that does not parse is read again in mode 2 (see modeSql).
    remapped AS (
      SELECT file, line_no, elem, item,
        CASE WHEN mode0 = 1 AND m0 IS NULL THEN 2 ELSE mode0 END AS mode,
        CASE WHEN mode0 = 1 AND m0 IS NULL THEN ${toMapSql(rewriteAllSql("item"))} ELSE m0 END AS m
      FROM mapped0
    ),
    mapped AS (${keyedSql(table, "remapped")}),
    judged AS (
      SELECT *,
        CASE
          WHEN strlen(item) > ${MAX_LINE_BYTES} THEN ${sqlString(REASONS.tooLong)}
          WHEN m IS NULL THEN CASE
            WHEN item = ${sqlString(UTF8_MARK)} THEN ${sqlString(UTF8_MARK)}
            WHEN NOT json_valid(item) OR ${lenientSql("item")} THEN ${sqlString(REASONS.json)}
            WHEN ${first} = '{' THEN ${sqlString(REASONS.twice)}
            WHEN ${first} = '[' AND ${allObjects} THEN ${sqlString(ARRAY_MARK)}
            WHEN ${first} = '[' THEN ${sqlString(REASONS.badArray)}
            ELSE ${sqlString(REASONS.notObject)}
          END
          WHEN ${lenientSql("item")} THEN ${sqlString(REASONS.json)}
          WHEN NOT ${keyOk} THEN ${sqlString(REASONS.key(key))}
        END AS reason0
      FROM mapped
    )
    ${parsedColumnsSql(table, "judged")}`;
}

/**
 * Reads the objects of `table` into `<table>_parsed`: one row per record with its known
 * fields as text, the unknown ones in `extras` and a hash of all of them in `h`; and one
 * row per line or array element that is not a record, with its reason and text.
 *
 * Each object is read once. The common case costs one JSON parse per line: every line is
 * parsed into a map of its fields as text, and only a line that does not parse so (not
 * JSON, not an object, a field named twice, an array) is looked at again to say why. The
 * rare cases take a second step: the elements of array lines, and objects that are not
 * valid UTF-8 (copied with their bad lines blanked, then read like the others).
 */
async function loadRecords(
  conn: DuckDBConnection,
  table: TableName,
  files: LakeFile[],
  workDir: string,
  opts: CleanOptions = {},
): Promise<{ lines: number; records: number; quarantine: QuarantinedLine[] }> {
  const key = KEY_COLUMN[table];
  const keyOf = new Map(files.map((f) => [f.path, f.key]));
  await conn.run(parseSql(table, [], false));
  for (const batch of readBatches(files, opts.batchObjects ?? READ_BATCH_OBJECTS)) {
    opts.signal?.throwIfAborted();
    const read = await conn.run(parseSql(table, batch, true));
    opts.onRead?.(table, batch, Number(read.rowsChanged));
  }
  const badFiles = (await conn.runAndReadAll(
    `SELECT file FROM ${table}_parsed WHERE reason = ${sqlString(UTF8_MARK)} ORDER BY file`,
  )).getRows().map((r) => String(r[0]));
  let sanitised: { files: LakeFile[]; quarantine: QuarantinedLine[] } = {
    files: [],
    quarantine: [],
  };
  if (badFiles.length > 0) {
    await conn.run(`DELETE FROM ${table}_parsed WHERE reason = ${sqlString(UTF8_MARK)}`);
    sanitised = await sanitiseUtf8(
      table,
      badFiles.map((path) => ({ path, key: keyOf.get(path) ?? path })),
      workDir,
    );
    for (const f of sanitised.files) keyOf.set(f.path, f.key);
    await conn.run(parseSql(table, sanitised.files, true));
  }
  // Every line has one row so far; the elements of array lines come next.
  const lines = await scalar(conn, `SELECT count(*) FROM ${table}_parsed`);
  if (await scalar(conn, `SELECT count(*) FROM ${table}_parsed WHERE is_array`) > 0) {
    // The elements of a line that needs it are read from the line rewritten in mode 2
    // (modeSql), and their quarantined text untagged.
    await conn.run(`
      INSERT INTO ${table}_parsed
      WITH items AS (
        SELECT file, line_no, mode, unnest(list) AS titem, generate_subscripts(list, 1) AS elem
        FROM (
          SELECT file, line_no, mode,
            json_extract(CASE WHEN mode = 2 THEN ${rewriteAllSql("text")} ELSE text END, '$[*]')
              ::VARCHAR[] AS list
          FROM (
            SELECT file, line_no, text, CASE WHEN ${
      needsRewriteSql("text")
    } THEN 2 ELSE 0 END AS mode
            FROM ${table}_parsed WHERE is_array
          )
        )
      ),
      mapped AS (${
      keyedSql(
        table,
        `(SELECT file, line_no, elem, mode, ${toMapSql("titem")} AS m,
            CASE WHEN mode = 2 THEN ${untagJsonSql("titem", 2)} ELSE titem END AS item
          FROM items)`,
      )
    }),
      judged AS (
        SELECT *,
          CASE WHEN m IS NULL THEN ${sqlString(REASONS.twice)}
            WHEN NOT ${isKeySql("key_text", "key_signed")}
              THEN ${sqlString(REASONS.key(key))} END AS reason0
        FROM mapped
      )
      ${parsedColumnsSql(table, "judged")}`);
    await conn.run(`DELETE FROM ${table}_parsed WHERE is_array`);
  }
  const records = await scalar(conn, `SELECT count(h) FROM ${table}_parsed`);
  const bad = (await conn.runAndReadAll(
    `SELECT file, line_no, elem, reason, text FROM ${table}_parsed WHERE reason IS NOT NULL`,
  )).getRows();
  const quarantine: QuarantinedLine[] = [
    ...sanitised.quarantine,
    ...bad.map(([file, line, elem, reason, text]) => ({
      table,
      key: keyOf.get(String(file)) ?? String(file),
      line: Number(line),
      ...(elem === null ? {} : { element: Number(elem) }),
      reason: String(reason),
      text: String(text),
    })),
  ].sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.line - b.line || (a.element ?? 0) - (b.element ?? 0)
  );
  // Lines blanked as not UTF-8 were lines too.
  return { lines: lines + sanitised.quarantine.length, records, quarantine };
}

/** `files` in batches of about READ_BATCH_BYTES bytes or `maxObjects` objects. */
function* readBatches(files: LakeFile[], maxObjects: number): Generator<LakeFile[]> {
  let batch: LakeFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (
      batch.length > 0 && (bytes + (f.size ?? 0) > READ_BATCH_BYTES ||
        batch.length >= maxObjects)
    ) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(f);
    bytes += f.size ?? 0;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Defines the view `<table>_raw`: the records of `<table>_parsed` without exact duplicates,
 * every column as text and the `<column>_signed` flags of SIGNED_COLUMNS (the input of the
 * shared cleaning SQL). Returns its row count.
 * Rows whose hash is unique are unique; only rows sharing a hash go through the exact
 * DISTINCT, so a lake without replays pays almost nothing for it.
 */
async function defineRaw(conn: DuckDBConnection, table: TableName): Promise<number> {
  const cols = SOURCE_COLUMNS[table].map((c) => `"${c}"`).join(", ");
  const signed = SIGNED_COLUMNS[table].map((c) => `"${c}_signed"`);
  const all = [cols, ...signed].join(", ");
  await conn.run(`
    CREATE OR REPLACE TEMP TABLE ${table}_shared AS
    SELECT h FROM ${table}_parsed WHERE h IS NOT NULL GROUP BY h HAVING count(*) > 1`);
  const shared = await scalar(conn, `SELECT count(*) FROM ${table}_shared`);
  // Copies equal as text are one record; it is signed when any copy was (SIGNED_COLUMNS).
  await conn.run(
    shared === 0
      ? `CREATE OR REPLACE TEMP VIEW ${table}_raw AS
         SELECT ${all} FROM ${table}_parsed WHERE h IS NOT NULL`
      : `CREATE OR REPLACE TEMP VIEW ${table}_raw AS
         SELECT ${all} FROM ${table}_parsed AS p
         WHERE p.h IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${table}_shared AS s WHERE s.h = p.h)
         UNION ALL
         SELECT ${all} FROM (
           SELECT ${[cols, ...signed.map((c) => `bool_or(${c}) AS ${c}`)].join(", ")}
           FROM ${table}_parsed AS p
           WHERE EXISTS (SELECT 1 FROM ${table}_shared AS s WHERE s.h = p.h)
           GROUP BY ${cols}, extras
         )`,
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
