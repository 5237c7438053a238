/**
 * The emulator's dry-run target: one JSON line per record, `{"topic","key","value"}`,
 * to a file (replaced on every run) or to standard output, for inspection and piping
 * (`--out - | kcat -P …`). A record is acknowledged once its line is written.
 * @module
 */
import type { OutRecord, SendHooks, Target } from "./emulator.ts";

const encoder = new TextEncoder();

/** Something NDJSON lines are written to. */
export interface LineSink {
  write(bytes: Uint8Array): Promise<number>;
  close?(): void;
}

/** Writes records as NDJSON lines, in the order their sends were called. */
export class NdjsonTarget implements Target {
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly name: string, private readonly sink: LineSink) {}

  /** A target writing to `path` (created or truncated), or to stdout for `-`. */
  static async open(path: string): Promise<NdjsonTarget> {
    if (path === "-") return new NdjsonTarget("standard output", Deno.stdout);
    try {
      const file = await Deno.open(path, { write: true, create: true, truncate: true });
      return new NdjsonTarget(`file "${path}"`, file);
    } catch (err) {
      throw new Error(`Cannot open "${path}" for writing: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Appends one line per record; acknowledges them once written. */
  send(topic: string, records: OutRecord[], hooks: SendHooks): Promise<void> {
    let text = "";
    for (const r of records) text += `${JSON.stringify({ topic, key: r.key, value: r.value })}\n`;
    const bytes = encoder.encode(text);
    const done = this.chain.then(async () => {
      try {
        for (let off = 0; off < bytes.length;) off += await this.sink.write(bytes.subarray(off));
      } catch (err) {
        throw new Error(
          `Cannot write key "${records[0].key}" of topic "${topic}" to ${this.name}: ${
            (err as Error).message
          }`,
          { cause: err },
        );
      }
      hooks.onAck(records);
    });
    // Later writes wait for this one, whatever its outcome.
    this.chain = done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    await this.chain;
    if (this.sink !== Deno.stdout) this.sink.close?.();
  }
}
