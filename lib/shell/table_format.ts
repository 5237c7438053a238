/**
 * Rows as text: aligned tables for a terminal (numbers right-aligned, fitted to 80 columns by
 * wrapping long text cells) and CSV (RFC 4180).
 * @module
 */

/** One value of a result row. */
export type Cell = string | number | null;

/** A row of a result, by column name. */
export type Row = Record<string, Cell>;

/** How a cell reads in a table or a CSV: NULL as empty in CSV, as "NULL" in a table. */
export function cellText(value: Cell): string {
  if (value === null) return "";
  return typeof value === "number" ? String(value) : value;
}

/** Display width of `text`: code points, with East Asian wide characters and emoji as two. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (
      cp < 0x20 || (cp >= 0x300 && cp < 0x370) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)
    ) {
      continue; // control characters, combining marks, joiners and variation selectors
    }
    w += (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd)
      ? 2
      : 1;
  }
  return w;
}

/** The width answer tables are fitted to: a terminal's classic 80 columns. */
export const TABLE_WIDTH = 80;

/** A text column gives up columns down to its header's width, and to no fewer than this. */
const MIN_TEXT_WIDTH = 12;

/**
 * Column widths fitted into `width` (with the two spaces between columns). While the table is
 * too wide, one column gives up one column of width: of those above their floor, the one where
 * that wraps the fewest cells (`cells` holds each column's cell widths), the widest on a tie.
 * Columns without a floor (numbers) keep their width; a table that cannot fit at its floors
 * stays wider than `width`.
 */
export function fitWidths(
  cells: readonly (readonly number[])[],
  widths: readonly number[],
  floors: readonly (number | undefined)[],
  width: number,
): number[] {
  const out = [...widths];
  let total = out.reduce((n, w) => n + w, 0) + 2 * (out.length - 1);
  const wrapped = (i: number, w: number) => cells[i].filter((c) => c > w).length;
  while (total > width) {
    let best = -1;
    let bestCost = Infinity;
    for (let i = 0; i < out.length; i++) {
      const floor = floors[i];
      if (floor === undefined || out[i] <= floor) continue;
      const cost = wrapped(i, out[i] - 1);
      if (cost < bestCost || (cost === bestCost && out[i] > out[best])) {
        [best, bestCost] = [i, cost];
      }
    }
    if (best < 0) break;
    out[best]--;
    total--;
  }
  return out;
}

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * `text` in lines of at most `width` display columns: broken at spaces, and inside a word only
 * where the word alone is wider (between characters, never inside one).
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  const push = (word: string) => {
    const joined = line ? `${line} ${word}` : word;
    if (displayWidth(joined) <= width) {
      line = joined;
      return;
    }
    if (line) lines.push(line);
    line = "";
    for (const { segment } of graphemes.segment(word)) {
      if (line && displayWidth(line + segment) > width) {
        lines.push(line);
        line = "";
      }
      line += segment;
    }
  };
  for (const word of text.split(" ").filter(Boolean)) push(word);
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * `rows` as an aligned text table with a header and a rule; numbers right-aligned. With
 * `maxRows`, the rows past it are replaced by one line saying how many were left out. The
 * table fits `width` columns (default TABLE_WIDTH): text columns too wide for it are narrowed
 * and their long cells wrap onto the lines below, inside their column; numbers are never cut.
 */
export function formatTable(
  columns: readonly string[],
  rows: readonly Row[],
  opts: { maxRows?: number; width?: number } = {},
): string {
  const shown = opts.maxRows !== undefined && opts.maxRows > 0 && rows.length > opts.maxRows
    ? rows.slice(0, opts.maxRows)
    : rows;
  const text = shown.map((r) =>
    columns.map((c) =>
      (r[c] === null || r[c] === undefined ? "NULL" : cellText(r[c])).replace(/\s+/g, " ")
    )
  );
  const numeric = columns.map((c) =>
    rows.length > 0 && rows.every((r) => typeof r[c] !== "string")
  );
  const cells = columns.map((_, i) => text.map((t) => displayWidth(t[i])));
  const widths = fitWidths(
    cells,
    columns.map((c, i) => Math.max(displayWidth(c), ...cells[i])),
    columns.map((c, i) => numeric[i] ? undefined : Math.max(displayWidth(c), MIN_TEXT_WIDTH)),
    opts.width ?? TABLE_WIDTH,
  );
  const pad = (s: string, i: number) => {
    const fill = " ".repeat(Math.max(0, widths[i] - displayWidth(s)));
    return numeric[i] ? fill + s : s + fill;
  };
  const line = (cells: string[]) => cells.map((s, i) => pad(s, i)).join("  ").trimEnd();
  const lines = [line([...columns]), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const t of text) {
    const pieces = t.map((s, i) => displayWidth(s) > widths[i] ? wrapText(s, widths[i]) : [s]);
    const height = Math.max(...pieces.map((p) => p.length));
    for (let j = 0; j < height; j++) lines.push(line(pieces.map((p) => p[j] ?? "")));
  }
  if (shown.length < rows.length) {
    lines.push(
      `… ${rows.length - shown.length} more row${rows.length - shown.length === 1 ? "" : "s"}`,
    );
  }
  if (rows.length === 0) lines.push("(no rows)");
  return lines.join("\n");
}

/** `rows` as CSV with a header line (RFC 4180 quoting, `\n` line ends, NULL as empty). */
export function toCsv(columns: readonly string[], rows: readonly Row[]): string {
  const field = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const lines = [columns.map(field).join(",")];
  for (const r of rows) lines.push(columns.map((c) => field(cellText(r[c] ?? null))).join(","));
  return lines.join("\n") + "\n";
}
