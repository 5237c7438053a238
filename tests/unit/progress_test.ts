/**
 * The progress component: a live line that fits a fake terminal of a given width (checked
 * by a small terminal model that counts wraps), plain periodic lines off a terminal, the
 * rate over a moving window, the ETA, the read counter the transform uses, and a summary
 * printed once.
 */
import assert from "node:assert/strict";
import { stringWidth } from "../deps/string_width.ts";
import {
  fmtClock,
  formatLine,
  Progress,
  type ProgressSink,
  RateWindow,
  readProgress,
  renderBar,
} from "../../lib/shell/progress.ts";

/**
 * A terminal of `width` columns that understands what Progress writes (`\r`, `\n`, the
 * erase-line sequence) and records every screen line, the widest one and whether any
 * write went past the last column (which a real terminal would wrap).
 */
class FakeTerminal implements ProgressSink {
  readonly isTerminal = true;
  written = "";
  wraps = 0;
  widest = 0;
  lines: string[] = [];
  private current = "";
  private col = 0;
  private readonly segmenter = new Intl.Segmenter();

  constructor(public width: number) {}

  columns = () => this.width;

  write(text: string): void {
    this.written += text;
    // deno-lint-ignore no-control-regex
    for (const token of text.split(/(\r|\n|\x1b\[K)/)) {
      if (token === "\r") {
        this.col = 0;
        this.current = "";
      } else if (token === "\n") {
        this.lines.push(this.current);
        this.current = "";
        this.col = 0;
      } else if (token !== "\x1b[K") {
        // (Erase-line clears what follows the cursor; Progress only sends it at column 0.)
        for (const { segment } of this.segmenter.segment(token)) {
          const w = stringWidth(segment);
          if (this.col + w > this.width) {
            this.wraps++;
            this.lines.push(this.current);
            this.current = "";
            this.col = 0;
          }
          this.current += segment;
          this.col += w;
          this.widest = Math.max(this.widest, this.col);
        }
      }
    }
  }

  /** The line the cursor is on. */
  get screen(): string {
    return this.current;
  }
}

/** A clock the test moves by hand (ms). */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const LONG_TEXT = "12,345 postings, 37,035/37,035 records acked, 0 retries, 0 errors, " +
  "poster 🌟 Ångström 日本語 ✨ and a tail long enough to pass any width";

Deno.test("on an 80-column terminal the live line never wraps and never reaches the width", () => {
  const term = new FakeTerminal(80);
  const c = clock();
  const p = new Progress("emulate", { sink: term, now: c.now, unit: "records" });
  for (let i = 1; i <= 200; i++) {
    c.advance(50);
    p.update(`${i} ${LONG_TEXT}`, { done: i * 100, total: 20_000 });
  }
  p.log('retrying 250 records to "pinpipe.pin" in 200 ms (attempt 2): ECONNRESET');
  p.update(LONG_TEXT, { done: 20_000, force: true });
  assert.equal(term.wraps, 0, "a line wrapped");
  assert.ok(term.widest <= 79, `a line took ${term.widest} columns`);
  assert.ok(term.widest >= 70, "the line uses the width it has");
  assert.match(term.screen, /^emulate: █+ 100% · [\d,]+ records\/s · 12,345 postings/);
  assert.ok(term.lines.some((l) => l.startsWith("retrying 250 records")), "the log line is kept");
});

Deno.test("the live line follows a terminal that is made narrower and drops the bar", () => {
  const term = new FakeTerminal(100);
  const c = clock();
  const p = new Progress("transform", { sink: term, now: c.now });
  c.advance(1000);
  p.update(LONG_TEXT, { done: 10, total: 40, unit: "objects" });
  assert.match(term.screen, /█/);
  term.width = 40;
  c.advance(1000);
  p.update(LONG_TEXT, { done: 20 });
  assert.equal(term.wraps, 0);
  assert.ok(stringWidth(term.screen) <= 39, term.screen);
  assert.match(term.screen, /^transform: 50% · /);
  assert.doesNotMatch(term.screen, /█/);
});

Deno.test("a known total shows a bar, the percentage and the ETA from the current rate", () => {
  const term = new FakeTerminal(120);
  const c = clock();
  const p = new Progress("seed-db", { sink: term, now: c.now, total: 10_000, unit: "rows" });
  for (let done = 0; done <= 5000; done += 100) {
    p.update(`${done}/10,000 rows`, { done });
    c.advance(1000); // 100 rows a second
  }
  c.advance(-1000);
  p.update("5,000/10,000 rows", { done: 5000, force: true });
  assert.match(term.screen, /▌?░* {1,2}50% · 100 rows\/s · ETA 0:50 · 5,000\/10,000 rows$/);
  const bar = term.screen.match(/[█▏▎▍▌▋▊▉░]+/)![0];
  assert.equal(bar.length, 29, "a quarter of the width, at most 30");
  assert.equal(bar.replace(/░/g, "").length, 15, "half of it filled (14 full, one half block)");
});

Deno.test("the rate is measured over the last seconds, not averaged since the start", () => {
  const term = new FakeTerminal(120);
  const c = clock();
  const p = new Progress("sink", { sink: term, now: c.now, unit: "records" });
  let n = 0;
  // 20 s at 1,000 records/s, then 10 s at 100/s: the average since the start is 700/s.
  for (let i = 0; i < 200; i++) {
    c.advance(100);
    n += 100;
    p.update("landing", { done: n });
  }
  assert.match(term.screen, /^sink: 1,000 records\/s · landing$/);
  for (let i = 0; i < 100; i++) {
    c.advance(100);
    n += 10;
    p.update("landing", { done: n });
  }
  assert.match(term.screen, /^sink: 100 records\/s · landing$/);
  // A stall shows as a falling rate as soon as updates come again.
  c.advance(2500);
  p.update("landing", { done: n, force: true });
  const rate = Number(term.screen.match(/^sink: ([\d.,]+) records\/s/)![1].replace(/,/g, ""));
  assert.ok(rate < 60, `rate ${rate} after a 2.5 s stall`);
});

Deno.test("the moving window measures from its oldest sample and forgets older ones", () => {
  const w = new RateWindow(1000, 100);
  w.add(0, 0);
  assert.equal(w.rate(50, 10), undefined, "too soon to measure");
  for (let t = 100; t <= 3000; t += 100) w.add(t, t * 2); // 2,000/s throughout
  assert.equal(w.rate(3000, 6000), 2000);
  w.add(3100, 6000); // stalled for 100 ms: the last second saw 1,800
  assert.equal(w.rate(3100, 6000), 1800);
});

Deno.test("off a terminal the lines are plain, whole and come every interval", () => {
  const lines: string[] = [];
  const c = clock();
  const sink: ProgressSink = { isTerminal: false, write: (t) => lines.push(t) };
  const p = new Progress("emulate", { sink, now: c.now, intervalSec: 5, unit: "records" });
  for (let i = 1; i <= 120; i++) {
    c.advance(100);
    p.update(LONG_TEXT, { done: i * 50, total: 10_000 });
  }
  assert.equal(lines.length, 2, `lines at 5 s and 10 s: ${lines.join("")}`);
  for (const l of lines) {
    assert.ok(l.endsWith("\n"));
    assert.ok(!l.includes("\x1b") && !l.includes("\r"), "no terminal control in a log");
    assert.ok(l.includes(LONG_TEXT), "not cut");
    assert.doesNotMatch(l, /█|░/, "no bar in a log");
  }
  assert.match(lines[1], /^emulate: 50% · 500 records\/s · ETA 0:10 · 12,345 postings/);
});

Deno.test("the summary is printed once, and not at all when the caller prints it on stdout", () => {
  const run = (opts: { tty: boolean; resultOnStdout?: boolean; stdoutIsTerminal?: boolean }) => {
    const out: string[] = [];
    const sink: ProgressSink = {
      isTerminal: opts.tty,
      columns: () => 80,
      write: (t) => out.push(t),
    };
    const p = new Progress("emulate", { sink, ...opts });
    p.update("working", true);
    p.done("100 records");
    p.done("100 records");
    return out.join("").split("\n").filter((l) => l.includes("100 records")).length;
  };
  assert.equal(run({ tty: true }), 1);
  assert.equal(run({ tty: false }), 1);
  assert.equal(run({ tty: true, resultOnStdout: true, stdoutIsTerminal: true }), 0);
  assert.equal(run({ tty: false, resultOnStdout: true, stdoutIsTerminal: false }), 0);
  // Stdout goes to a file: the person at the terminal still sees how it ended.
  assert.equal(run({ tty: true, resultOnStdout: true, stdoutIsTerminal: false }), 1);
});

Deno.test("the live line is cleared before the summary", () => {
  const term = new FakeTerminal(80);
  const p = new Progress("sink", { sink: term });
  p.update("1,000 records", true);
  p.done("1,000 records in 2 objects");
  assert.deepEqual(term.lines, ["sink: 1,000 records in 2 objects"]);
  assert.equal(term.screen, "");
});

Deno.test("the read counter shows objects and records read, by bytes when sizes are known", () => {
  const term = new FakeTerminal(120);
  const c = clock();
  const p = new Progress("transform", { sink: term, now: c.now });
  const r = readProgress(p, { objects: 4, bytes: 4000, what: "pin" });
  c.advance(1000);
  r.object(250, 1000);
  c.advance(1000);
  r.records(100);
  c.advance(1000);
  r.object(150, 2000);
  assert.deepEqual(r.counts, { objects: 2, records: 500, bytes: 3000 });
  c.advance(1000);
  r.what = "geo";
  r.object(0, 1000); // the last object: drawn at once
  // The rate runs from the first object read: 250 more records in the 3 s since.
  assert.match(
    term.screen,
    /^transform: █+ 100% · 83 records\/s · geo: 3\/4 objects, 500 records$/,
  );
  const plain: string[] = [];
  const q = new Progress("transform", {
    sink: { isTerminal: false, write: (t) => plain.push(t) },
    now: c.now,
    intervalSec: 1,
  });
  const unsized = readProgress(q, { objects: 10 });
  c.advance(2000);
  unsized.object(40);
  c.advance(2000);
  unsized.object(40);
  assert.deepEqual(plain, [
    "transform: 10% · 1/10 objects, 40 records\n",
    "transform: 20% · 20 records/s · ETA 0:16 · 2/10 objects, 80 records\n",
  ]);
});

Deno.test("no rate and no ETA until the work itself was measured: the wait before it is not its pace", () => {
  const term = new FakeTerminal(120);
  const c = clock();
  const p = new Progress("transform", { sink: term, now: c.now });
  const r = readProgress(p, { objects: 933, what: "reading pin" });
  c.advance(12_000); // listing the lake, starting DuckDB: nothing read yet
  r.batch(1, 10);
  assert.match(term.screen, /^transform: ░+ {3}0% · reading pin: 1\/933 objects, 10 records$/);
  c.advance(500);
  r.batch(99, 990);
  assert.doesNotMatch(term.screen, /ETA/, "half a second of work gives no ETA");
  c.advance(500);
  r.batch(100, 1000);
  // 199 objects in the 1 s since the first: 733 left take 3.7 s.
  assert.match(term.screen, / 21% · 1,990 records\/s · ETA 0:04 · reading pin: 200\/933 objects/);
});

Deno.test("each part read counts its objects against its own number, the bar against the whole", () => {
  const term = new FakeTerminal(120);
  const c = clock();
  const p = new Progress("transform", { sink: term, now: c.now });
  const r = readProgress(p, { objects: 933, unit: "lines" });
  r.begin("reading pin", 311);
  r.batch(311, 3110);
  assert.match(term.screen, / 33% · reading pin: 311\/311 objects, 3,110 lines$/);
  r.begin("reading geo", 311);
  c.advance(200);
  r.batch(1, 10);
  assert.match(term.screen, / 33% · .*reading geo: 1\/311 objects, 10 lines$/);
  assert.deepEqual(r.counts, { objects: 312, records: 3120, bytes: 0 });
});

Deno.test("lines are cut by display width: emoji and wide characters count two columns", () => {
  const line = formatLine({ label: "x", text: "🌟".repeat(50) }, 21);
  assert.ok(stringWidth(line) <= 20, line);
  assert.ok(line.endsWith("…"));
  assert.equal(formatLine({ label: "x", text: "a\nb\r\nc" }), "x: a b c");
});

Deno.test("the bar fills in eighths and the clock reads like one", () => {
  assert.equal(renderBar(0, 4), "░░░░");
  assert.equal(renderBar(0.5, 4), "██░░");
  assert.equal(renderBar(0.53, 4), "██▏░");
  assert.equal(renderBar(2, 4), "████");
  assert.equal(fmtClock(42), "0:42");
  assert.equal(fmtClock(723), "12:03");
  assert.equal(fmtClock(3723), "1:02:03");
});
