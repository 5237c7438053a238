/**
 * Progress for long work, on stderr: a live line redrawn in place on a terminal, a plain
 * line every few seconds otherwise (logs, CI), and a closing summary line.
 * @module
 */

/** Where progress goes; a test passes its own to capture the lines. */
export interface ProgressSink {
  write(text: string): void;
  isTerminal: boolean;
}

const encoder = new TextEncoder();

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
}

/** A progress reporter: call `update(text)` often, `done(summary)` once. */
export class Progress {
  readonly sink: ProgressSink;
  readonly started: number;
  private lastDraw = 0;
  private lastText = "";
  private drawn = false;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(readonly label: string, opts: ProgressOptions = {}) {
    this.sink = opts.sink ?? stderrSink();
    this.now = opts.now ?? (() => performance.now());
    this.intervalMs = (opts.intervalSec ?? 5) * 1000;
    this.started = this.now();
  }

  /** Seconds since the reporter was created. */
  elapsedSec(): number {
    return (this.now() - this.started) / 1000;
  }

  /** Shows `text` now if enough time has passed since the last line (or `force`). */
  update(text: string, force = false): void {
    this.lastText = text;
    const t = this.now();
    const every = this.sink.isTerminal ? 100 : this.intervalMs;
    if (!force && t - this.lastDraw < every) return;
    this.lastDraw = t;
    if (this.sink.isTerminal) {
      this.sink.write(`\r\x1b[K${this.label}: ${text}`);
      this.drawn = true;
    } else {
      this.sink.write(`${this.label}: ${text}\n`);
    }
  }

  /** A log line that does not disturb the live line. */
  log(line: string): void {
    if (this.drawn) this.sink.write("\r\x1b[K");
    this.sink.write(`${line}\n`);
    if (this.drawn) this.sink.write(`${this.label}: ${this.lastText}`);
  }

  /** Clears the live line and prints the closing summary. */
  done(summary: string): void {
    if (this.drawn) this.sink.write("\r\x1b[K");
    this.drawn = false;
    this.sink.write(`${this.label}: ${summary}\n`);
  }
}

/** `12,345` */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** `12.3 s` or `850 ms` */
export function fmtSec(sec: number): string {
  return sec < 1 ? `${Math.round(sec * 1000)} ms` : `${sec.toFixed(1)} s`;
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
