/**
 * bench/_process.ts, the one way tests and benchmarks start a process: output collected as it
 * comes, waiting for a line, signals, how it ended, stdin, a bounded log, and a command that
 * cannot start.
 * @module
 */
import assert from "node:assert/strict";
import { run, shebangFlags, start, taskCommand } from "../../bench/_process.ts";

Deno.test("run answers the exit code and both streams, with stdin written and closed", async () => {
  const r = await run("sh", ["-c", 'read x; echo "out $x"; echo "err" >&2; exit 3'], {
    stdin: "hello\n",
  });
  assert.deepEqual(r, { code: 3, stdout: "out hello\n", stderr: "err\n" });
});

Deno.test("run passes env over NO_COLOR=1, and clearEnv leaves only what is given", async () => {
  const inherited = await run("sh", ["-c", 'echo "$NO_COLOR $X ${HOME:+home}"'], {
    env: { X: "1" },
  });
  assert.equal(inherited.stdout, "1 1 home\n");
  const clear = await run("/bin/sh", ["-c", 'echo "$NO_COLOR $X ${HOME:-none}"'], {
    env: { X: "2" },
    clearEnv: true,
  });
  assert.equal(clear.stdout, "1 2 none\n");
});

Deno.test("a command that cannot start is exit 127 naming it, or an error from start", async () => {
  const r = await run("/no/such/command", []);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /cannot start \/no\/such\/command/);
  assert.throws(
    () => start("/no/such/command", [], { what: "the thing" }),
    /cannot start the thing/,
  );
});

Deno.test("start waits for a line, stops with a signal, and says how it ended", async () => {
  const p = start("sh", ["-c", 'echo ready; echo "to stderr" >&2; exec sleep 60']);
  await p.waitFor("stdout", /ready/);
  await p.waitForStderr(/to stderr/);
  assert.equal(p.alive(), true);
  const end = await p.stop("SIGTERM");
  assert.equal(end.signal, "SIGTERM");
  assert.equal(p.alive(), false);
  // Already gone: no error.
  p.kill("SIGKILL");
});

Deno.test("waiting for a line the process never prints fails once it ends, with its stderr", async () => {
  const p = start("sh", ["-c", "echo nope >&2; exit 1"], { what: "the quitter" });
  await assert.rejects(
    p.waitFor("stdout", /ready/),
    /the quitter ended before printing \/ready\/.*\n.*nope/s,
  );
  assert.equal((await p.ended).code, 1);
});

Deno.test("keepLast keeps the end of a long log and nothing of its start", async () => {
  const r = start(
    "sh",
    ["-c", "i=0; while [ $i -lt 5000 ]; do echo line$i >&2; i=$((i+1)); done"],
    {
      keepLast: { stderr: 1000 },
    },
  );
  await r.ended;
  assert.ok(r.stderr().length <= 2000, `kept ${r.stderr().length} characters`);
  assert.match(r.stderr(), /line4999\n$/);
  assert.doesNotMatch(r.stderr(), /^line0\n/);
});

Deno.test("a task starts with the deno run flags of its shebang", () => {
  const [deno, sub, ...rest] = taskCommand("emulate.ts");
  assert.equal(deno, Deno.execPath());
  assert.equal(sub, "run");
  const flags = shebangFlags(new URL("../../tasks/emulate.ts", import.meta.url));
  assert.ok(flags.includes("-A"), flags.join(" "));
  assert.deepEqual(rest.slice(0, flags.length), flags);
  assert.match(rest.at(-1)!, /\/tasks\/emulate\.ts$/);
});
