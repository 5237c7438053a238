/**
 * The README's step-by-step walkthrough, run as written. The commands are taken from the
 * README's text (the sh blocks between `<!-- walkthrough` and `<!-- /walkthrough -->`), not
 * copied here, so the README cannot drift from what the tasks do.
 *
 * What is changed, and only that: the ports 9092 (broker) and 8082 (REST proxy) become free
 * ones, and the database `pinterest_data` in the MySQL URLs becomes a uniquely named one on
 * the test server (PINPIPE_TEST_MYSQL_URL), dropped at the end. The commands run with bash in
 * a copy of the repository (deno.json, deno.lock, tasks/, lib/, sql/) in a temp folder, so
 * their relative paths (`.pinpipe/lake`) land there, with no PINPIPE_* variables set, as for
 * a newcomer. A command ending in `# keeps running` is started in a session of its own and
 * the next one runs once it has printed its first line on stdout (its address, which is what
 * a person waits for); at the end each gets SIGINT, as Ctrl-C in its terminal.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../_fixtures.ts";
import { WalkthroughCommand, walkthroughCommands } from "../_walkthrough.ts";

Deno.test("the README walkthrough runs broker, topics, seed-db, rest-proxy, emulate, sink, transform in that order", async () => {
  const commands = walkthroughCommands(await Deno.readTextFile(join(ROOT, "README.md")));
  const task = (c: WalkthroughCommand) => /deno task ([a-z-]+)/.exec(c.text)?.[1];
  assert.deepEqual(commands.map(task), [
    "broker",
    "topics",
    "seed-db",
    "rest-proxy",
    "emulate",
    "sink",
    "transform",
  ]);
  assert.deepEqual(commands.filter((c) => c.keepsRunning).map(task), ["broker", "rest-proxy"]);
  // The emulator is bounded: random mode without --postings or --duration never ends.
  assert.match(commands[4].text, /--postings \d+|--duration /);
  // What the test substitutes is there to substitute.
  const all = commands.map((c) => c.text).join("\n");
  for (const s of ["9092", "8082", "mysql://root@127.0.0.1:3306/pinterest_data"]) {
    assert.ok(all.includes(s), `the walkthrough no longer mentions ${s}: update this test`);
  }
});
