/**
 * The one path the tasks' log, retry and progress lines take to stderr: every line is
 * passed through lib/shell/redact.ts first, so a password typed inside a URL (`--rest-url
 * http://u:pw@…`, `--connect-url`, a `--source` without a scheme) or a registered secret
 * never reaches the terminal or a log file, whichever part of pinpipe wrote the line.
 * @module
 */
import {
  Progress,
  type ProgressCounts,
  type ProgressOptions,
  type ProgressSink,
  stderrSink,
} from "./progress.ts";
import { redact } from "./redact.ts";

/** `sink` with everything written to it redacted (default: stderr). */
export function redactingSink(sink: ProgressSink = stderrSink()): ProgressSink {
  return {
    isTerminal: sink.isTerminal,
    columns: sink.columns,
    write: (text) => sink.write(redact(text)),
  };
}

let stderr: ProgressSink | undefined;

/** Prints one log line on stderr, redacted. */
export function logLine(line: string): void {
  stderr ??= redactingSink();
  stderr.write(`${line}\n`);
}

/**
 * A progress reporter whose lines are redacted before they are laid out (a live line cut to
 * the terminal's width could otherwise cut a password before its `@`) and again on output.
 */
class RedactingProgress extends Progress {
  override update(text: string, counts?: boolean | ProgressCounts): void {
    super.update(redact(text), counts);
  }
  override log(line: string): void {
    super.log(redact(line));
  }
  override done(summary: string): void {
    super.done(redact(summary));
  }
}

/** A progress reporter whose lines (updates, logs, summary) are redacted. */
export function taskProgress(label: string, opts: ProgressOptions = {}): Progress {
  return new RedactingProgress(label, { ...opts, sink: redactingSink(opts.sink) });
}
