/**
 * The CloudFormation templates in infra/: cfn-lint (the engine venv's, pinned) finds nothing
 * wrong with them, as written and as deploy sends them, and does find the mistakes in a
 * template made to hold them; they parse (short tags too); deploy's wiring between them
 * holds and gives the dependency graph deploy follows; and they hold the properties the
 * pipeline depends on (IAM auth over TLS, the S3 sink's configuration, private buckets, the
 * API key, no secrets, the lake-reader role, subnets that fit the VPC).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadTemplate, renderTemplate, STACK_IDS } from "../../lib/aws/stacks.ts";
import type { StackId, Template } from "../../lib/aws/stacks.ts";
import { venvBin } from "../_engines.ts";
import { envTest, ROOT, run, withTempDir } from "../_fixtures.ts";

const templates = new Map<StackId, Template>();
for (const id of STACK_IDS) templates.set(id, await loadTemplate(id));
const testdataPath = (name: string) => join(ROOT, "tests", "testdata", "aws", name);

/** cfn-lint from the engine venv over `files`: its exit code and `file:line:…:RULE:message` lines. */
async function cfnLint(files: string[]): Promise<{ code: number; lines: string[] }> {
  const bin = await venvBin();
  const r = await run(join(bin!, "cfn-lint"), [
    "--regions",
    "us-east-1",
    "--format",
    "parseable",
    "--",
    ...files,
  ]);
  return { code: r.code, lines: (r.stdout + r.stderr).trim().split("\n").filter(Boolean) };
}

await envTest(
  "cfn-lint finds nothing wrong with any template as written",
  ["engines"],
  async () => {
    const r = await cfnLint(STACK_IDS.map((id) => join(ROOT, "infra", `${id}.yaml`)));
    assert.deepEqual(r.lines, []);
    assert.equal(r.code, 0);
  },
);

await envTest(
  "cfn-lint finds nothing wrong with the templates as deploy sends them",
  ["engines"],
  async () => {
    await withTempDir(async (dir) => {
      const files: string[] = [];
      for (const [id, t] of templates) {
        const file = join(dir, `${id}.json`);
        await Deno.writeTextFile(file, JSON.stringify(await renderTemplate(t), null, 1));
        files.push(file);
      }
      const r = await cfnLint(files);
      assert.deepEqual(r.lines, []);
    });
  },
);

await envTest(
  "cfn-lint reports each mistake planted in a broken template",
  ["engines"],
  async () => {
    const r = await cfnLint([testdataPath("broken.yaml")]);
    assert.notEqual(r.code, 0);
    const rules = r.lines.map((l) => l.split(":")[5]);
    for (
      const [rule, what] of [
        ["E3006", "an unknown resource type"],
        ["E3002", "a misspelt property"],
        ["E3003", "a missing required property"],
        ["E1020", "a Ref to nothing"],
        ["E1010", "a GetAtt of an attribute the type lacks"],
        ["E1019", "a Sub variable that names nothing"],
        ["E3005", "a DependsOn on no resource"],
        ["E3012", "a value of the wrong type"],
        ["E2015", "a default outside AllowedValues"],
      ]
    ) assert.ok(rules.includes(rule), `${what} (${rule}) not reported:\n${r.lines.join("\n")}`);
  },
);
