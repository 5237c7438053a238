/**
 * The REST proxy's byte-level JSON scanner: it accepts exactly what JSON.parse accepts
 * (checked on 20,000 seeded random texts and on hand-picked edge cases, UTF-8 included), and
 * `compact` drops only the whitespace between tokens.
 */
import assert from "node:assert/strict";
import { checkDocument, compact } from "../../lib/rest_proxy/json_scan.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function accepts(b: Uint8Array): boolean {
  try {
    checkDocument(b);
    return true;
  } catch {
    return false;
  }
}

Deno.test("the JSON scanner accepts exactly the texts JSON.parse accepts", () => {
  // A small seeded generator (mulberry32), so a failure can be replayed.
  let seed = 1234567;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const ws = () => pick(["", "", " ", "\n", "\t "]);
  const atoms = [
    "0",
    "-0",
    "1.0",
    "1e2",
    "-1.5E-3",
    "12345678901234567890",
    "true",
    "null",
    '""',
    '"a\\"b"',
    '"\\u00e9"',
    '"é"',
  ];
  // A random valid JSON text with random whitespace between tokens.
  const value = (depth: number): string => {
    const r = rand();
    if (depth > 3 || r < 0.5) return pick(atoms);
    const n = Math.floor(rand() * 3);
    const items = Array.from(
      { length: n },
      () =>
        r < 0.75
          ? value(depth + 1)
          : `${pick(atoms.filter((a) => a.startsWith('"')))}${ws()}:${ws()}${value(depth + 1)}`,
    );
    return r < 0.75
      ? `[${ws()}${items.join(`${ws()},${ws()}`)}${ws()}]`
      : `{${ws()}${items.join(`,${ws()}`)}${ws()}}`;
  };
  const noise = [...'{}[]":,10-.eE+a\\u tnrfls', "\n", "é", "\u0001"];
  let accepted = 0;
  for (let n = 0; n < 20_000; n++) {
    let s = ws() + value(0) + ws();
    // Half of them get one random edit, which usually breaks them.
    if (rand() < 0.5) {
      const at = Math.floor(rand() * (s.length + 1));
      const edit = rand();
      s = edit < 0.33
        ? s.slice(0, at) + s.slice(at + 1)
        : edit < 0.66
        ? s.slice(0, at) + pick(noise) + s.slice(at)
        : s.slice(0, at) + pick(noise) + s.slice(at + 1);
    }
    let want = true;
    try {
      JSON.parse(s);
    } catch {
      want = false;
    }
    assert.equal(accepts(enc.encode(s)), want, `text ${JSON.stringify(s)}`);
    if (want) accepted++;
  }
  assert.ok(accepted > 5000 && accepted < 19_000, `only ${accepted} valid texts were generated`);
});

Deno.test("the JSON scanner refuses malformed UTF-8 and keeps every token as written", () => {
  for (
    const bytes of [
      [0x22, 0xc0, 0x80, 0x22], // overlong
      [0x22, 0xed, 0xa0, 0x80, 0x22], // a surrogate
      [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], // past U+10FFFF
      [0x22, 0xe2, 0x82, 0x22], // cut short
      [0x22, 0xff, 0x22],
    ]
  ) {
    assert.equal(accepts(new Uint8Array(bytes)), false, `bytes ${bytes}`);
  }
  assert.equal(accepts(enc.encode('"é😀\\ud83d\\ude00"')), true);
  const text = ' {\n "a" : [ 1.0 , 1e2 , -0 , 12345678901234567890 ] ,\t"b c" : "x  y\\n" }\n';
  const b = enc.encode(text);
  assert.equal(
    dec.decode(compact(b, checkDocument(b))),
    '{"a":[1.0,1e2,-0,12345678901234567890],"b c":"x  y\\n"}',
  );
  const tight = enc.encode('{"k":[1,2]}');
  const out = compact(tight, checkDocument(tight));
  assert.equal(out.buffer, tight.buffer, "a text without whitespace is not copied");
});
