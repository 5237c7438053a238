/**
 * Reads a v2 produce request body (`{"records":[{"key","value","partition"}…]}`) into Kafka
 * keys and values without passing them through JavaScript values: with the json format a
 * record's key and value are the exact JSON text the client sent for them (whitespace between
 * tokens dropped), with the binary format they are the base64-decoded bytes.
 *
 * Status codes as Confluent's proxy answers them: malformed JSON, invalid UTF-8, bad base64 and
 * fields of the wrong type are 400; valid JSON that is not a produce request (no records, an
 * empty list, a negative partition, schema fields with a schema-less format) is 422.
 * @module
 */
import { Buffer } from "node:buffer";
import { badRequest, HttpError, unprocessable } from "./http.ts";
import {
  compact,
  intAt,
  JsonIncomplete,
  JsonSyntaxError,
  nameIs,
  scanArray,
  scanObject,
  skipWs,
  type Span,
  stringAt,
  typeAt,
} from "./json_scan.ts";

/** The embedded format of a v2 request. */
export type Format = "json" | "binary";

/** One record ready for Kafka. */
export interface PreparedRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** The partition the client asked for, if it did. */
  partition?: number;
}

const SCHEMA_FIELDS = ["key_schema", "key_schema_id", "value_schema", "value_schema_id"];

/** Parses and checks a v2 produce body; throws HttpError (400/422) naming what is wrong. */
export function parseProduceRequest(body: Uint8Array, format: Format): PreparedRecord[] {
  try {
    return parse(body, format);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof JsonSyntaxError || err instanceof JsonIncomplete) {
      throw badRequest(`Unexpected JSON input: ${err.message}`);
    }
    throw err;
  }
}

function parse(b: Uint8Array, format: Format): PreparedRecord[] {
  // Jackson reads past a UTF-8 byte order mark; so does this.
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  i = skipWs(b, i);
  if (i >= b.length) throw badRequest('The request body is empty: expected {"records":[…]}');
  if (b[i] !== 0x7b) {
    const found = typeAt(b, { start: i, end: i + 1 });
    throw badRequest(`Cannot read the produce request: expected a JSON object, found ${found}`);
  }
  let records: Span | undefined;
  let recordsNull = false;
  const schemaGiven: string[] = [];
  const end = scanObject(b, i, 1, (name, value) => {
    if (nameIs(b, name, "records")) {
      const t = typeAt(b, value);
      if (t === "null") {
        recordsNull = true;
        records = undefined;
      } else if (t !== "array") {
        throw badRequest(`Cannot read "records": expected an array, found ${t}`);
      } else {
        records = value;
        recordsNull = false;
      }
      return;
    }
    for (const f of SCHEMA_FIELDS) {
      if (nameIs(b, name, f) && typeAt(b, value) !== "null") schemaGiven.push(f);
    }
  });
  const rest = skipWs(b, end);
  if (rest !== b.length) {
    throw badRequest(`Unexpected JSON input: content after the request object at byte ${rest}`);
  }
  if (!records || recordsNull) throw unprocessable("records may not be empty");
  if (schemaGiven.length) {
    throw unprocessable(
      `${schemaGiven[0]} is only allowed with a schema format (avro, jsonschema, protobuf)`,
    );
  }
  const out: PreparedRecord[] = [];
  scanArray(b, records.start, 1, (el, n) => {
    const t = typeAt(b, el);
    if (t === "null") throw unprocessable(`records[${n}] may not be null`);
    if (t !== "object") {
      throw badRequest(
        `Cannot read records[${n}]: expected an object with "value" and optional "key", "partition", found ${t}`,
      );
    }
    out.push(record(b, el, n, format));
  });
  if (out.length === 0) throw unprocessable("records may not be empty");
  return out;
}

function record(b: Uint8Array, el: Span, n: number, format: Format): PreparedRecord {
  let key: Span | undefined;
  let value: Span | undefined;
  let partition: number | undefined;
  scanObject(b, el.start, 2, (name, v) => {
    if (nameIs(b, name, "key")) key = v;
    else if (nameIs(b, name, "value")) value = v;
    else if (nameIs(b, name, "partition")) {
      const t = typeAt(b, v);
      if (t === "null") {
        partition = undefined;
        return;
      }
      const p = t === "number" ? intAt(b, v) : undefined;
      if (p === undefined || p > 2147483647 || p < -2147483648) {
        throw badRequest(`Cannot read records[${n}].partition: expected an integer, found ${t}`);
      }
      if (p < 0) throw unprocessable(`records[${n}].partition must not be negative`);
      partition = p;
    }
  });
  return format === "json" ? { key: jsonBytes(b, key), value: jsonBytes(b, value), partition } : {
    key: base64Bytes(b, key, `records[${n}].key`),
    value: base64Bytes(b, value, `records[${n}].value`),
    partition,
  };
}

function jsonBytes(b: Uint8Array, s: Span | undefined): Uint8Array | null {
  if (!s || typeAt(b, s) === "null") return null;
  return compact(b, s);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(b: Uint8Array, s: Span | undefined, what: string): Uint8Array | null {
  if (!s || typeAt(b, s) === "null") return null;
  const t = typeAt(b, s);
  if (t !== "string") throw badRequest(`Cannot read ${what}: expected a base64 string, found ${t}`);
  return decodeBase64(stringAt(b, s), what);
}

/** Strict base64 (padding required, as Jackson's decoder wants); 400 otherwise. */
export function decodeBase64(text: string, what: string): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    throw badRequest(`Cannot read ${what}: it is not valid base64`);
  }
  return Buffer.from(text, "base64");
}
