/**
 * `mysql://user[:password]@host[:port]/database` URLs for the source database, turned into
 * mysql2 options that keep the data exact (utf8mb4, DATETIME as `YYYY-MM-DD HH:MM:SS`
 * strings), and MySQL errors turned into one-line messages without the password.
 * @module
 */
import type { PoolOptions } from "../deps/mysql2.ts";
import { RetriableError, UsageError } from "../shell/errors.ts";
import { registerSecret } from "../shell/redact.ts";

/** The source database by default: the original's database name on a local server. */
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/pinterest_data";

/**
 * How long the first connection to MySQL may take (the TCP connection and the server's
 * greeting) before a task gives up: 4 s, as for Kafka, so an unreachable host is one error
 * within 5 s, not mysql2's 10.
 */
export const MYSQL_CONNECT_MS = 4000;

/** What lengthens the first connection's wait, for the error that says it ran out. */
export const MYSQL_CONNECT_HINT = "--connect-timeout or PINPIPE_CONNECT_TIMEOUT gives it longer";

/** A parsed MySQL URL. */
export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** The database named in the path, or undefined when the URL has none. */
  database?: string;
  /** `mysql://user@host:port/db`, without the password: safe to print. */
  display: string;
  /** Where the URL came from (`--mysql-url`, `PINPIPE_SOURCE` …), named when connecting fails. */
  from?: string;
  /** How long the first connection may take; default MYSQL_CONNECT_MS. */
  connectTimeoutMs?: number;
}

/**
 * Parses `text` (`mysql://user[:password]@host[:port]/db`); `password` (from the
 * environment) wins over one in the URL. Throws a UsageError naming the problem.
 */
export function parseMysqlUrl(text: string, password?: string, from = "--mysql-url"): MysqlTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `Invalid ${from} "${safeUrl(text)}": expected mysql://user@host:3306/database`,
    );
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:") {
    throw new UsageError(
      `Invalid ${from} "${safeUrl(text)}": expected a mysql:// URL, not ${url.protocol}//`,
    );
  }
  if (!url.hostname) {
    throw new UsageError(`Invalid ${from} "${safeUrl(text)}": the URL names no host`);
  }
  const port = url.port ? Number(url.port) : 3306;
  const user = decodeURIComponent(url.username || "root");
  const pass = password || (url.password ? decodeURIComponent(url.password) : undefined);
  registerSecret(pass);
  const path = decodeURIComponent(url.pathname.replace(/^\/+/, "").replace(/\/+$/, ""));
  if (path.includes("/") || /[`\\]/.test(path)) {
    throw new UsageError(`Invalid ${from} "${safeUrl(text)}": "${path}" is not a database name`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const database = path || undefined;
  const display = `mysql://${encodeURIComponent(user)}@${url.host}/${database ?? ""}`;
  return { host, port, user, password: pass, database, display, from };
}

/** `text` with anything that looks like `user:password@` masked, even in a malformed URL. */
function safeUrl(text: string): string {
  return text.replace(/:[^:@/\s]+@/g, ":***@");
}

/** mysql2 pool options for `t`: utf8mb4, exact DATETIME strings, numbers as numbers. */
export function mysqlOptions(
  t: MysqlTarget,
  extra: Partial<PoolOptions> & { withDatabase?: boolean } = {},
): PoolOptions {
  const { withDatabase = true, ...rest } = extra;
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: withDatabase ? t.database : undefined,
    charset: "utf8mb4_unicode_ci",
    // DATETIME columns come back exactly as stored, never shifted by a time zone.
    dateStrings: true,
    timezone: "Z",
    connectTimeout: t.connectTimeoutMs ?? MYSQL_CONNECT_MS,
    ...rest,
  };
}

const RETRIABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "ER_CON_COUNT_ERROR",
  "ER_LOCK_DEADLOCK",
  "ER_LOCK_WAIT_TIMEOUT",
]);

/**
 * One error for a failed MySQL operation: `Cannot <what> at "mysql://user@host/db": <reason>`,
 * retriable when the reason may pass (refused connection, lost connection, deadlock).
 */
export function mysqlError(what: string, t: MysqlTarget, err: unknown): Error {
  const e = err as { code?: string; sqlMessage?: string; message?: string; errors?: unknown[] };
  // Node's connection errors can be an AggregateError (IPv4 and IPv6) with no message.
  let reason = e.sqlMessage ?? e.message ?? String(err);
  if (!reason && Array.isArray(e.errors) && e.errors.length) {
    reason = (e.errors[0] as Error).message ?? String(e.errors[0]);
  }
  if (!reason) reason = e.code ?? "unknown error";
  let code = e.code && !reason.includes(e.code) ? ` (${e.code})` : "";
  // A failed first connection names where the URL came from, and a wait that ran out its length.
  const connecting = what.startsWith("connect");
  if (connecting && e.code === "ETIMEDOUT") {
    reason = `no answer within ${
      (t.connectTimeoutMs ?? MYSQL_CONNECT_MS) / 1000
    } s (${MYSQL_CONNECT_HINT})`;
    code = "";
  }
  const origin = connecting && t.from ? ` (${t.from})` : "";
  const message = `Cannot ${what} at "${t.display}"${origin}: ${reason}${code}`;
  if (e.code && RETRIABLE_CODES.has(e.code)) return new RetriableError(message, { cause: err });
  return new Error(message, { cause: err });
}

/** Quotes an identifier for MySQL (`index` is a reserved word). */
export function quoteId(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}
