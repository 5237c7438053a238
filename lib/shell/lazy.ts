/**
 * Imports a module only when a run takes the path that needs it. Deno fetches every module a
 * program names in a static import or in an `import("literal")` before the program starts, npm
 * packages included; a module named by a computed URL is fetched when that line runs. So the
 * AWS SDKs (an S3 lake, MSK IAM tokens, the EC2 proxy's config) are downloaded only by a run
 * that uses them, never by a local one (README "First run").
 * @module
 */

/** The module at `url`, imported now (type it with `typeof import("…")`). */
export function importLazily<T>(url: URL): Promise<T> {
  return import(url.href) as Promise<T>;
}
