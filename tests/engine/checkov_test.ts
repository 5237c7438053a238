/**
 * checkov, a second opinion beside cfn-lint, over infra/: nothing fails but the checks
 * infra/checkov.yaml skips, each skipped check has its reason written there, and each still
 * finds something (a check that stopped finding anything is dropped from the list).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkovPython } from "../_aws_engines.ts";
import { envTest, ROOT, run } from "../_fixtures.ts";

const CONFIG = join(ROOT, "infra", "checkov.yaml");

/** checkov over infra/: the ids of the failed checks (`ID resource`), sorted. */
async function checkov(args: string[]): Promise<string[]> {
  const r = await run((await checkovPython())!, [
    "-m",
    "checkov.main",
    "-d",
    join(ROOT, "infra"),
    "--framework",
    "cloudformation",
    "--quiet",
    "-o",
    "json",
    ...args,
  ]);
  const out = JSON.parse(r.stdout);
  const report = Array.isArray(out) ? out[0] : out;
  const failed = (report.results?.failed_checks ?? []) as { check_id: string; resource: string }[];
  return failed.map((c) => `${c.check_id} ${c.resource}`).sort();
}

/** The skipped ids of infra/checkov.yaml, each with the comment lines above it. */
async function skips(): Promise<{ id: string; reason: string }[]> {
  const lines = (await Deno.readTextFile(CONFIG)).split("\n");
  const start = lines.indexOf("skip-check:");
  const out: { id: string; reason: string }[] = [];
  let reason: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const comment = /^\s*#\s?(.*)$/.exec(line);
    const id = /^\s*-\s*(CKV\w+)/.exec(line);
    if (comment) reason.push(comment[1]);
    else if (id) {
      out.push({ id: id[1], reason: reason.join(" ") || out.at(-1)?.reason || "" });
      reason = [];
    }
  }
  return out;
}

await envTest(
  "checkov finds nothing in infra/ beyond the checks skipped, each with its reason, each still firing",
  ["aws-engines"],
  async () => {
    assert.deepEqual(await checkov(["--config-file", CONFIG]), []);
    const listed = await skips();
    for (const s of listed) assert.ok(s.reason.length > 40, `${s.id} has no reason`);
    const without = await checkov([]);
    const firing = [...new Set(without.map((f) => f.split(" ")[0]))].sort();
    assert.deepEqual(firing, listed.map((s) => s.id).sort());
  },
);
