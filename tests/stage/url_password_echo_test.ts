/**
 * A password typed into a URL flag, run the way the README says (`deno task …`): `deno task`
 * itself echoes the command line, password and all, before the task runs, and nothing pinpipe
 * does can take that back. So the task refuses the URL (exit 2, naming where the password goes),
 * and the echo is the only place the password shows.
 */
import assert from "node:assert/strict";
import { run } from "../_fixtures.ts";

const SECRET = "S3cr3tEcho77";

for (
  const [task, args, names] of [
    [
      "seed-db",
      ["--mysql-url", `mysql://admin:${SECRET}@127.0.0.1:3306/pins`],
      /PINPIPE_MYSQL_PASSWORD/,
    ],
    [
      "emulate",
      ["--source", `mysql://admin:${SECRET}@127.0.0.1:3306/pins`, "--out", "-", "--postings", "1"],
      /PINPIPE_MYSQL_PASSWORD/,
    ],
    [
      "emulate",
      ["--rest-url", `http://admin:${SECRET}@127.0.0.1:8082`, "--postings", "1"],
      /takes none/,
    ],
    [
      "connector",
      ["--target", "connect-rest", "--connect-url", `http://admin:${SECRET}@127.0.0.1:8083`],
      /takes none/,
    ],
  ] as const
) {
  const flag = args[args.findIndex((a) => a.includes(SECRET)) - 1];
  Deno.test(`deno task ${task} ${flag} with a password is refused, and only deno task's echo shows it`, async () => {
    const r = await run("deno", ["task", task, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /password inside the URL/);
    assert.match(r.stderr, names);
    const showing = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.includes(SECRET));
    assert.equal(showing.length, 1, showing.join("\n"));
    assert.match(
      showing[0],
      new RegExp(`^Task ${task} deno run `),
      "the one line is deno task's echo",
    );
  });
}
