/**
 * Progress for long work, on stderr. On a terminal: one live line redrawn in place and cut
 * to the terminal's width (it never wraps), with a bar, a percentage and an ETA when the
 * total is known, and the current rate: measured over the last few seconds, not averaged
 * since the start, so a stall or a burst shows at once. Elsewhere (logs, CI): a plain line
 * every few seconds. At the end, one closing summary.
 *
 * A caller passes its own text; passing counts as well (`update(text, { done, total, count,
 * unit })`) adds the rate, bar, percentage and ETA. `readProgress` wraps a reporter for a
 * reader going through lake objects (the transform).
 * @module
 */
import { cliTruncate } from "../deps/cli_truncate.ts";

/** Where progress goes; a test passes its own to capture the lines. */
export interface ProgressSink {
  write(text: string): void;
  isTerminal: boolean;
  /**
   * The terminal's width in columns, where the sink knows it (a test's fake terminal).
   * A terminal sink without it is measured with `Deno.consoleSize()`.
   */
  columns?: () => number;
}

const encoder = new TextEncoder();

/** The width of the terminal this process writes to, 80 when there is none to ask. */
export function terminalColumns(): number {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : 80;
  } catch {
    return 80;
  }
}

/** Standard error as a ProgressSink. */
export function stderrSink(): ProgressSink {
  let tty = false;
  try {
    tty = Deno.stderr.isTerminal();
  } catch {
    tty = false;
  }
  return {
    isTerminal: tty,
    columns: terminalColumns,
    write: (text) => {
      try {
        Deno.stderr.writeSync(encoder.encode(text));
      } catch {
        // A closed stderr must not kill the work it reports on.
      }
    },
  };
}

/** A sink that drops everything (quiet mode, embedded use). */
export const silentSink: ProgressSink = { isTerminal: false, write: () => {} };

/** Options for `Progress`. */
export interface ProgressOptions {
  sink?: ProgressSink;
  /** Seconds between plain lines when not on a terminal. Default 5. */
  intervalSec?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
  /** The amount of work, when known from the start (it may also come with each update). */
  total?: number;
  /** What the rate counts ("records"); may also come with each update. */
  unit?: string;
  /** Seconds the current rate is measured over. Default 5. */
  windowSec?: number;
  /**
   * The caller prints the closing summary itself, on stdout, as its result: `done()` then
   * only clears the live line, so the summary is not printed twice. It still writes it to
   * a terminal when stdout goes elsewhere (a file, a pipe), so the person watching sees
   * how the work ended.
   */
  resultOnStdout?: boolean;
  /** Whether stdout is a terminal (default: asked of Deno), for tests. */
  stdoutIsTerminal?: boolean;
}

/** Counts that come with an update; each is kept until the next update that has it. */
export interface ProgressCounts {
  /** Work done so far, in the unit of `total`. */
  done?: number;
  /** All the work, when known: a bar, a percentage and an ETA are shown. */
  total?: number;
  /** The figure whose rate is shown (default: `done`). */
  count?: number;
  /** What `count` counts, shown with the rate ("records"). */
  unit?: string;
  /** Draw now, even if a line was drawn a moment ago. */
  force?: boolean;
  /**
   * A step with nothing to count: the line shows the text alone (no stale bar, rate or ETA
   * from the step before) until an update brings counts again.
   */
  textOnly?: boolean;
}

/**
 * A rate over a moving window: values are sampled as they come and the rate is measured
 * from the newest sample at least `windowMs` old (or the oldest one there is) to now.
 */
export class RateWindow {
  private samples: { t: number; v: number }[] = [];
  private readonly stepMs: number;

  constructor(readonly windowMs = 5000, readonly minSpanMs = 250) {
    // About 20 samples a window: enough for a smooth rate, a fixed amount of memory.
    this.stepMs = windowMs / 20;
  }

  /** Records that the counted figure was `v` at time `t` (ms). */
  add(t: number, v: number): void {
    const last = this.samples[this.samples.length - 1];
    if (!last || t - last.t >= this.stepMs) this.samples.push({ t, v });
    while (this.samples.length > 1 && this.samples[1].t <= t - this.windowMs) {
      this.samples.shift();
    }
  }

  /**
   * Per second, from the window's first sample to `v` at `t`; undefined until the samples span
   * `minSpanMs` (default the window's own).
   */
  rate(t: number, v: number, minSpanMs = this.minSpanMs): number | undefined {
    const first = this.samples[0];
    if (!first || t - first.t < minSpanMs) return undefined;
    return Math.max(0, (v - first.v) / (t - first.t)) * 1000;
  }
}

/**
 * How long the work must have been measured before an ETA is shown: the first counts only
 * seed the rate (whatever came before them, such as listing a lake or opening a database, is
 * not the work's pace), and an ETA from a fraction of a second of work swings by minutes.
 */
export const ETA_MIN_SPAN_MS = 1000;

/** What one progress line shows. */
export interface LineParts {
  label: string;
  text: string;
  /** Fraction done, 0..1, when the total is known. */
  fraction?: number;
  /** `1,234 records/s` */
  rate?: string;
  /** Seconds left. */
  etaSec?: number;
}

const PARTIAL = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/** A bar of `width` columns, filled to `fraction` in eighths of a column. */
export function renderBar(fraction: number, width: number): string {
  const eighths = Math.round(Math.min(1, Math.max(0, fraction)) * width * 8);
  const full = Math.floor(eighths / 8);
  const part = PARTIAL[eighths % 8];
  return "█".repeat(full) + part + "░".repeat(width - full - (part ? 1 : 0));
}

/**
 * One progress line. With `columns` (a terminal): a bar where there is room, the whole
 * line cut to `columns - 1` display columns (the last one is left free: some terminals
 * wrap as soon as it is written). Without: a plain line for a log, never cut.
 */
export function formatLine(p: LineParts, columns?: number): string {
  const head: string[] = [];
  if (p.fraction !== undefined) {
    const pct = `${Math.floor(Math.min(1, Math.max(0, p.fraction)) * 100)}%`;
    if (columns !== undefined && columns - 1 >= 50) {
      const barWidth = Math.min(30, Math.max(10, Math.floor((columns - 1) / 4)));
      head.push(`${renderBar(p.fraction, barWidth)} ${pct.padStart(4)}`);
    } else {
      head.push(pct);
    }
  }
  if (p.rate) head.push(p.rate);
  if (p.etaSec !== undefined && Number.isFinite(p.etaSec)) head.push(`ETA ${fmtClock(p.etaSec)}`);
  const text = p.text.replace(/\s*[\r\n]+\s*/g, " ");
  const line = `${p.label}: ${[...head, ...(text ? [text] : [])].join(" · ")}`;
  return columns === undefined ? line : cliTruncate(line, Math.max(1, columns - 1));
}

/** A progress reporter: call `update(text, counts?)` often, `done(summary)` once. */
export class Progress {
  readonly sink: ProgressSink;
  readonly started: number;
  private lastDraw: number;
  private line = "";
  private drawn = false;
  private finished = false;
  private text = "";
  private doneN?: number;
  private countN?: number;
  private total?: number;
  private unit?: string;
  private countsShown = true;
  private readonly doneRate: RateWindow;
  private readonly countRate: RateWindow;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly resultOnStdout: boolean;
  private readonly stdoutIsTerminal: () => boolean;

  constructor(readonly label: string, opts: ProgressOptions = {}) {
    this.sink = opts.sink ?? stderrSink();
    this.now = opts.now ?? (() => performance.now());
    this.intervalMs = (opts.intervalSec ?? 5) * 1000;
    this.started = this.now();
    // A terminal shows the first update at once; a log gets its first line after an interval.
    this.lastDraw = this.sink.isTerminal ? -Infinity : this.started;
    this.total = opts.total;
    this.unit = opts.unit;
    const windowMs = (opts.windowSec ?? 5) * 1000;
    // Both rates start at the first update that brings counts, not here: the work may begin
    // long after the reporter (a listing, a connection), and that wait is not its pace.
    this.doneRate = new RateWindow(windowMs);
    this.countRate = new RateWindow(windowMs);
    this.resultOnStdout = opts.resultOnStdout ?? false;
    this.stdoutIsTerminal = opts.stdoutIsTerminal !== undefined
      ? () => opts.stdoutIsTerminal!
      : () => {
        try {
          return Deno.stdout.isTerminal();
        } catch {
          return false;
        }
      };
  }

  /** Seconds since the reporter was created. */
  elapsedSec(): number {
    return (this.now() - this.started) / 1000;
  }

  /**
   * Shows `text` now if enough time has passed since the last line (or `force`). With
   * counts, the line also shows the current rate, and a bar, percentage and ETA once the
   * total is known. `update(text, true)` is `update(text, { force: true })`.
   */
  update(text: string, counts: boolean | ProgressCounts = {}): void {
    const c = typeof counts === "boolean" ? { force: counts } : counts;
    const t = this.now();
    if (c.textOnly) this.countsShown = false;
    else if (c.done !== undefined || c.count !== undefined) this.countsShown = true;
    if (c.total !== undefined) this.total = c.total;
    if (c.unit !== undefined) this.unit = c.unit;
    if (c.done !== undefined) {
      this.doneN = c.done;
      this.doneRate.add(t, c.done);
    }
    const count = c.count ?? c.done;
    if (count !== undefined) {
      this.countN = count;
      this.countRate.add(t, count);
    }
    this.text = text;
    const every = this.sink.isTerminal ? 100 : this.intervalMs;
    if (!c.force && t - this.lastDraw < every) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** What the line shows at time `t`. */
  private parts(t: number): LineParts {
    const p: LineParts = { label: this.label, text: this.text };
    if (!this.countsShown) return p;
    if (this.countN !== undefined) {
      const r = this.countRate.rate(t, this.countN);
      if (r !== undefined) p.rate = `${fmtCount(r)} ${this.unit ?? "items"}/s`;
    }
    if (this.total !== undefined && this.total > 0 && this.doneN !== undefined) {
      p.fraction = this.doneN / this.total;
      const r = this.doneRate.rate(t, this.doneN, ETA_MIN_SPAN_MS);
      const left = this.total - this.doneN;
      if (left > 0 && r) p.etaSec = left / r;
    }
    return p;
  }

  private draw(t: number): void {
    if (this.sink.isTerminal) {
      const columns = this.sink.columns?.() ?? terminalColumns();
      this.line = formatLine(this.parts(t), columns);
      this.sink.write(`\r\x1b[K${this.line}`);
      this.drawn = true;
    } else {
      this.sink.write(`${formatLine(this.parts(t))}\n`);
    }
  }

  /** A log line that does not disturb the live line. */
  log(line: string): void {
    if (this.drawn) this.sink.write("\r\x1b[K");
    this.sink.write(`${line}\n`);
    if (this.drawn) this.sink.write(this.line);
  }

  /**
   * Clears the live line and prints the closing summary (once: later calls do nothing).
   * With `resultOnStdout` the summary is the caller's to print; see `ProgressOptions`.
   */
  done(summary: string): void {
    if (this.drawn) this.sink.write("\r\x1b[K");
    this.drawn = false;
    if (this.finished) return;
    this.finished = true;
    if (this.resultOnStdout && !(this.sink.isTerminal && !this.stdoutIsTerminal())) return;
    this.sink.write(`${this.label}: ${summary}\n`);
  }
}

/** What a reader reports while it reads lake objects; see `readProgress`. */
export interface ReadProgress {
  /** Names what is being read now (`"pin"`), shown first on the line. */
  what: string;
  /**
   * Starts a part of the reading (a topic) of `objects` objects: the line then counts that
   * part's objects and records against its own total (`reading geo: 12/311 objects`), while
   * the bar and ETA keep going over the whole.
   */
  begin(what: string, objects: number): void;
  /** `n` objects read to their end at once, with `records` records and `bytes` in all. */
  batch(n: number, records?: number, bytes?: number): void;
  /**
   * One more object read to its end, with `records` more records and its `bytes`. Records
   * already reported with `records()` are not passed again: each record is counted once.
   */
  object(records?: number, bytes?: number): void;
  /** `n` more records read from an object not finished yet (a large object, streamed). */
  records(n: number): void;
  /** Objects, records and bytes read so far. */
  readonly counts: { objects: number; records: number; bytes: number };
}

/**
 * Progress for a reader going through lake objects, as the transform reads the lake: the
 * line shows `<what>: 120/375 objects, 45,000 records` (or another `unit`: the transform
 * counts lines), its rate over the last seconds, and a bar, percentage and ETA by bytes (by
 * objects where sizes are unknown).
 * `objects` and `bytes` are what will be read in all (the listing's totals). Call
 * `object(records, bytes)` after each object and, while a large object is read in pieces,
 * `records(n)` as records come. Lines are throttled here; calling per record is fine.
 */
export function readProgress(
  progress: Progress,
  opts: { objects: number; bytes?: number; what?: string; unit?: string },
): ReadProgress {
  const unit = opts.unit ?? "records";
  const counts = { objects: 0, records: 0, bytes: 0 };
  // The part being read, once `begin` named one: its own objects and records.
  let part: { objects: number; total: number; records: number } | undefined;
  const byBytes = (opts.bytes ?? 0) > 0;
  const show = (force: boolean) => {
    const [objects, total, records] = part
      ? [part.objects, part.total, part.records]
      : [counts.objects, opts.objects, counts.records];
    const text = `${r.what ? `${r.what}: ` : ""}${fmtInt(objects)}/${fmtInt(total)} objects, ${
      fmtInt(records)
    } ${unit}`;
    progress.update(text, {
      done: byBytes ? counts.bytes : counts.objects,
      total: byBytes ? opts.bytes : opts.objects,
      count: counts.records,
      unit,
      force,
    });
  };
  const r: ReadProgress = {
    what: opts.what ?? "",
    counts,
    begin(what, objects) {
      r.what = what;
      part = { objects: 0, total: objects, records: 0 };
    },
    batch(n, records = 0, bytes = 0) {
      counts.objects += n;
      counts.records += records;
      counts.bytes += bytes;
      if (part) {
        part.objects += n;
        part.records += records;
      }
      show(counts.objects === opts.objects || (part !== undefined && part.objects === part.total));
    },
    object(records = 0, bytes = 0) {
      r.batch(1, records, bytes);
    },
    records(n) {
      counts.records += n;
      if (part) part.records += n;
      show(false);
    },
  };
  return r;
}

/** `12,345` */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** `12,345`, or `2.5` below 10 (a slow rate still shows it moves). */
export function fmtCount(n: number): string {
  return n < 10 ? (Math.round(n * 10) / 10).toLocaleString("en-US") : fmtInt(n);
}

/** `12.3 s` or `850 ms` */
export function fmtSec(sec: number): string {
  return sec < 1 ? `${Math.round(sec * 1000)} ms` : `${sec.toFixed(1)} s`;
}

/** A duration as a clock: `0:42`, `12:03`, `1:02:03`. */
export function fmtClock(sec: number): string {
  const s = Math.max(0, Math.ceil(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** `1.5 MiB` */
export function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** `12,345/s` over `sec` seconds (0 when no time has passed). */
export function fmtRate(count: number, sec: number): string {
  return `${fmtInt(sec > 0 ? count / sec : 0)}/s`;
}
