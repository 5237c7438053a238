/**
 * Fetches, once, the npm packages some tasks need, so their first run starts at once: Deno
 * fetches a program's packages before the program runs, silently but for its own download
 * lines, and the demo's take about a minute on a first run. `deno install --entrypoint` caches
 * exactly the entrypoints' module graphs (deno.json's `npm-lazy-caching`), and this reads its
 * download lines to show progress and measures what landed in Deno's npm cache.
 * @module
 */
import { fmtBytes, fmtInt, fmtSec, type Progress } from "./progress.ts";

/** What a fetch did. */
export interface FetchResult {
  /** Package tarballs downloaded (0 when everything was cached). */
  packages: number;
  /** Bytes the npm cache grew by. */
  bytes: number;
  /** Where Deno keeps npm packages. */
  npmCache: string;
  elapsedSec: number;
}

/** Deno's npm cache directory (`deno info --json`), as the child processes will use it. */
async function npmCacheDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  if (!out.success) {
    throw new Error(
      `Cannot find Deno's cache: deno info failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)).npmCache;
}

/** Bytes under `dir` (0 when it does not exist). */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) total += (await Deno.lstat(p)).size;
    }
  };
  await walk(dir);
  return total;
}

/**
 * Caches the npm packages of `entrypoints` (paths or URLs), showing each package as it is
 * fetched on `progress`; resolves with what was fetched. `cwd` is where deno.json is.
 */
export async function fetchPackages(
  entrypoints: string[],
  deps: { progress: Progress; cwd?: string; signal?: AbortSignal },
): Promise<FetchResult> {
  const t0 = performance.now();
  const npmCache = await npmCacheDir();
  const before = await sizeOf(npmCache);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["install", "--entrypoint", ...entrypoints],
    cwd: deps.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: deps.signal,
  }).spawn();
  let packages = 0;
  let rest = "";
  const errors: string[] = [];
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      const m = /^Download https:\/\/registry\.npmjs\.org\/(.+)\/-\/[^/]+\.tgz$/.exec(line.trim());
      if (m) {
        packages++;
        deps.progress.update(
          `fetching npm packages: ${fmtInt(packages)} so far, now ${decodeURIComponent(m[1])}`,
        );
      } else if (line.trim() && !/^Download /.test(line.trim())) errors.push(line.trim());
    }
  }
  const status = await child.status;
  if (!status.success) {
    throw new Error(
      `Cannot fetch the packages of ${
        entrypoints.join(", ")
      }: deno install exited ${status.code}: ${errors.slice(-3).join("; ") || "no message"}`,
    );
  }
  const bytes = Math.max(0, (await sizeOf(npmCache)) - before);
  return { packages, bytes, npmCache, elapsedSec: (performance.now() - t0) / 1000 };
}

/** One line: what was fetched, or that nothing had to be. */
export function describeFetch(r: FetchResult): string {
  return r.packages === 0
    ? `every package was already in ${r.npmCache}: nothing fetched (${fmtSec(r.elapsedSec)})`
    : `fetched ${fmtInt(r.packages)} npm packages (${fmtBytes(r.bytes)}) into ${r.npmCache} in ${
      fmtSec(r.elapsedSec)
    }`;
}
