/**
 * Rows as text: aligned tables for a terminal (numbers right-aligned) and CSV (RFC 4180).
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

/**
 * `rows` as an aligned text table with a header and a rule; numbers right-aligned. With
 * `maxRows`, the rows past it are replaced by one line saying how many were left out.
 */
export function formatTable(
  columns: readonly string[],
  rows: readonly Row[],
  opts: { maxRows?: number } = {},
): string {
  const shown = opts.maxRows !== undefined && opts.maxRows > 0 && rows.length > opts.maxRows
    ? rows.slice(0, opts.maxRows)
    : rows;
  const text = shown.map((r) =>
    columns.map((c) => (r[c] === null || r[c] === undefined ? "NULL" : cellText(r[c])))
  );
  const numeric = columns.map((c) =>
    rows.length > 0 && rows.every((r) => typeof r[c] !== "string")
  );
  const widths = columns.map((c, i) =>
    Math.max(displayWidth(c), ...text.map((t) => displayWidth(t[i].replace(/\s+/g, " "))))
  );
  const pad = (s: string, i: number) => {
    const flat = s.replace(/\s+/g, " ");
    const fill = " ".repeat(widths[i] - displayWidth(flat));
    return numeric[i] ? fill + flat : flat + fill;
  };
  const lines = [
    columns.map((c, i) => pad(c, i)).join("  ").trimEnd(),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...text.map((t) => t.map((s, i) => pad(s, i)).join("  ").trimEnd()),
  ];
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
