/**
 * Names renamed in the last release were read, with a warning, for that release only. Now each
 * is refused (exit 2 from the task) with a message naming what to use instead, so an old
 * script fails at once and says how to mend it, instead of a value silently ignored.
 * @module
 */
import assert from "node:assert/strict";
import { parseOptions as transform } from "../../tasks/transform.ts";
import { parseOptions as emulate } from "../../tasks/emulate.ts";
import { parseOptions as demo } from "../../tasks/demo.ts";
import { parseOptions as sink } from "../../tasks/sink.ts";
import { parseOptions as restProxy } from "../../tasks/rest_proxy.ts";

/** The message of the UsageError `fn` throws. */
async function refusal(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    assert.equal((err as Error).name, "UsageError", String(err));
    return (err as Error).message;
  }
  assert.fail("the options were accepted");
}

Deno.test("each name retired in this release is refused with the name to use now", async () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "transform --rows",
      () => transform(["--rows", "3"], {}),
      /--rows: it was renamed; use --show N/,
    ],
    [
      "emulate --count",
      () => emulate(["--out", "-", "--count", "3"], {}),
      /--count: it was renamed; use --postings N/,
    ],
    [
      "demo PINPIPE_MODE",
      () => demo([], { PINPIPE_MODE: "sequential" }),
      /PINPIPE_MODE is no longer read: use PINPIPE_EMULATE_MODE/,
    ],
    [
      "sink --rotate-interval-ms",
      () => sink(["--bootstrap", "b:1", "--rotate-interval-ms", "5000"], {}),
      /--rotate-interval-ms: it was renamed; use --rotate-interval DUR/,
    ],
    [
      "sink PINPIPE_ROTATE_INTERVAL_MS",
      () => sink(["--bootstrap", "b:1"], { PINPIPE_ROTATE_INTERVAL_MS: "5000" }),
      /PINPIPE_ROTATE_INTERVAL_MS is no longer read: use PINPIPE_ROTATE_INTERVAL/,
    ],
    [
      "rest-proxy PINPIPE_AUTO_CREATE",
      () => restProxy(["serve", "--bootstrap", "b:1"], { PINPIPE_AUTO_CREATE: "1" }),
      /PINPIPE_AUTO_CREATE is no longer read: use PINPIPE_REST_AUTO_CREATE/,
    ],
    [
      "rest-proxy config --max-block-ms",
      () => restProxy(["config", "--bootstrap", "b:1", "--max-block-ms", "100"], {}),
      /--max-block-ms: it was renamed; use --max-block DUR/,
    ],
  ];
  for (const [what, fn, expected] of cases) {
    assert.match(await refusal(fn), expected, what);
  }
});

Deno.test("a bare number where a duration was once milliseconds or seconds is refused, naming the units", async () => {
  const message = await refusal(() =>
    sink(["--bootstrap", "b:1", "--rotate-interval", "5000"], {})
  );
  assert.match(message, /--rotate-interval "5000": expected a duration with its unit: ms, s, m/);
});
