/**
 * Shared test fixtures: environment-dependent tests (kcat, MariaDB, Chromium, python3)
 * that skip loudly where the tool is missing and fail instead under PINPIPE_STRICT=1
 * (CI sets it), temp directories, and a private MariaDB database per test.
 * @module
 */
import { createConnection } from "../lib/deps/mysql2.ts";

/** CI sets PINPIPE_STRICT=1: a test whose environment is missing then fails, not skips. */
export const STRICT = Deno.env.get("PINPIPE_STRICT") === "1";

/** The repository root (tests run from anywhere). */
export const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** Something a test needs from the machine. */
export type Need = "kcat" | "mysql" | "chromium" | "python3";

/** Base URL of the MariaDB/MySQL server tests may use (they create and drop their own database). */
export const TEST_MYSQL_URL = Deno.env.get("PINPIPE_TEST_MYSQL_URL") ??
  "mysql://root@127.0.0.1:3306";

/** Where Debian's chromium lives, or PINPIPE_CHROMIUM. */
export const CHROMIUM = Deno.env.get("PINPIPE_CHROMIUM") ?? "/usr/bin/chromium";

/** True when `cmd` can be started (`cmd args…` exits at all). */
export async function hasCommand(cmd: string, args = ["--version"]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.code === 0 || out.code === 1;
  } catch {
    return false;
  }
}

async function mysqlReachable(): Promise<boolean> {
  try {
    const conn = await createConnection({ uri: TEST_MYSQL_URL, connectTimeout: 2000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

const checks: Record<Need, () => Promise<boolean>> = {
  kcat: () => hasCommand("kcat", ["-V"]),
  mysql: mysqlReachable,
  chromium: async () => {
    try {
      return (await Deno.stat(CHROMIUM)).isFile;
    } catch {
      return false;
    }
  },
  python3: () => hasCommand("python3"),
};
const cache = new Map<Need, Promise<boolean>>();

/** Whether the machine has `need` (checked once per test process). */
export function available(need: Need): Promise<boolean> {
  if (!cache.has(need)) cache.set(need, checks[need]());
  return cache.get(need)!;
}

/** A Deno.test definition minus the function. */
type TestOpts = Omit<Deno.TestDefinition, "fn" | "name">;

/**
 * Registers a test that needs `needs` from the machine. Where one is missing it is
 * skipped with a loud warning, or fails under PINPIPE_STRICT=1.
 */
export async function envTest(
  name: string,
  needs: Need[],
  fn: (t: Deno.TestContext) => void | Promise<void>,
  opts: TestOpts = {},
): Promise<void> {
  const missing: Need[] = [];
  for (const n of needs) if (!(await available(n))) missing.push(n);
  if (missing.length === 0) {
    Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false, ...opts });
    return;
  }
  const why = `needs ${missing.join(", ")}, which this machine does not have`;
  if (STRICT) {
    Deno.test({
      name,
      fn: () => {
        throw new Error(`Cannot run "${name}": it ${why} (PINPIPE_STRICT=1 forbids skipping)`);
      },
    });
  } else {
    console.warn(`\n*** SKIPPED "${name}": it ${why}. Set PINPIPE_STRICT=1 to fail instead. ***\n`);
    Deno.test({ name, ignore: true, fn: () => {} });
  }
}

/** Runs `fn` with a fresh temp directory, removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "pinpipe-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs `fn` with the URL of a uniquely named, empty MariaDB database, dropped afterwards,
 * so no test depends on (or changes) the server's other databases.
 */
export async function withMysqlDatabase<T>(
  fn: (url: string, db: string) => Promise<T>,
): Promise<T> {
  const db = `pinpipe_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = await createConnection({ uri: TEST_MYSQL_URL });
  try {
    await admin.query(`CREATE DATABASE \`${db}\``);
    try {
      return await fn(`${TEST_MYSQL_URL.replace(/\/+$/, "")}/${db}`, db);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    }
  } finally {
    await admin.end();
  }
}

/** Output of a finished subprocess, decoded. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno <args>` (or any command) to completion and returns its exit code and output. */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Waits until `cond()` is true, polling every `everyMs`, or throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
