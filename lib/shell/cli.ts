/**
 * The shell every task shares: flag parsing on `node:util` parseArgs (strict), option
 * reading with flags > environment > config file > defaults and all problems reported
 * together, and `runMain`, which owns exit codes (0 ok, 1 failure, 2 usage, 130
 * interrupted), Ctrl-C and the redaction of secrets from error messages.
 *
 * Folder `lib/shell/`: what every task shares, whatever its stage: flags and options (cli.ts),
 * errors and exit codes (errors.ts), retries (retry.ts), progress on a terminal or in a log
 * (progress.ts), the one logger and the masking of secrets (log.ts, redact.ts), the config file
 * deploy writes (config.ts), rows as tables or CSV (table_format.ts), and outputs staged and
 * swapped into place (staging.ts). May import: `lib/deps/`.
 * @module
 */
import { parseArgs } from "node:util";
import { describeError, UsageError } from "./errors.ts";
import { logLine } from "./log.ts";
import { registerEnvSecrets } from "./redact.ts";

/** One flag, as `node:util` parseArgs takes it. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}

/** Flags every task accepts. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  help: { type: "boolean", short: "h" },
};

/** Parsed flags: strings, booleans, or lists of strings for `multiple` flags. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses `args` strictly against `flags`; an unknown flag, a missing value or an
 * unexpected positional becomes a UsageError naming it.
 */
export function parseFlags(
  args: string[],
  flags: Record<string, FlagSpec>,
  opts: { positionals?: boolean } = {},
): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON_FLAGS, ...flags },
      strict: true,
      allowPositionals: opts.positionals ?? false,
    });
    return { values: values as FlagValues, positionals };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const msg = err instanceof Error ? err.message : String(err);
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const flag = /'([^']+)'/.exec(msg)?.[1] ?? msg;
      throw new UsageError(`Unknown flag "${flag}": see --help for the flags this task takes`);
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const arg = /'([^']+)'/.exec(msg)?.[1] ?? msg;
      throw new UsageError(`Unexpected argument "${arg}": this task takes flags only`);
    }
    throw new UsageError(msg.replace(/\.$/, ""));
  }
}

/**
 * The names an option had before a rename, still read for one release: each use prints a
 * warning on stderr (through the logger) naming the new name. The old flag must still be
 * declared to `parseFlags`, so strict parsing takes it.
 */
export interface Renamed {
  /** The old flag, without its dashes. */
  flag?: string;
  /** The old environment variable. */
  env?: string;
  /** Why the name changed, when the warning should say more than the new name. */
  why?: string;
}

/** Where an option may come from besides its flag. */
export interface Source<T> {
  /** Environment variable consulted when the flag is absent. */
  env?: string;
  /** Key in the config file (`.pinpipe/aws.json`) consulted after the environment. */
  config?: string;
  /** Value used when nothing else gives one. */
  default?: T;
  /** Old names, read after the new ones with a warning (see `Renamed`). */
  was?: Renamed;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNITS_BYTES: Record<string, number> = {
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** Parses `30s`, `5m`, `250ms`, `1h` or plain seconds into milliseconds; NaN if invalid. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNITS_MS[(m[2] ?? "s").toLowerCase()];
}

/** Parses `100MiB`, `64k`, `2GiB` or plain bytes; NaN if invalid. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(text.trim());
  if (!m) return NaN;
  const unit = UNITS_BYTES[(m[2] ?? "b").toLowerCase()];
  return unit === undefined ? NaN : Math.floor(Number(m[1]) * unit);
}

/**
 * Reads typed options from parsed flags, the environment and a config object, in that
 * order, collecting every problem so they can be reported together by `done()`.
 */
export class Options {
  readonly problems: string[] = [];
  /** The warnings given so far (each old name used is warned about once). */
  readonly warnings: string[] = [];
  /** Where warnings go: the redacting logger on stderr unless replaced. */
  warn: (line: string) => void = logLine;

  constructor(
    readonly values: FlagValues,
    readonly env: Record<string, string | undefined> = {},
    readonly config: Record<string, unknown> = {},
  ) {}

  /** The raw text for `name` and where it came from, or undefined. */
  raw(name: string, src: Source<unknown> = {}): { text: string; from: string } | undefined {
    const v = this.values[name];
    if (typeof v === "string") return { text: v, from: `--${name}` };
    const was = src.was;
    const old = was?.flag === undefined ? undefined : this.values[was.flag];
    if (typeof old === "string") {
      this.renamed(`--${was!.flag}`, `--${name}`, was!.why);
      return { text: old, from: `--${was!.flag}` };
    }
    if (src.env && this.env[src.env] !== undefined && this.env[src.env] !== "") {
      return { text: this.env[src.env]!, from: src.env };
    }
    if (was?.env && this.env[was.env] !== undefined && this.env[was.env] !== "") {
      this.renamed(was.env, src.env ?? `--${name}`, was.why);
      return { text: this.env[was.env]!, from: was.env };
    }
    if (src.config && this.config[src.config] !== undefined && this.config[src.config] !== null) {
      return { text: String(this.config[src.config]), from: `config ${src.config}` };
    }
    return undefined;
  }

  /** A string option. */
  string(name: string, src: Source<string> & { required?: boolean } = {}): string | undefined {
    const r = this.raw(name, src);
    if (r) return r.text;
    if (src.default !== undefined) return src.default;
    if (src.required) {
      this.problem(`Missing --${name}${src.env ? ` (or ${src.env})` : ""}`);
    }
    return undefined;
  }

  /** A required string option; "" after recording a problem if absent. */
  need(name: string, src: Source<string> = {}): string {
    return this.string(name, { ...src, required: true }) ?? "";
  }

  /** An integer option within [min, max]. */
  int(name: string, src: Source<number> & { min?: number; max?: number } = {}): number {
    const r = this.raw(name, src);
    if (!r) return src.default ?? 0;
    const n = Number(r.text.replaceAll("_", ""));
    if (!Number.isInteger(n)) {
      this.problem(`Invalid ${r.from} "${r.text}": expected a whole number`);
      return src.default ?? 0;
    }
    return this.range(r, n, src.min, src.max) ?? src.default ?? 0;
  }

  /** A decimal number option within [min, max]. */
  number(name: string, src: Source<number> & { min?: number; max?: number } = {}): number {
    const r = this.raw(name, src);
    if (!r) return src.default ?? 0;
    const n = Number(r.text);
    if (!Number.isFinite(n)) {
      this.problem(`Invalid ${r.from} "${r.text}": expected a number`);
      return src.default ?? 0;
    }
    return this.range(r, n, src.min, src.max) ?? src.default ?? 0;
  }

  /** A duration option (`30s`, `5m`, `250ms`; plain numbers are seconds) in milliseconds. */
  duration(name: string, src: Source<number> & { min?: number } = {}): number {
    const r = this.raw(name, src);
    if (!r) return src.default ?? 0;
    const ms = parseDurationMs(r.text);
    if (!Number.isFinite(ms)) {
      this.problem(`Invalid ${r.from} "${r.text}": expected a duration such as 30s, 5m or 250ms`);
      return src.default ?? 0;
    }
    return this.range(r, ms, src.min, undefined) ?? src.default ?? 0;
  }

  /** A size option (`100MiB`, `64k`, plain bytes) in bytes. */
  bytes(name: string, src: Source<number> & { min?: number } = {}): number {
    const r = this.raw(name, src);
    if (!r) return src.default ?? 0;
    const n = parseBytes(r.text);
    if (!Number.isFinite(n)) {
      this.problem(`Invalid ${r.from} "${r.text}": expected a size such as 100MiB or 65536`);
      return src.default ?? 0;
    }
    return this.range(r, n, src.min, undefined) ?? src.default ?? 0;
  }

  /** One of `choices`. */
  choice<const T extends string>(
    name: string,
    choices: readonly T[],
    src: Source<NoInfer<T>> = {},
  ): T {
    const r = this.raw(name, src);
    if (!r) return src.default ?? choices[0];
    if (!(choices as readonly string[]).includes(r.text)) {
      this.problem(`Invalid ${r.from} "${r.text}": expected one of ${choices.join(", ")}`);
      return src.default ?? choices[0];
    }
    return r.text as T;
  }

  /** A boolean flag, also true when its environment variable is 1/true/yes. */
  bool(name: string, src: { env?: string; was?: Renamed } = {}): boolean {
    const v = this.values[name];
    if (typeof v === "boolean") return v;
    const was = src.was;
    const old = was?.flag === undefined ? undefined : this.values[was.flag];
    if (typeof old === "boolean") {
      this.renamed(`--${was!.flag}`, `--${name}`, was!.why);
      return old;
    }
    const truthy = (e: string | undefined) =>
      e === undefined || e === "" ? undefined : /^(1|true|yes|on)$/i.test(e);
    const fromEnv = src.env ? truthy(this.env[src.env]) : undefined;
    if (fromEnv !== undefined) return fromEnv;
    const fromOld = was?.env ? truthy(this.env[was.env]) : undefined;
    if (fromOld !== undefined) {
      this.renamed(was!.env!, src.env ?? `--${name}`, was!.why);
      return fromOld;
    }
    return false;
  }

  /** A flag given several times (`multiple: true`), or a comma list from the environment. */
  list(name: string, src: Source<string[]> = {}): string[] {
    const v = this.values[name];
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === "string") return [v];
    if (src.env && this.env[src.env]) {
      return this.env[src.env]!.split(",").map((s) => s.trim()).filter(Boolean);
    }
    return src.default ?? [];
  }

  /**
   * The topic prefix every pipeline task shares (`--prefix`, PINPIPE_PREFIX, config
   * `prefix`, default `pinpipe`), checked against Kafka's topic-name characters.
   */
  prefix(): string {
    const prefix = this.string("prefix", {
      env: "PINPIPE_PREFIX",
      config: "prefix",
      default: "pinpipe",
    })!;
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/.test(prefix)) {
      this.problem(
        `Invalid prefix "${prefix}": Kafka topic names take letters, digits, ".", "_" and "-"`,
      );
    }
    return prefix;
  }

  /** Records a problem to report with the others. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /**
   * Warns, once per old name, that `old` was used and `now` is its name from now on (for a
   * rename `was` cannot express, such as a change of unit).
   */
  renamed(old: string, now: string, why?: string): void {
    const line = `warning: ${old} is now ${now}${why ? ` (${why})` : ""}; ${old} still ` +
      `works in this release only`;
    if (this.warnings.includes(line)) return;
    this.warnings.push(line);
    this.warn(line);
  }

  /** Throws one UsageError listing every problem recorded, if any. */
  done(): void {
    if (this.problems.length === 1) throw new UsageError(this.problems[0]);
    if (this.problems.length > 1) {
      throw new UsageError(
        `${this.problems.length} problems with the options:\n  ${this.problems.join("\n  ")}`,
      );
    }
  }

  private range(
    r: { text: string; from: string },
    n: number,
    min?: number,
    max?: number,
  ): number | undefined {
    if (min !== undefined && n < min) {
      this.problem(`Invalid ${r.from} "${r.text}": must be at least ${min}`);
      return undefined;
    }
    if (max !== undefined && n > max) {
      this.problem(`Invalid ${r.from} "${r.text}": must be at most ${max}`);
      return undefined;
    }
    return n;
  }
}

/** What `runMain` hands a task's `main`. */
export interface MainContext {
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  /** The process environment (read once, here). */
  env: Record<string, string | undefined>;
}

/** Task entry point: prints `help` for --help, runs `main`, maps errors to exit codes. */
export async function runMain(
  help: string,
  main: (args: string[], ctx: MainContext) => Promise<number | void>,
  args: string[] = Deno.args,
): Promise<never> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(help.trimEnd());
    Deno.exit(0);
  }
  let env: Record<string, string | undefined> = {};
  try {
    env = Deno.env.toObject();
  } catch {
    // Without --allow-env the task runs on flags alone.
  }
  registerEnvSecrets(env);
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      logLine("\ninterrupted: finishing in-flight work (press Ctrl-C again to stop at once)");
      controller.abort(new Error("interrupted"));
    } else {
      Deno.exit(130);
    }
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) {
    try {
      Deno.addSignalListener(s, onSignal);
    } catch {
      // Signals are not available everywhere (workers, some platforms).
    }
  }
  let code = 0;
  try {
    const result = await main(args, { signal: controller.signal, env });
    code = typeof result === "number" ? result : controller.signal.aborted ? 130 : 0;
  } catch (err) {
    code = err instanceof UsageError ? 2 : controller.signal.aborted ? 130 : 1;
    const interrupted = controller.signal.aborted &&
      (err === controller.signal.reason || (err as Error)?.name === "AbortError");
    logLine(interrupted ? "interrupted" : `error: ${describeError(err)}`);
    if (env.PINPIPE_DEBUG && err instanceof Error && err.stack) {
      logLine(err.stack);
    }
  }
  Deno.exit(code);
}
