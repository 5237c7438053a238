/**
 * No password inside a URL flag: `deno task` echoes the command line before the task runs, so a
 * password typed into `--mysql-url`, `--source` or any other URL flag is on the screen before
 * pinpipe could mask it. Every task's URL flags refuse one, from the flag and from its variable,
 * and the refusal neither repeats the password nor leaves the user without the way to give it.
 */
import assert from "node:assert/strict";
import { argOf, type FlagDef, readFlags } from "../../lib/shell/flags.ts";
import { hasUrlPassword } from "../../lib/shell/redact.ts";
import { taskFlags } from "../tools/readme_flags.ts";

const SECRET = "S3cr3t-pw";

/** Every flag of every task that takes a URL (or a MySQL source), with its task. */
async function urlFlags(): Promise<{ task: string; name: string; def: FlagDef }[]> {
  const found = [];
  for (const { task, tables } of await taskFlags()) {
    for (const table of tables) {
      for (const [name, def] of Object.entries(table)) {
        if (/URL|SRC/.test(argOf(name, def)) || def.help.includes("://")) {
          found.push({ task, name, def });
        }
      }
    }
  }
  return found;
}

/** A URL for `def` holding a password: a MySQL one where the flag takes MySQL. */
function urlWithPassword(def: FlagDef): string {
  return /mysql/i.test(def.help)
    ? `mysql://admin:${SECRET}@127.0.0.1:3306/pinterest_data`
    : `https://admin:${SECRET}@example.com:8082/x`;
}

Deno.test("the tasks' URL flags are found: seed-db, emulate, sink, transform, connector and deploy", async () => {
  const names = new Set((await urlFlags()).map((f) => `${f.task} --${f.name}`));
  for (
    const expected of [
      "seed-db --mysql-url",
      "emulate --source",
      "emulate --rest-url",
      "sink --lake",
      "transform --s3-endpoint",
      "connector --connect-url",
      "connector --plugin-url",
      "deploy --plugin-url",
    ]
  ) assert.ok(names.has(expected), `${expected} in ${[...names].join(", ")}`);
});

Deno.test("every URL flag refuses a password inside the URL, without repeating it", async () => {
  for (const { task, name, def } of await urlFlags()) {
    const url = urlWithPassword(def);
    const p = readFlags({ [name]: def }, [`--${name}`, url]);
    const said = p.problems.join("\n");
    assert.match(said, /password inside the URL/, `${task} --${name}: ${said}`);
    assert.ok(!said.includes(SECRET), `${task} --${name} repeats the password: ${said}`);
    if (/mysql/i.test(def.help)) assert.match(said, /PINPIPE_MYSQL_PASSWORD/);
  }
});

Deno.test("a URL flag's variable holding a password is refused too", async () => {
  for (const { task, name, def } of await urlFlags()) {
    if (!def.env) continue;
    const p = readFlags({ [name]: def }, [], { [def.env]: urlWithPassword(def) });
    assert.match(p.problems.join("\n"), new RegExp(`^Invalid ${def.env} .*password inside`), task);
  }
});

Deno.test("a URL without a password, or with a user alone, is taken as before", async () => {
  for (const { task, name, def } of await urlFlags()) {
    const url = urlWithPassword(def).replace(`:${SECRET}`, "");
    const p = readFlags({ [name]: def }, [`--${name}`, url]);
    assert.ok(!/password/.test(p.problems.join("\n")), `${task} --${name}: ${p.problems}`);
  }
});

Deno.test("a password is found with or without a scheme, and only where there is one", () => {
  for (
    const text of [
      "mysql://u:pw@h:3306/db",
      "http://u:p%40ss@h/x",
      "root:pw@db:3306/pinterest_data",
      "s3://key:secret@bucket/x",
    ]
  ) assert.ok(hasUrlPassword(text), text);
  for (
    const text of [
      "mysql://root@127.0.0.1:3306/db",
      "http://127.0.0.1:8082",
      "http://u:@h/x",
      "/tmp/a:b@c",
      "file:///tmp/lake",
      "dataset",
    ]
  ) assert.ok(!hasUrlPassword(text), text);
});
