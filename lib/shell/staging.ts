/**
 * Outputs replaced only when the new ones are complete: a run writes into a staging folder
 * inside the folder it replaces (`<prefix><pid>-<8 hex>`, so the swap is renames on one
 * filesystem), then swaps each output into place; a run that fails or is interrupted removes
 * its staging folder, and one killed outright leaves it for the next run to remove.
 *
 * Whether a staging folder is stale (its run is over) is one check for every user: a folder
 * of this process is live while this process holds it (one of the same pid that it does not
 * hold was left by an earlier process that had the pid); another pid's is live while
 * `/proc/<pid>` exists; where there is no `/proc` (macOS, Windows) a folder is stale once it
 * is older than `maxAgeMs`.
 * @module
 */
import { basename, dirname, join, relative, resolve, sep } from "node:path";

/** Where there is no /proc, a staging folder this old is taken for a killed run's. */
export const STAGING_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Inside a staging folder, the outputs the swap replaced, until the swap is done. */
const PREVIOUS = ".previous";

/**
 * The names of the staging folders this process holds (made and neither swapped nor
 * discarded): names, not paths, since one folder has many spellings (relative, absolute).
 */
const held = new Set<string>();

/** How staleness is decided; tests inject the clock and the process table. */
export interface StaleCheck {
  /** The process table. Default `/proc`; where it does not exist, the age bound decides. */
  procDir?: string;
  /** Age after which a folder is stale without a process table. Default STAGING_MAX_AGE_MS. */
  maxAgeMs?: number;
  /** The clock, in ms since the epoch. */
  now?: () => number;
}

/** The pid in a staging folder's name `<prefix><pid>-…`, or undefined for any other name. */
function stagingPid(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(\d+)-./.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : undefined;
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** The outermost folder on the way from `root` down to `dir` that does not exist yet. */
async function missingAncestor(root: string, dir: string): Promise<string | undefined> {
  const rel = relative(root, dir);
  if (!rel) return undefined;
  let path = root;
  for (const part of rel.split(sep)) {
    path = join(path, part);
    if (!(await lstatOrUndefined(path))) return path;
  }
  return undefined;
}

/** Whether the staging folder `path`, named for `pid`, belongs to a run that is over. */
export async function isStale(path: string, pid: number, check: StaleCheck = {}): Promise<boolean> {
  if (pid === Deno.pid) return !held.has(basename(path));
  const proc = check.procDir ?? "/proc";
  if (await lstatOrUndefined(join(proc, "self"))) {
    return !(await lstatOrUndefined(join(proc, String(pid))));
  }
  const st = await lstatOrUndefined(path);
  if (!st) return false; // removed meanwhile
  const born = (st.birthtime ?? st.mtime)?.getTime();
  const now = check.now?.() ?? Date.now();
  return born !== undefined && now - born > (check.maxAgeMs ?? STAGING_MAX_AGE_MS);
}

/**
 * Removes the stale staging folders named `<prefix><pid>-…` inside `parent`; returns how
 * many. A missing `parent` has none.
 */
export async function removeStaleStaging(
  parent: string,
  prefix: string,
  check: StaleCheck = {},
): Promise<number> {
  let removed = 0;
  try {
    for await (const e of Deno.readDir(parent)) {
      const pid = stagingPid(e.name, prefix);
      const path = join(parent, e.name);
      if (pid === undefined || !e.isDirectory || !(await isStale(path, pid, check))) continue;
      await Deno.remove(path, { recursive: true }).catch(() => {});
      removed++;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

/** What the swap has done to one output so far, for putting it back. */
interface Moved {
  name: string;
  /** The previous output is aside, in the staging folder's PREVIOUS. */
  previous: boolean;
  /** The new output is in place. */
  added: boolean;
  /** A folder the swap made in the target for it (removed when it is put back). */
  madeDir?: string;
}

/** A staging folder this process holds, to fill and then swap into place (or discard). */
export class Staging {
  /** The folder to write the new outputs into. */
  readonly path: string;
  /** Stale staging folders removed when this one was made. */
  readonly removedStale: number;

  private constructor(
    path: string,
    removedStale: number,
    private readonly madeParent?: string,
  ) {
    this.path = path;
    this.removedStale = removedStale;
  }

  /**
   * Makes `parent` (if missing), removes its stale staging folders named `<prefix>…`, and
   * makes a new one, `<prefix><pid>-<8 hex>`, held by this process.
   */
  static async create(parent: string, prefix: string, check: StaleCheck = {}): Promise<Staging> {
    const madeParent = await missingAncestor(sep, resolve(parent));
    await Deno.mkdir(parent, { recursive: true });
    const removed = await removeStaleStaging(parent, prefix, check);
    const name = `${prefix}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    held.add(name);
    try {
      await Deno.mkdir(join(parent, name));
    } catch (err) {
      held.delete(name);
      throw err;
    }
    return new Staging(join(parent, name), removed, madeParent);
  }

  /**
   * Puts `target/<name>` in place of each `name` (a file or folder, `a/b` for one inside a
   * folder) as this staging folder has it, or removes it where this one has none; then
   * removes the staging folder. A file replaces the previous one in one rename; a folder in
   * two (the previous one aside, the new one in), since no rename replaces a folder that is
   * not empty. On a failure every output moved so far is put back, the staging folder is
   * removed, and the error is thrown: the previous outputs are as they were.
   */
  async swapInto(target: string, names: readonly string[]): Promise<void> {
    for (const name of names) {
      const parts = name.split("/");
      if (parts.some((p) => p === "" || p === "." || p === "..") || parts[0] === PREVIOUS) {
        throw new Error(`Cannot swap "${name}" into "${target}": not a relative path of an output`);
      }
    }
    const moved: Moved[] = [];
    try {
      for (const name of names) {
        const m: Moved = { name, previous: false, added: false };
        moved.push(m);
        await this.swapOne(target, m);
      }
    } catch (err) {
      try {
        await this.putBack(target, moved.reverse());
      } catch (undo) {
        // The staging folder holds previous outputs now: it stays, and the error says where.
        throw new Error(
          `Cannot swap "${this.path}" into "${target}": ${(err as Error).message}; putting the ` +
            `previous outputs back failed too (${(undo as Error).message}): they are in ` +
            `"${join(this.path, PREVIOUS)}"`,
          { cause: err },
        );
      }
      await this.discard();
      throw new Error(`Cannot swap "${this.path}" into "${target}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    await this.discard();
  }

  /** Puts the new output `m.name` in place, noting in `m` each step done. */
  private async swapOne(target: string, m: Moved): Promise<void> {
    const next = join(this.path, m.name);
    const to = join(target, m.name);
    const aside = join(this.path, PREVIOUS, m.name);
    const fresh = await lstatOrUndefined(next);
    const old = await lstatOrUndefined(to);
    if (old) {
      await Deno.mkdir(dirname(aside), { recursive: true });
      if (old.isFile && fresh?.isFile && await linked(to, aside)) {
        // The previous file keeps a second name aside; the new one replaces it in one rename.
        await Deno.rename(next, to);
        m.previous = m.added = true;
        return;
      }
      await Deno.rename(to, aside);
      m.previous = true;
    }
    if (fresh) {
      m.madeDir = await missingAncestor(target, dirname(to));
      await Deno.mkdir(dirname(to), { recursive: true });
      await Deno.rename(next, to);
      m.added = true;
    }
  }

  /** Undoes `moved` (last first): each new output back into staging, each previous one back. */
  private async putBack(target: string, moved: Moved[]): Promise<void> {
    for (const m of moved) {
      const to = join(target, m.name);
      if (m.added) await Deno.rename(to, join(this.path, m.name));
      if (m.previous) await Deno.rename(join(this.path, PREVIOUS, m.name), to);
      if (m.madeDir) await Deno.remove(m.madeDir, { recursive: true });
    }
  }

  /**
   * Removes the staging folder and what it holds (nothing after a swap); safe to repeat. The
   * folders `create` made for the parent go too while they are empty: a run that was refused
   * or failed before any output was swapped in leaves no empty folder behind.
   */
  async discard(): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    held.delete(basename(this.path));
    const top = this.madeParent;
    let dir = resolve(dirname(this.path));
    if (!top || (dir !== top && !dir.startsWith(top + sep))) return;
    for (;;) {
      try {
        await Deno.remove(dir); // only while empty
      } catch {
        return; // it holds outputs (or something else): it stays
      }
      if (dir === top) return;
      dir = dirname(dir);
    }
  }
}

/** Gives the file `from` the second name `to`; false where the filesystem has no hard links. */
async function linked(from: string, to: string): Promise<boolean> {
  try {
    await Deno.link(from, to);
    return true;
  } catch {
    return false;
  }
}
