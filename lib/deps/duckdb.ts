/**
 * DuckDB (node-api), for cleaning and the eight questions. 1.5.5-r.5 on purpose: 1.5.6's
 * macOS bindings are missing from the registry and Deno resolves every platform's.
 * @module
 */
export { DuckDBInstance } from "npm:@duckdb/node-api@1.5.5-r.5";
export type { DuckDBConnection } from "npm:@duckdb/node-api@1.5.5-r.5";
