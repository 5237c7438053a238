/**
 * The shared SQL files under `sql/`: the cleaning (SPEC §4) and the eight questions
 * (SPEC §5), written once in the SQL that DuckDB and Spark SQL share, read here for DuckDB
 * and by the Databricks notebooks for Spark. Also how any file beside the code is read
 * (the SQL, the report's style sheet and script): by URL, so a run from a URL works.
 * @module
 */

/** The folder the SQL files live in (a file: or http: URL, so a run from a URL works). */
export const SQL_DIR = new URL("../../sql/", import.meta.url);

/** The text of `sql/<name>`, without a trailing semicolon (Spark takes one statement). */
export async function readSql(name: string, dir: URL = SQL_DIR): Promise<string> {
  return (await readText(new URL(name, dir), "SQL file")).trim().replace(/;\s*$/, "");
}

/**
 * The text at `url` (file:, http: or https:, as `import.meta.url` gives: `import.meta.dirname`
 * has no value in a run from a URL); `what` names the file in the error.
 */
export async function readText(url: URL, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`Cannot read ${what} "${url.href}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Cannot read ${what} "${url.href}": the server answered ${res.status}`);
  }
  return await res.text();
}
