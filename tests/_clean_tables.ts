/**
 * Reading cleaned tables back for comparison: the Parquet files either engine wrote (DuckDB's
 * `<out>/<table>.parquet`, Spark's `<out>/<table>/part-*.parquet`), read with DuckDB into
 * plain rows with timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), in a canonical order.
 * @module
 */
import { DuckDBInstance } from "../lib/deps/duckdb.ts";
import type { RefRow } from "./_reference.ts";

export type TableName = "pin" | "geo" | "user";
export const TABLE_NAMES: TableName[] = ["pin", "geo", "user"];

const TIMESTAMPS: Record<TableName, string[]> = {
  pin: [],
  geo: ["timestamp"],
  user: ["date_joined"],
};

/** Rows sorted by their JSON text, so two tables compare whatever order they were written. */
export function canonical(rows: RefRow[]): RefRow[] {
  return rows.map((r) => [JSON.stringify(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, r]) => r);
}

/** A number or null as a JSON-safe value (DuckDB gives bigints for integers). */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/**
 * The three cleaned tables under `dir`, as written by DuckDB (`<table>.parquet`) or Spark
 * (`<table>/*.parquet`), with their column names and types.
 */
export async function readCleanTables(
  dir: string,
): Promise<Record<TableName, { schema: string[]; rows: RefRow[] }>> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    await conn.run("SET TimeZone = 'UTC'");
    const out = {} as Record<TableName, { schema: string[]; rows: RefRow[] }>;
    for (const t of TABLE_NAMES) {
      let path = `${dir}/${t}.parquet`;
      try {
        if ((await Deno.stat(path)).isDirectory) path = `${path}/*.parquet`;
      } catch {
        path = `${dir}/${t}/*.parquet`;
      }
      const src = `read_parquet('${path}')`;
      const d = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
      const schema = d.getRowObjectsJS().map((r) => `${r.column_name} ${r.column_type}`);
      const ts = TIMESTAMPS[t];
      const select = ts.length
        ? `* REPLACE (${
          ts.map((c) => `strftime(${c}::TIMESTAMP, '%Y-%m-%d %H:%M:%S.%f') AS ${c}`).join(", ")
        })`
        : "*";
      const r = await conn.runAndReadAll(`SELECT ${select} FROM ${src}`);
      const rows = r.getRowObjectsJS().map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])) as RefRow
      );
      out[t] = { schema, rows: canonical(rows) };
    }
    return out;
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
