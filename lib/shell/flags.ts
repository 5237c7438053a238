/**
 * Flags declared once. A task states its flags in one table (name, type, unit, environment
 * variable, config key, default, bounds, help line); from that table come the parser, the
 * `--help` text and the typed options, so the three cannot drift. Defaults are the library's
 * constants, named in the table, never retyped.
 *
 * Precedence: the flag, then its environment variable, then the config file (`.pinpipe/aws.json`,
 * written by deploy), then the default. Every problem (an unknown flag, with the nearest real
 * one suggested; a bad value; a bare number where a duration needs its unit) is collected and
 * reported together by `done()`, before anything is touched.
 *
 * Durations take units (`500ms`, `5s`, `2m`, `1h`; a bare `0` is allowed, any other bare number
 * is refused so no value silently changes meaning); sizes take `KiB`, `MiB`, `GiB` (or plain
 * bytes). Hand-written on purpose: `node:util` parseArgs stops at the first unknown flag and
 * knows no types, units or sources; JSR (`@std/cli`, Cliffy) is not reachable from here, and
 * Cliffy's npm builds are unmaintained, while this whole table fits in one file.
 * @module
 */
import { UsageError } from "./errors.ts";
import { hasUrlPassword, redact } from "./redact.ts";

/** The kinds of value a flag takes. */
export type FlagType =
  | "string"
  | "boolean"
  | "int"
  | "number"
  | "duration"
  | "bytes"
  | "choice"
  | "list";

/** Where config-dependent defaults look. */
export interface DefaultContext {
  env: Record<string, string | undefined>;
  config: Record<string, unknown>;
}

/** One flag. */
export interface FlagDef {
  type: FlagType;
  /** One line (wrapped in --help) saying what the flag does. */
  help: string;
  /** The value's placeholder in --help (default by type: `N`, `DUR`, `SIZE`, `a|b`, `S`). */
  arg?: string;
  /** Its environment variable. */
  env?: string;
  /** Why it has no environment variable (shown in --help), when it has none. */
  noEnv?: string;
  /** Its key in the config file deploy writes. */
  config?: string;
  /** A one-letter alias (`-h`). */
  short?: string;
  /** The value when nothing gives one: a library constant, or computed from env and config. */
  default?: string | number | boolean | readonly string[] | ((ctx: DefaultContext) => unknown);
  /** How --help shows the default when the value itself does not say it well. */
  defaultText?: string;
  /** A problem when no source gives a value. */
  required?: boolean;
  /** Bounds of numeric values, in the value's unit (ms, bytes). */
  min?: number;
  max?: number;
  /** The values a `choice` takes. */
  choices?: readonly string[];
  /** Words a numeric flag also takes, and their value (`{ forever: -1 }`). */
  keywords?: Readonly<Record<string, number>>;
  /** The idea in a few words, where tasks word the help differently (the README's table). */
  idea?: string;
  /** A heading in --help under which this flag and the next ones are listed. */
  section?: string;
  /** Extra check of a value that parsed: a problem's text, or undefined when fine. */
  check?: (value: never) => string | undefined;
}

/** A task's flags by name (without dashes). */
export type FlagTable = Readonly<Record<string, FlagDef>>;

/** `flush-size` → `flushSize`. */
export type CamelCase<S extends string> = S extends `${infer H}-${infer T}`
  ? `${H}${Capitalize<CamelCase<T>>}`
  : S;

type Present<F> = F extends { default: unknown } ? true : F extends { required: true } ? true
: false;

type ValueOfDef<F> = F extends { type: "boolean" } ? boolean
  : F extends { type: "list" } ? string[]
  : F extends { type: "choice"; choices: readonly (infer C)[] }
    ? (Present<F> extends true ? C : C | undefined)
  : F extends { type: "string" } ? (Present<F> extends true ? string : string | undefined)
  : Present<F> extends true ? number
  : number | undefined;

/** The typed options a table yields: camelCase keys, one typed value per flag. */
export type FlagValues<T extends FlagTable> = {
  -readonly [K in keyof T & string as CamelCase<K>]: ValueOfDef<T[K]>;
};

/** Names retired in an earlier release: `--old` or `OLD_VAR` → what to use now. */
export type Retired = Readonly<Record<string, string>>;

/** `flush-size` → `flushSize`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTES: Record<string, number> = {
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

/**
 * `500ms`, `30s`, `5m`, `1h`, `2d` (and `1m30s`) in milliseconds; a bare `0` is 0. NaN for
 * anything else, a bare number above all: its unit would be a guess.
 */
export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^0+(\.0+)?$/.test(t)) return 0;
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) return NaN;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * MS[m[2]];
  return Math.round(ms);
}

/** `64KiB`, `100MiB`, `2GiB`, `1MB`, or plain bytes; NaN if invalid. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(text.trim().replaceAll("_", ""));
  if (!m) return NaN;
  const unit = BYTES[(m[2] ?? "b").toLowerCase()];
  return unit === undefined ? NaN : Math.floor(Number(m[1]) * unit);
}

/** A duration as a person writes it: `10s`, `500ms`, `5m`, `168h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const [unit, n] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % n === 0) return `${ms / n}${unit}`;
  }
  return `${ms}ms`;
}

/** A size as a person writes it: `100MiB`, `64KiB`, `1000`. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The nearest of `names` to `name`, if near enough to be a typo of it. */
export function nearest(name: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = n.startsWith(name) && name.length >= 3 ? 1 : distance(name, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Where a value came from: `--x`, `PINPIPE_X`, `config key`, or `default`. */
export type Origin = string;

/** Flags read against a table: typed values, their origins and every problem found. */
export class ParsedFlags<T extends FlagTable> {
  /** The typed values (camelCase keys). */
  readonly values: FlagValues<T>;
  /** Arguments that are not flags (a subcommand's operands), when the task takes them. */
  readonly positionals: string[] = [];
  readonly problems: string[] = [];
  private readonly origins = new Map<string, Origin>();

  constructor(
    readonly table: T,
    readonly env: Record<string, string | undefined>,
    readonly config: Record<string, unknown>,
  ) {
    this.values = {} as FlagValues<T>;
  }

  /** Where flag `name` got its value (`--name`, its variable, `config key`), or undefined for the default. */
  from(name: keyof T & string): Origin | undefined {
    return this.origins.get(name);
  }

  /** True when flag `name` was given by the flag, its variable or the config file. */
  given(name: keyof T & string): boolean {
    return this.origins.has(name);
  }

  /** Records a problem to report with the others. */
  problem(message: string): void {
    this.problems.push(message);
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

  /** @internal */
  setOrigin(name: string, origin: Origin): void {
    this.origins.set(name, origin);
  }
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/**
 * Reads `args`, then `env` and `config`, against `table`. Problems are collected, not thrown:
 * call `done()` after any checks of your own, so every problem is reported together.
 */
export function readFlags<T extends FlagTable>(
  table: T,
  args: string[],
  env: Record<string, string | undefined> = {},
  config: Record<string, unknown> = {},
  opts: { positionals?: boolean; retired?: Retired } = {},
): ParsedFlags<T> {
  const p = new ParsedFlags(table, env, config);
  const given = new Map<string, string[]>();
  const shorts = new Map<string, string>([["h", "help"]]);
  for (const [name, def] of Object.entries(table)) if (def.short) shorts.set(def.short, name);
  const known = new Set([...Object.keys(table), "help"]);

  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      if (opts.positionals) p.positionals.push(...args.slice(i + 1));
      else if (i + 1 < args.length) p.problem(unexpected(args[i + 1]));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(a)) {
      name = shorts.get(a.slice(1)) ?? a;
    } else {
      if (opts.positionals) p.positionals.push(a);
      else p.problem(unexpected(a));
      continue;
    }
    if (name === "help") continue;
    const def = table[name];
    if (!def) {
      p.problem(unknownFlag(a.startsWith("--") ? `--${name}` : a, known, opts.retired));
      // Its value, if it seems to have one, is not an argument of its own.
      if (inline === undefined && i + 1 < args.length && !args[i + 1].startsWith("-")) i++;
      continue;
    }
    if (def.type === "boolean") {
      if (inline !== undefined) {
        if (TRUE.test(inline)) given.set(name, ["true"]);
        else if (FALSE.test(inline)) given.set(name, ["false"]);
        else p.problem(`Invalid --${name}="${inline}": it is a switch; give it alone`);
      } else given.set(name, ["true"]);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length || (args[i + 1].startsWith("--") && args[i + 1].length > 2)) {
        p.problem(`Missing a value for --${name} (${argOf(name, def)})`);
        continue;
      }
      value = args[++i];
    }
    const list = given.get(name) ?? [];
    if (def.type === "list") list.push(value);
    else list.splice(0, list.length, value);
    given.set(name, list);
  }

  for (const [old, now] of Object.entries(opts.retired ?? {})) {
    if (!old.startsWith("-") && env[old] !== undefined && env[old] !== "") {
      p.problem(`${old} is no longer read: use ${now}`);
    }
  }

  const values = p.values as Record<string, unknown>;
  for (const [name, def] of Object.entries(table)) {
    values[camelCase(name)] = readOne(p, name, def, given.get(name));
  }
  return p;
}

function unexpected(arg: string): string {
  return `Unexpected argument "${arg}": this task takes flags only`;
}

function unknownFlag(flag: string, known: Set<string>, retired: Retired = {}): string {
  if (retired[flag]) return `Unknown flag ${flag}: it was renamed; use ${retired[flag]}`;
  const near = flag.startsWith("--") ? nearest(flag.slice(2), known) : undefined;
  return near
    ? `Unknown flag ${flag}: did you mean --${near}?`
    : `Unknown flag ${flag}: see --help for the flags this task takes`;
}

/** The placeholder of a flag's value in messages and --help. */
export function argOf(name: string, def: FlagDef): string {
  if (def.arg) return def.arg;
  switch (def.type) {
    case "int":
    case "number":
      return "N";
    case "duration":
      return "DUR";
    case "bytes":
      return "SIZE";
    case "choice":
      return (def.choices ?? []).join("|");
    case "list":
      return `${name.toUpperCase()},…`;
    default:
      return name.split("-").at(-1)!.toUpperCase();
  }
}

/** The value of one flag from its sources, in order; problems recorded on `p`. */
function readOne(
  p: ParsedFlags<FlagTable>,
  name: string,
  def: FlagDef,
  fromArgs: string[] | undefined,
): unknown {
  let raw: { texts: string[]; from: string } | undefined;
  if (fromArgs) raw = { texts: fromArgs, from: `--${name}` };
  else if (def.env && p.env[def.env] !== undefined && p.env[def.env] !== "") {
    const text = p.env[def.env]!;
    raw = {
      texts: def.type === "list" ? text.split(",").map((s) => s.trim()).filter(Boolean) : [text],
      from: def.env,
    };
  } else if (def.config && p.config[def.config] !== undefined && p.config[def.config] !== null) {
    const v = p.config[def.config];
    raw = { texts: Array.isArray(v) ? v.map(String) : [String(v)], from: `config ${def.config}` };
  }
  const fallback = () => {
    const d = typeof def.default === "function"
      ? def.default({ env: p.env, config: p.config })
      : def.default;
    if (d !== undefined) return Array.isArray(d) ? [...d] : d;
    if (def.type === "boolean") return false;
    if (def.type === "list") return [];
    return undefined;
  };
  if (!raw) {
    if (def.required) {
      p.problem(`Missing --${name}${def.env ? ` (or ${def.env})` : ""}: ${lowerFirst(def.help)}`);
    }
    return fallback();
  }
  p.setOrigin(name, raw.from);
  const text = raw.texts.at(-1)!;
  // A value is quoted in problems, so a password typed into it is masked there.
  const shown = redact(text);
  const bad = (expected: string) => {
    p.problem(`Invalid ${raw!.from} "${shown}": expected ${expected}`);
    return fallback();
  };
  let value: unknown;
  switch (def.type) {
    case "boolean":
      if (TRUE.test(text)) value = true;
      else if (FALSE.test(text)) value = false;
      else return bad("1, true, yes or on, or 0, false, no or off");
      break;
    case "string":
      value = text;
      break;
    case "list":
      value = raw.texts;
      break;
    case "choice":
      if (!def.choices?.includes(text)) return bad(`one of ${def.choices?.join(", ")}`);
      value = text;
      break;
    default: {
      const word = def.keywords?.[text.toLowerCase()];
      let n: number;
      let expected: string;
      if (word !== undefined) {
        n = word;
        expected = "";
      } else if (def.type === "duration") {
        n = parseDuration(text);
        expected = /^\d+(\.\d+)?$/.test(text.trim())
          ? "a duration with its unit: ms, s, m, h or d (such as 30s or 500ms)"
          : "a duration such as 30s, 5m or 500ms";
      } else if (def.type === "bytes") {
        n = parseSize(text);
        expected = "a size such as 64KiB, 100MiB or 1GiB";
      } else if (def.type === "int") {
        n = Number(text.replaceAll("_", "").replaceAll(",", ""));
        if (!Number.isInteger(n)) n = NaN;
        expected = "a whole number";
      } else {
        n = text.trim() === "" ? NaN : Number(text);
        expected = "a number";
      }
      const words = Object.keys(def.keywords ?? {});
      if (!Number.isFinite(n)) {
        return bad(expected + (words.length ? ` or ${words.join(", ")}` : ""));
      }
      if (word === undefined) {
        const show = (x: number) =>
          def.type === "duration" ? formatDuration(x) : def.type === "bytes" ? formatSize(x) : x;
        if (def.min !== undefined && n < def.min) {
          p.problem(`Invalid ${raw.from} "${shown}": must be at least ${show(def.min)}`);
          return fallback();
        }
        if (def.max !== undefined && n > def.max) {
          p.problem(`Invalid ${raw.from} "${shown}": must be at most ${show(def.max)}`);
          return fallback();
        }
      }
      value = n;
    }
  }
  const why = def.check?.(value as never);
  if (why) {
    p.problem(`Invalid ${raw.from} "${shown}": ${why}`);
    return fallback();
  }
  return value;
}

function lowerFirst(s: string): string {
  return s ? s[0].toLowerCase() + s.slice(1) : s;
}

/** How --help shows a flag's default, or undefined when it has none worth showing. */
export function defaultOf(def: FlagDef): string | undefined {
  if (def.defaultText !== undefined) return def.defaultText;
  const d = def.default;
  if (d === undefined || typeof d === "function" || def.type === "boolean") return undefined;
  if (Array.isArray(d)) return d.length ? d.join(",") : undefined;
  if (typeof d === "number") {
    const word = Object.entries(def.keywords ?? {}).find(([, v]) => v === d)?.[0];
    if (word) return word;
    if (def.type === "duration") return formatDuration(d);
    if (def.type === "bytes") return formatSize(d);
    return d >= 10_000 ? d.toLocaleString("en-US") : String(d);
  }
  return String(d);
}

/** The `(VAR, config key; default X)` note of a flag. */
export function sourceNote(def: FlagDef): string {
  const where = [
    def.env ?? (def.noEnv ? `no variable: ${def.noEnv}` : undefined),
    def.config ? `config ${def.config}` : undefined,
  ].filter(Boolean).join(", ");
  const d = defaultOf(def);
  const parts = [where, d !== undefined ? `default ${d}` : undefined].filter(Boolean);
  return parts.length ? `(${parts.join("; ")})` : "";
}

/** Wraps `text` to `width` columns. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/[ \t\n]+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The flag lines of --help for `table` (plus `--help`), grouped under their sections. */
export function flagHelp(table: FlagTable, width = 100): string {
  const rows: [string, string, string?][] = [];
  for (const [name, def] of Object.entries(table)) {
    const left = `  ${def.short ? `-${def.short}, ` : ""}--${name}${
      def.type === "boolean" ? "" : ` ${argOf(name, def)}`
    }`;
    // "default X" stays on one line (all of it, when it is short).
    const note = sourceNote(def).replace(
      /default ([^;)]*)/,
      (all, d: string) => d.length <= 32 ? all.replaceAll(" ", "\u00a0") : `default\u00a0${d}`,
    );
    rows.push([left, `${def.help} ${note}`.trim(), def.section]);
  }
  rows.push(["  -h, --help", "show this help"]);
  const col = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  const out: string[] = [];
  for (const [left, text, section] of rows) {
    if (section) out.push("", `${section}:`);
    const body = wrap(text, width - col);
    if (left.length + 1 > col) {
      out.push(left);
      for (const l of body) out.push(" ".repeat(col) + l);
    } else {
      out.push(left.padEnd(col) + (body[0] ?? ""));
      for (const l of body.slice(1)) out.push(" ".repeat(col) + l);
    }
  }
  // A first section keeps the blank line above its heading.
  return out.join("\n").replaceAll("\u00a0", " ");
}

/** A task's whole --help: what it does, usage, flags, and any closing notes. */
export function helpText(parts: {
  about: string;
  usage: string | string[];
  flags: FlagTable;
  notes?: string;
}): string {
  const usage = [parts.usage].flat();
  return [
    parts.about.trim(),
    "",
    `Usage: ${usage[0]}`,
    ...usage.slice(1).map((u) => `       ${u}`),
    "",
    "Flags (environment variable, config key; default):",
    flagHelp(parts.flags),
    ...(parts.notes ? ["", parts.notes.trim()] : []),
    "",
  ].join("\n");
}

/** Why `prefix` cannot name topics, or undefined. */
function prefixProblem(prefix: string): string | undefined {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/.test(prefix)
    ? undefined
    : `Kafka topic names take letters, digits, ".", "_" and "-"`;
}

/** The topic prefix every pipeline task shares: topics `<p>.pin`, `<p>.geo`, `<p>.user`. */
export const PREFIX_FLAG = {
  type: "string",
  arg: "P",
  help: "topic prefix: topics P.pin, P.geo, P.user",
  env: "PINPIPE_PREFIX",
  config: "prefix",
  default: "pinpipe",
  check: prefixProblem,
} as const satisfies FlagDef;

/** `--json` of a task, printing `what` as JSON (PINPIPE_JSON in every task). */
export function jsonFlag<const W extends string>(what: W) {
  return {
    type: "boolean",
    help: `print ${what} as JSON on stdout`,
    idea: "print the result as JSON on stdout",
    env: "PINPIPE_JSON",
  } as const satisfies FlagDef;
}

/** `--dry-run` of a mutating task (PINPIPE_DRY_RUN in every task). */
export function dryRunFlag<const W extends string>(what: W) {
  return {
    type: "boolean",
    help: `say ${what} and change nothing`,
    idea: "say what would be done and change nothing",
    env: "PINPIPE_DRY_RUN",
  } as const satisfies FlagDef;
}

/**
 * The check of a flag that takes a URL: a password inside it is refused, since `deno task`
 * echoes its command line before the task runs (and shells keep it in their history), so no
 * task could keep it from the screen. `passwordVar` is where the password goes instead, when
 * the URL's service takes one; `then` is the flag's own check, run on a URL without one.
 */
export function urlCheck(
  passwordVar?: string,
  then?: (url: string) => string | undefined,
): (url: string) => string | undefined {
  return (url) => {
    if (!hasUrlPassword(url)) return then?.(url);
    return "a password inside the URL is shown wherever the URL is (deno task echoes its " +
      "command line; shells keep it in their history): " +
      (passwordVar
        ? `give the URL without it, and the password in ${passwordVar}`
        : "this URL takes none; give it without");
  };
}

/** `["a,b", "c"]` → `["a", "b", "c"]`: a list flag whose values may each be comma lists. */
export function commaList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean);
}

/** The AWS region when nothing names one: where the README's cost figures are priced. */
export const DEFAULT_REGION = "us-east-1";

/**
 * `--region` of every task that talks to AWS (the lake on S3, deploy, connector, dags, MSK
 * IAM auth). AWS_DEFAULT_REGION, the AWS CLI's variable, is read after the config file: the
 * region deploy saved is where the stacks are.
 */
export const REGION_FLAG = {
  type: "string",
  help: "the AWS region",
  env: "AWS_REGION",
  config: "region",
  default: ({ env }: DefaultContext) => env.AWS_DEFAULT_REGION || DEFAULT_REGION,
  defaultText: `AWS_DEFAULT_REGION, else ${DEFAULT_REGION}`,
} as const satisfies FlagDef;
