/**
 * How the report spells numbers and lists, in its charts and its page alike, and the escaping
 * of every text the page shows.
 * @module
 */

/** `part` out of `whole` as a percentage with one decimal (`41.7%`); empty without a whole. */
export const pct = (part: number, whole: number) =>
  whole > 0 ? `${(Math.round((part / whole) * 1000) / 10).toFixed(1)}%` : "";

/** A number with its digits grouped and at most two decimals (`125,000`, `2.5`). */
export const num = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 2 });

/** `a, b and c` */
export function listText(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
