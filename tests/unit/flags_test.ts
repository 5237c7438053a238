/**
 * lib/shell/flags.ts: one table per task yields the parser, the typed options and --help.
 * @module
 */
import assert from "node:assert/strict";
import {
  flagHelp,
  formatDuration,
  formatSize,
  helpText,
  nearest,
  parseDuration,
  parseSize,
  readFlags,
} from "../../lib/shell/flags.ts";
import { UsageError } from "../../lib/shell/errors.ts";

const DEFAULT_FLUSH = 1000;

const TABLE = {
  lake: {
    type: "string",
    help: "where the objects go",
    arg: "URL",
    env: "PINPIPE_LAKE",
    config: "lake",
    default: ".pinpipe/lake",
  },
  "flush-size": {
    type: "int",
    help: "records per object",
    env: "PINPIPE_FLUSH_SIZE",
    default: DEFAULT_FLUSH,
    min: 1,
  },
  "rotate-interval": {
    type: "duration",
    help: "land a tail after this long; 0 = never",
    env: "PINPIPE_ROTATE_INTERVAL",
    default: 10_000,
  },
  retention: {
    type: "duration",
    help: "how long records are kept",
    env: "PINPIPE_RETENTION",
    keywords: { forever: -1 },
    default: -1,
  },
  "max-bytes": { type: "bytes", help: "largest request", env: "PINPIPE_MAX", default: 1048576 },
  mode: {
    type: "choice",
    choices: ["random", "sequential"],
    help: "how keys are drawn",
    env: "PINPIPE_MODE",
    default: "random",
  },
  once: { type: "boolean", help: "drain, then exit", env: "PINPIPE_ONCE" },
  topic: { type: "list", help: "a topic to create", env: "PINPIPE_TOPICS" },
  group: { type: "string", help: "the consumer group", noEnv: "a test has none" },
} as const;

Deno.test("flags give typed values with the library's defaults", () => {
  const p = readFlags(TABLE, []);
  assert.deepEqual(p.problems, []);
  const flush: number = p.values.flushSize;
  const mode: "random" | "sequential" = p.values.mode;
  const group: string | undefined = p.values.group;
  assert.equal(flush, DEFAULT_FLUSH);
  assert.equal(mode, "random");
  assert.equal(group, undefined);
  assert.equal(p.values.rotateInterval, 10_000);
  assert.equal(p.values.retention, -1);
  assert.equal(p.values.once, false);
  assert.deepEqual(p.values.topic, []);
  assert.equal(p.given("lake"), false);
});

Deno.test("a flag wins over its variable, which wins over the config file", () => {
  const env = { PINPIPE_LAKE: "/env", PINPIPE_FLUSH_SIZE: "7" };
  const cfg = { lake: "/config" };
  assert.equal(readFlags(TABLE, [], {}, cfg).values.lake, "/config");
  assert.equal(readFlags(TABLE, [], env, cfg).values.lake, "/env");
  const p = readFlags(TABLE, ["--lake", "/flag", "--flush-size=3"], env, cfg);
  assert.equal(p.values.lake, "/flag");
  assert.equal(p.values.flushSize, 3);
  assert.equal(p.from("lake"), "--lake");
  assert.equal(readFlags(TABLE, [], env, cfg).from("flush-size"), "PINPIPE_FLUSH_SIZE");
  assert.equal(readFlags(TABLE, [], {}, cfg).from("lake"), "config lake");
});

Deno.test("durations need their unit; a bare number is refused naming the units", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("5s"), 5000);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("0"), 0);
  assert.ok(Number.isNaN(parseDuration("5000")));
  assert.ok(Number.isNaN(parseDuration("5 parsecs")));
  const p = readFlags(TABLE, ["--rotate-interval", "5000"]);
  assert.equal(p.problems.length, 1);
  assert.match(p.problems[0], /--rotate-interval "5000".*ms, s, m, h or d/);
  assert.equal(readFlags(TABLE, ["--retention", "forever"]).values.retention, -1);
  assert.equal(readFlags(TABLE, ["--retention", "168h"]).values.retention, 168 * 3_600_000);
  assert.equal(formatDuration(10_000), "10s");
  assert.equal(formatDuration(168 * 3_600_000), "168h");
  assert.equal(formatDuration(1500), "1500ms");
});

Deno.test("sizes take KiB, MiB and GiB, or plain bytes", () => {
  assert.equal(parseSize("64KiB"), 65536);
  assert.equal(parseSize("100MiB"), 100 * 1024 ** 2);
  assert.equal(parseSize("1GiB"), 1024 ** 3);
  assert.equal(parseSize("1MB"), 1_000_000);
  assert.equal(parseSize("4096"), 4096);
  assert.ok(Number.isNaN(parseSize("ten")));
  assert.equal(formatSize(100 * 1024 ** 2), "100MiB");
  assert.equal(formatSize(1000), "1000");
  assert.equal(readFlags(TABLE, ["--max-bytes", "8MiB"]).values.maxBytes, 8 * 1024 ** 2);
});

Deno.test("a mistyped flag gets the nearest real one suggested", () => {
  assert.equal(nearest("postngs", ["postings", "prefix", "rate"]), "postings");
  assert.equal(nearest("fluhs-size", ["flush-size", "lake"]), "flush-size");
  assert.equal(nearest("zebra", ["flush-size", "lake"]), undefined);
  const p = readFlags(TABLE, ["--fluhs-size", "3"]);
  assert.deepEqual(p.problems, ["Unknown flag --fluhs-size: did you mean --flush-size?"]);
  // The mistyped flag's value is not taken for an argument of its own.
  assert.deepEqual(p.positionals, []);
});

Deno.test("every problem with the options is reported together", () => {
  const p = readFlags(
    TABLE,
    ["--postngs", "3", "--mode", "shuffled", "--flush-size", "0", "--once=maybe", "stray"],
    { PINPIPE_ONCE: "1" },
  );
  assert.equal(p.problems.length, 5, p.problems.join("\n"));
  assert.throws(() => p.done(), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /^5 problems with the options:/);
    assert.match(err.message, /--postngs/);
    assert.match(err.message, /--mode "shuffled": expected one of random, sequential/);
    assert.match(err.message, /--flush-size "0": must be at least 1/);
    assert.match(err.message, /--once="maybe"/);
    assert.match(err.message, /Unexpected argument "stray"/);
    return true;
  });
});

Deno.test("a variable with a value its flag would refuse is named in the problem", () => {
  const p = readFlags(TABLE, [], { PINPIPE_ONCE: "perhaps", PINPIPE_ROTATE_INTERVAL: "10" });
  assert.equal(p.problems.length, 2);
  assert.match(p.problems[0], /^Invalid PINPIPE_ROTATE_INTERVAL "10"/);
  assert.match(p.problems[1], /^Invalid PINPIPE_ONCE "perhaps"/);
});

Deno.test("a retired name is refused with its new name, as a flag or a variable", () => {
  const retired = { "--count": "--postings N", PINPIPE_MODE_OLD: "PINPIPE_MODE" };
  const p = readFlags(TABLE, ["--count", "3"], { PINPIPE_MODE_OLD: "x" }, {}, { retired });
  assert.deepEqual(p.problems, [
    "Unknown flag --count: it was renamed; use --postings N",
    "PINPIPE_MODE_OLD is no longer read: use PINPIPE_MODE",
  ]);
});

Deno.test("lists come from repeated flags or a comma list in the variable", () => {
  assert.deepEqual(readFlags(TABLE, ["--topic", "a", "--topic", "b"]).values.topic, ["a", "b"]);
  assert.deepEqual(readFlags(TABLE, [], { PINPIPE_TOPICS: "a, b" }).values.topic, ["a", "b"]);
});

Deno.test("a flag missing its value says which value it takes", () => {
  const p = readFlags(TABLE, ["--lake"]);
  assert.deepEqual(p.problems, ["Missing a value for --lake (URL)"]);
  const q = readFlags(TABLE, ["--lake", "--once"]);
  assert.deepEqual(q.problems, ["Missing a value for --lake (URL)"]);
  assert.equal(q.values.once, true);
});

Deno.test("positionals are taken only where the task asks for them", () => {
  const p = readFlags(TABLE, ["serve", "--once", "--", "--not-a-flag"], {}, {}, {
    positionals: true,
  });
  assert.deepEqual(p.problems, []);
  assert.deepEqual(p.positionals, ["serve", "--not-a-flag"]);
});

Deno.test("--help lists every flag with its variable and default, from the same table", () => {
  const text = flagHelp(TABLE);
  for (const name of Object.keys(TABLE)) assert.match(text, new RegExp(`--${name}\\b`));
  assert.match(text, /--flush-size N\s+records per object \(PINPIPE_FLUSH_SIZE; default 1000\)/);
  assert.match(text, /--lake URL\s+where the objects go \(PINPIPE_LAKE, config lake; default/);
  assert.match(text, /--rotate-interval DUR .*default 10s\)/s);
  assert.match(text, /--retention DUR .*default forever\)/s);
  assert.match(text, /--max-bytes SIZE .*default 1MiB\)/s);
  assert.match(text, /--group GROUP\s+the consumer group \(no variable: a test has none\)/);
  assert.match(text, /-h, --help/);
  for (const line of text.split("\n")) assert.ok(line.length <= 100, line);
  const help = helpText({ about: "Does a thing.", usage: "deno task x [flags]", flags: TABLE });
  assert.match(help, /^Does a thing\.\n\nUsage: deno task x \[flags\]\n/);
});
