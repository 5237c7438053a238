/**
 * What every benchmark measures the same way: resident memory from /proc (current and
 * peak, for this process or a child), wall time, and one line of figures per result.
 * @module
 */

/** Current and peak resident set size in MiB of `pid` (default: this process); 0 if unknown. */
export function rssMiB(pid: number | "self" = "self"): { rss: number; peak: number } {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/** Samples the RSS of `pid` every `everyMs` until stopped; `stop()` returns the largest seen. */
export function watchRss(pid: number | "self", everyMs = 100): { stop: () => number } {
  let max = 0;
  const tick = () => {
    const { rss, peak } = rssMiB(pid);
    max = Math.max(max, rss, peak);
  };
  tick();
  const t = setInterval(tick, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      tick();
      return max;
    },
  };
}

/** Times `fn` and returns its result with the elapsed seconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; sec: number }> {
  const t0 = performance.now();
  const result = await fn();
  return { result, sec: (performance.now() - t0) / 1000 };
}

/** Prints one benchmark figure line: `name: value unit (target …) PASS|MISS`. */
export function report(
  name: string,
  value: number,
  unit: string,
  target?: { min?: number; max?: number },
): void {
  const v = value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2);
  let verdict = "";
  if (target?.min !== undefined) {
    verdict = ` (target >= ${target.min.toLocaleString("en-US")}) ${
      value >= target.min ? "MET" : "MISSED"
    }`;
  } else if (target?.max !== undefined) {
    verdict = ` (target <= ${target.max.toLocaleString("en-US")}) ${
      value <= target.max ? "MET" : "MISSED"
    }`;
  }
  console.log(`  ${name}: ${v} ${unit}${verdict}`);
}

export { shebangFlags } from "./_process.ts";

/** Mebibytes (what /proc reports, in KiB) to megabytes (what the targets are written in). */
export function mibToMB(mib: number): number {
  return (mib * 1024 * 1024) / 1e6;
}
