/**
 * `deno task demo --auth aws-iam` and `--auth scram-sha-512` (issue 23, item 5): the embedded
 * broker serves one SASL_SSL listener with its local CA; with aws-iam the stacks' roles,
 * rendered from infra/ into `<dir>/kafka/policies`, decide every request of the demo's topic
 * admin, REST proxy (InstanceRole) and sink (MSK Connect's role); with scram a user made for
 * the run logs in. The answers, the records and the objects must equal the plaintext demo's
 * for the same postings, and no file with the run's secrets is left in the demo's folder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { run, withTempDir } from "../_fixtures.ts";

interface DemoJson {
  recordsAcknowledged: number;
  brokerRecords: number;
  lakeRecords: number;
  lakeObjects: number;
  duplicatesDropped: number;
  answers: Record<string, unknown>;
}

async function demo(dir: string, ...extra: string[]): Promise<{ json: DemoJson; stderr: string }> {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/demo.ts",
    "--dir",
    dir,
    "--rows",
    "1500",
    "--postings",
    "600",
    "--seed",
    "7",
    "--flush-size",
    "50",
    "--json",
    ...extra,
  ], { env: { AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" } });
  assert.equal(r.code, 0, r.stderr);
  return { json: JSON.parse(r.stdout), stderr: r.stderr };
}

/** Every file under `dir`, relative. */
async function files(dir: string, at = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, at))) {
    const p = join(at, e.name);
    if (e.isDirectory) out.push(...await files(dir, p));
    else out.push(p);
  }
  return out;
}

Deno.test({
  name:
    "demo --auth aws-iam and --auth scram-sha-512: the embedded broker checks them, the answers equal the plaintext demo's",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (tmp) => {
      const plain = await demo(join(tmp, "plain"));
      const figures = (j: DemoJson) => [
        j.recordsAcknowledged,
        j.brokerRecords,
        j.lakeRecords,
        j.lakeObjects,
        j.duplicatesDropped,
      ];
      assert.equal(plain.json.lakeRecords, 1800);
      for (
        const [auth, line] of [
          ["aws-iam", /broker: embedded broker on \S+ \(SASL_SSL, MSK IAM: the stacks' roles/],
          ["scram-sha-512", /broker: embedded broker on \S+ \(SASL_SSL, SCRAM-SHA-512/],
        ] as const
      ) {
        const dir = join(tmp, auth);
        const secure = await demo(dir, "--auth", auth);
        assert.match(secure.stderr, line);
        assert.deepEqual(figures(secure.json), figures(plain.json), auth);
        assert.deepEqual(secure.json.answers, plain.json.answers, auth);
        const left = await files(dir);
        assert.ok(left.includes(join("kafka", "tls", "ca.pem")), left.join("\n"));
        assert.ok(
          !left.some((f) => /principals|users\.json/.test(f)),
          `a secrets file left: ${left.join(", ")}`,
        );
        if (auth === "aws-iam") {
          for (
            const role of [
              "client-TopicAdminRole",
              "client-InstanceRole",
              "connect-ExecutionRole",
            ]
          ) {
            assert.ok(left.includes(join("kafka", "policies", `${role}.json`)), role);
          }
        }
      }
    });
  },
});

Deno.test("demo --tls without --bootstrap is refused: the embedded broker's TLS comes with --auth", async () => {
  const r = await run("deno", ["run", "-A", "tasks/demo.ts", "--tls", "--dir", "/nonexistent/x"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tls only goes with --bootstrap/);
});
