/**
 * The one logger path (lib/shell/log.ts over lib/shell/redact.ts): passwords typed inside URLs, with or
 * without a scheme, and registered secrets never reach stderr or stdout, whether a retry
 * line, a progress line, a JSON summary or the final error prints them.
 */
import assert from "node:assert/strict";
import { run } from "../_fixtures.ts";
import { closedPort } from "../_net.ts";

Deno.test("a password in --rest-url is refused by the emulate task without being repeated", async () => {
  const url = `http://user:HUNTER2PW@127.0.0.1:${closedPort()}`;
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/emulate.ts",
    "--rest-url",
    url,
    "--postings=2",
    "--attempts=3",
    "--json",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Invalid --rest-url "http:\/\/user:\*\*\*@127\.0\.0\.1:\d+": a password/);
  assert.ok(!`${r.stdout}${r.stderr}`.includes("HUNTER2PW"), `${r.stdout}\n${r.stderr}`);
});

Deno.test("a password in a --source without a scheme is refused and masked in the error", async () => {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/emulate.ts",
    "--source",
    "root:HUNTER3PW@db.example:3306/pins",
    "--out",
    "-",
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid --source "root:\*\*\*@db\.example:3306\/pins": a password/);
  assert.match(r.stderr, /PINPIPE_MYSQL_PASSWORD/);
  assert.ok(!r.stderr.includes("HUNTER3PW"), r.stderr);
});
