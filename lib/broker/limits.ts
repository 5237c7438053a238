/**
 * The broker's share of the process's open-file limit. Running out of file descriptors is
 * not an error in Deno but a panic (its stack probe reads /proc/self/maps and asserts), so
 * the broker keeps well inside the limit: segment files are opened on demand up to
 * `maxOpenFiles` (log_store.ts `FileHandles`), connections beyond `maxConnections` are
 * closed as soon as they are accepted, and a reserve is left for everything else in the
 * process (the REST proxy and sink share it in `deno task demo`).
 *
 * Deno itself raises the soft limit to the hard limit when it starts, so the limit read
 * here is already the highest this process can have without privileges.
 * @module
 */

/** The process's open-file limit (soft), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** File descriptors the process has open now, or undefined where that cannot be read. */
export function openFileCount(): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return undefined;
  }
}

/** How the broker splits the descriptors it may use. */
export interface FilePlan {
  /** The limit the plan was made for. */
  limit: number;
  /** Segment files open at once. */
  maxOpenFiles: number;
  /** Client connections at once. */
  maxConnections: number;
}

/**
 * Splits the descriptors left under `limit` (after `inUse` and a reserve of an eighth, at
 * least 64, for the rest of the process): a quarter for segment files (8 to 1,024), the
 * rest for connections (at least 8).
 */
export function planFiles(
  limit = openFileLimit() ?? 1024,
  inUse = openFileCount() ?? 32,
): FilePlan {
  const reserve = Math.max(64, Math.floor(limit / 8));
  const free = Math.max(16, limit - inUse - reserve);
  const maxOpenFiles = Math.max(8, Math.min(1024, Math.floor(free / 4)));
  const maxConnections = Math.max(8, Math.min(1_000_000, free - maxOpenFiles));
  return { limit, maxOpenFiles, maxConnections };
}
