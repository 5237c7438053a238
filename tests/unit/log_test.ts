/**
 * The one logger path (lib/shell/log.ts over lib/shell/redact.ts): passwords typed inside URLs, with or
 * without a scheme, and registered secrets never reach stderr or stdout, whether a retry
 * line, a progress line, a JSON summary or the final error prints them.
 */
import assert from "node:assert/strict";
import { redact, registerSecret } from "../../lib/shell/redact.ts";
import { redactingSink, taskProgress } from "../../lib/shell/log.ts";
import type { ProgressSink } from "../../lib/shell/progress.ts";

Deno.test("redact masks URL passwords with or without a scheme, and nothing else", () => {
  const cases: [string, string][] = [
    [
      "POST http://u:PW1@127.0.0.1:8082/topics/x failed",
      "POST http://u:***@127.0.0.1:8082/topics/x failed",
    ],
    [
      'Invalid --source "root:PW2@db:3306/x": expected',
      'Invalid --source "root:***@db:3306/x": expected',
    ],
    ["mysql://root:p@ss/w0rd@db:3306/x then", "mysql://root:***@db:3306/x then"],
    [
      '{"target":"the REST proxy at https://a:PW3@h"}',
      '{"target":"the REST proxy at https://a:***@h"}',
    ],
    [
      "--connect-url=http://admin:PW4@localhost:8083",
      "--connect-url=http://admin:***@localhost:8083",
    ],
    ["Kafka at 127.0.0.1:9092: refused", "Kafka at 127.0.0.1:9092: refused"],
    ["http://u@h/x a:b c@d 12:30 x@y", "http://u@h/x a:b c@d 12:30 x@y"],
    [
      "https://abc.execute-api.us-east-1.amazonaws.com/test",
      "https://abc.execute-api.us-east-1.amazonaws.com/test",
    ],
  ];
  for (const [text, want] of cases) assert.equal(redact(text), want);
  registerSecret("s3cr/et@value");
  assert.equal(redact("raw s3cr/et@value, encoded s3cr%2Fet%40value"), "raw ***, encoded ***");
});

Deno.test("every line a task prints through the logger is redacted, live lines included", () => {
  let written = "";
  const sink: ProgressSink = { isTerminal: true, write: (t) => written += t };
  const p = taskProgress("emulate", { sink });
  p.update("sending to http://u:PW5@h", true);
  p.log("retrying: http://u:PW5@h answered 503");
  p.done("done with root:PW5@db:3306/x");
  redactingSink(sink).write("and http://u:PW5@h\n");
  assert.ok(!written.includes("PW5"), written);
  assert.ok(written.includes("u:***@h") && written.includes("root:***@db"), written);
});
