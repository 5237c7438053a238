/**
 * A JSON scanner over bytes that checks the grammar (RFC 8259, UTF-8 included) and hands back
 * where each value starts and ends, without building JavaScript values. The REST proxy uses it
 * so a record's key and value reach Kafka as the JSON text the client sent: numbers are never
 * rounded through a double (`12345678901234567890`, `1.0`, `1e2` stay as written), string
 * escapes and object key order stay as written. Only whitespace between tokens is dropped
 * (`compact`), so a pretty-printed request still gives one-line records, as the lake's
 * newline-delimited files need.
 * @module
 */

/** Why a text is not JSON, and the byte offset where that was found. */
export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
  constructor(message: string, readonly at: number) {
    super(`${message} at byte ${at}`);
  }
}

/** Thrown when the input ends inside a value (a stream may still bring the rest). */
export class JsonIncomplete extends Error {
  override name = "JsonIncomplete";
  constructor() {
    super("Unexpected end of JSON input");
  }
}

/** Deepest nesting accepted; deeper input is refused rather than risking the stack. */
export const MAX_DEPTH = 512;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The position of the first byte at or after `i` that is not JSON whitespace. */
export function skipWs(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** A JSON value's bytes are `b[start, end)`. */
export interface Span {
  start: number;
  end: number;
}

/**
 * Scans one JSON value starting exactly at `i` and returns the index just after it.
 * Throws JsonSyntaxError on bad input and JsonIncomplete when the bytes run out first.
 */
export function scanValue(b: Uint8Array, i: number, depth = 0): number {
  if (i >= b.length) throw new JsonIncomplete();
  const c = b[i];
  if (c === QUOTE) return scanString(b, i);
  if (c === 0x7b) return scanObject(b, i, depth + 1, undefined);
  if (c === 0x5b) return scanArray(b, i, depth + 1, undefined);
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return scanNumber(b, i);
  if (c === 0x74) return scanLiteral(b, i, TRUE);
  if (c === 0x66) return scanLiteral(b, i, FALSE);
  if (c === 0x6e) return scanLiteral(b, i, NULL);
  throw new JsonSyntaxError(`Unexpected ${describe(c)}`, i);
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

function scanLiteral(b: Uint8Array, i: number, lit: number[]): number {
  for (let k = 0; k < lit.length; k++) {
    if (i + k >= b.length) throw new JsonIncomplete();
    if (b[i + k] !== lit[k]) throw new JsonSyntaxError(`Unexpected ${describe(b[i + k])}`, i + k);
  }
  return i + lit.length;
}

function describe(c: number | undefined): string {
  if (c === undefined) return "end of input";
  if (c >= 0x20 && c < 0x7f) return `character "${String.fromCharCode(c)}"`;
  return `byte 0x${c.toString(16).padStart(2, "0")}`;
}

function digits(b: Uint8Array, i: number): number {
  const start = i;
  while (b[i] >= 0x30 && b[i] <= 0x39) i++;
  if (i === start) {
    if (i >= b.length) throw new JsonIncomplete();
    throw new JsonSyntaxError(`Expected a digit, found ${describe(b[i])}`, i);
  }
  return i;
}

function scanNumber(b: Uint8Array, i: number): number {
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else i = digits(b, i);
  if (b[i] === 0x2e) i = digits(b, i + 1);
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    i = digits(b, i);
  }
  return i;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Scans a string starting at its opening quote; checks escapes and UTF-8. */
export function scanString(b: Uint8Array, i: number): number {
  const n = b.length;
  i++;
  for (;;) {
    // The closing quote is found natively; the bytes before it only need a tight check.
    const q = b.indexOf(QUOTE, i);
    const stop = q < 0 ? n : q;
    let k = i;
    while (k < stop) {
      const c = b[k];
      if (c < 0x20 || c === BACKSLASH || c >= 0x80) break;
      k++;
    }
    if (k === stop) {
      if (q < 0) throw new JsonIncomplete();
      return q + 1;
    }
    const c = b[k];
    if (c === BACKSLASH) {
      if (k + 1 >= n) throw new JsonIncomplete();
      const e = b[k + 1];
      if (e === 0x75) {
        for (let j = 2; j < 6; j++) {
          if (k + j >= n) throw new JsonIncomplete();
          if (!isHex(b[k + j])) throw new JsonSyntaxError("Invalid \\u escape", k);
        }
        i = k + 6;
      } else if (
        e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 ||
        e === 0x6e || e === 0x72 || e === 0x74
      ) {
        i = k + 2;
      } else {
        throw new JsonSyntaxError(`Invalid escape "\\${String.fromCharCode(e)}"`, k);
      }
    } else if (c < 0x20) {
      throw new JsonSyntaxError(`Unescaped control ${describe(c)} in a string`, k);
    } else {
      i = utf8(b, k);
    }
  }
}

/** Checks one well-formed UTF-8 sequence (no overlongs, no surrogates) at `i`. */
function utf8(b: Uint8Array, i: number): number {
  const c = b[i];
  let len: number, lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
  } else throw new JsonSyntaxError("Invalid UTF-8", i);
  for (let k = 1; k < len; k++) {
    if (i + k >= b.length) throw new JsonIncomplete();
    const d = b[i + k];
    if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) {
      throw new JsonSyntaxError("Invalid UTF-8", i);
    }
  }
  return i + len;
}

/** Called for each member of an object: its name's span and its value's span. */
export type MemberFn = (name: Span, value: Span) => void;
/** Called for each element of an array. */
export type ElementFn = (value: Span, index: number) => void;

/** Scans an object at `i` (its `{`), calling `onMember` for each member. */
export function scanObject(
  b: Uint8Array,
  i: number,
  depth: number,
  onMember: MemberFn | undefined,
): number {
  if (depth > MAX_DEPTH) throw new JsonSyntaxError(`Nesting deeper than ${MAX_DEPTH}`, i);
  i = skipWs(b, i + 1);
  if (b[i] === 0x7d) return i + 1;
  for (;;) {
    if (i >= b.length) throw new JsonIncomplete();
    if (b[i] !== QUOTE) {
      throw new JsonSyntaxError(`Expected a member name, found ${describe(b[i])}`, i);
    }
    const nameStart = i;
    i = scanString(b, i);
    const nameEnd = i;
    i = skipWs(b, i);
    if (i >= b.length) throw new JsonIncomplete();
    if (b[i] !== 0x3a) throw new JsonSyntaxError(`Expected ":", found ${describe(b[i])}`, i);
    i = skipWs(b, i + 1);
    const valueStart = i;
    i = scanValue(b, i, depth);
    onMember?.({ start: nameStart, end: nameEnd }, { start: valueStart, end: i });
    i = skipWs(b, i);
    if (i >= b.length) throw new JsonIncomplete();
    if (b[i] === 0x2c) {
      i = skipWs(b, i + 1);
      continue;
    }
    if (b[i] === 0x7d) return i + 1;
    throw new JsonSyntaxError(`Expected "," or "}", found ${describe(b[i])}`, i);
  }
}

/** Scans an array at `i` (its `[`), calling `onElement` for each element. */
export function scanArray(
  b: Uint8Array,
  i: number,
  depth: number,
  onElement: ElementFn | undefined,
): number {
  if (depth > MAX_DEPTH) throw new JsonSyntaxError(`Nesting deeper than ${MAX_DEPTH}`, i);
  i = skipWs(b, i + 1);
  if (b[i] === 0x5d) return i + 1;
  for (let n = 0;; n++) {
    const start = i;
    i = scanValue(b, i, depth);
    onElement?.({ start, end: i }, n);
    i = skipWs(b, i);
    if (i >= b.length) throw new JsonIncomplete();
    if (b[i] === 0x2c) {
      i = skipWs(b, i + 1);
      continue;
    }
    if (b[i] === 0x5d) return i + 1;
    throw new JsonSyntaxError(`Expected "," or "]", found ${describe(b[i])}`, i);
  }
}

/** The JSON type at the start of a span, for messages and checks. */
export function typeAt(
  b: Uint8Array,
  s: Span,
): "object" | "array" | "string" | "number" | "boolean" | "null" {
  const c = b[s.start];
  if (c === 0x7b) return "object";
  if (c === 0x5b) return "array";
  if (c === QUOTE) return "string";
  if (c === 0x74 || c === 0x66) return "boolean";
  if (c === 0x6e) return "null";
  return "number";
}

const decoder = new TextDecoder();

/** The decoded text of a string span (escapes resolved). */
export function stringAt(b: Uint8Array, s: Span): string {
  // Most member names and short strings have no escapes: decode the bytes between the quotes.
  for (let i = s.start + 1; i < s.end - 1; i++) {
    if (b[i] === BACKSLASH) return JSON.parse(decoder.decode(b.subarray(s.start, s.end)));
  }
  return decoder.decode(b.subarray(s.start + 1, s.end - 1));
}

/** The name of a member, compared without allocating when it is plain ASCII. */
export function nameIs(b: Uint8Array, s: Span, name: string): boolean {
  if (s.end - s.start !== name.length + 2) return stringAt(b, s) === name;
  for (let k = 0; k < name.length; k++) {
    if (b[s.start + 1 + k] !== name.charCodeAt(k)) return stringAt(b, s) === name;
  }
  return true;
}

/** Whether the span holds whitespace outside its strings (so `compact` would change it). */
export function hasWs(b: Uint8Array, s: Span): boolean {
  for (let i = s.start; i < s.end; i++) {
    const c = b[i];
    if (c === QUOTE) i = scanString(b, i) - 1;
    else if (isWs(c)) return true;
  }
  return false;
}

/**
 * The span's bytes with the whitespace between tokens removed; the span itself (no copy)
 * when it has none. Every token keeps its exact bytes.
 */
export function compact(b: Uint8Array, s: Span): Uint8Array {
  if (!hasWs(b, s)) return b.subarray(s.start, s.end);
  const out = new Uint8Array(s.end - s.start);
  let o = 0;
  for (let i = s.start; i < s.end; i++) {
    const c = b[i];
    if (c === QUOTE) {
      const e = scanString(b, i);
      out.set(b.subarray(i, e), o);
      o += e - i;
      i = e - 1;
    } else if (!isWs(c)) {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

/** An integer span as a safe integer, or undefined when it is not a plain integer in range. */
export function intAt(b: Uint8Array, s: Span): number | undefined {
  const text = decoder.decode(b.subarray(s.start, s.end));
  if (!/^-?(0|[1-9]\d*)$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Checks that `b[start, end)` is exactly one JSON value with optional surrounding whitespace;
 * returns the value's span.
 */
export function checkDocument(b: Uint8Array, start = 0, end = b.length): Span {
  const view = end === b.length && start === 0 ? b : b.subarray(start, end);
  let i = skipWs(view, 0);
  if (i >= view.length) throw new JsonSyntaxError("No JSON value", i);
  const s = i;
  try {
    i = scanValue(view, i);
  } catch (err) {
    if (err instanceof JsonIncomplete) {
      throw new JsonSyntaxError("Unexpected end of input", view.length);
    }
    throw err;
  }
  const e = i;
  i = skipWs(view, i);
  if (i !== view.length) {
    throw new JsonSyntaxError(`Unexpected ${describe(view[i])} after the value`, i);
  }
  return { start: start + s, end: start + e };
}

/** Whether `b` is one JSON document (surrounding whitespace allowed). */
export function isJson(b: Uint8Array): boolean {
  try {
    checkDocument(b);
    return true;
  } catch {
    return false;
  }
}
