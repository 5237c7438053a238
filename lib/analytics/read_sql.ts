/**
 * The shared SQL files under `sql/`: the cleaning (SPEC §4) and the eight questions
 * (SPEC §5), written once in the SQL that DuckDB and Spark SQL share, read here for DuckDB
 * and by the Databricks notebooks for Spark.
 * @module
 */

/** The folder the SQL files live in (a file: or http: URL, so a run from a URL works). */
export const SQL_DIR = new URL("../../sql/", import.meta.url);

/** The text of `sql/<name>`, without a trailing semicolon (Spark takes one statement). */
export async function readSql(name: string, dir: URL = SQL_DIR): Promise<string> {
  const url = new URL(name, dir);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`Cannot read SQL file "${url.href}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Cannot read SQL file "${url.href}": the server answered ${res.status}`);
  }
  return (await res.text()).trim().replace(/;\s*$/, "");
}
