/**
 * `emulate --rest-auth iam` signs what it sends as API Gateway's AWS_IAM authorizer expects
 * (issue 22: "IAM (SigV4; the emulator signs)"). The emulator runs as a task against a
 * loopback stand-in of API Gateway that refuses unsigned calls with 403 as API Gateway does
 * and answers signed ones as the REST proxy would; every request it received is then checked
 * by botocore's own SigV4 implementation (the engine venv's, independent of the signer the
 * emulator uses), with the credentials the emulator found in its environment.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { venvBin } from "../_engines.ts";
import { envTest, run, withTempDir } from "../_fixtures.ts";

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const CREDS = {
  AWS_ACCESS_KEY_ID: "AKIAPINPIPETEST00001",
  AWS_SECRET_ACCESS_KEY: "pinpipe/test/secret/key/not/a/real/one00",
  AWS_SESSION_TOKEN: "pinpipe-session-token-for-the-test",
};

/** A loopback API Gateway with IAM auth: 403 without a signature, a v2 answer with one. */
function startGateway(seen: Seen[]) {
  let offset = 0;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    seen.push({ method: req.method, url: req.url, headers, body });
    if (!req.headers.get("authorization")?.startsWith("AWS4-HMAC-SHA256 ")) {
      return Response.json({ message: "Missing Authentication Token" }, { status: 403 });
    }
    if (req.method !== "POST") return Response.json({ error_code: 404 }, { status: 404 });
    const n = (JSON.parse(body) as { records: unknown[] }).records.length;
    const offsets = Array.from({ length: n }, () => ({ partition: 0, offset: offset++ }));
    return Response.json({ offsets }, {
      headers: { "content-type": "application/vnd.kafka.v2+json" },
    });
  });
}

/** botocore's SigV4 signature of each request, computed with `secret`: [theirs, botocore's]. */
async function botocoreSignatures(
  python: string,
  seen: Seen[],
  secret: string,
): Promise<Array<[string, string]>> {
  const script = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
reqs, secret, token = json.load(sys.stdin)
out = []
for r in reqs:
    auth = r["headers"]["authorization"]
    cred, signed, sig = [p.split("=", 1)[1] for p in auth[len("AWS4-HMAC-SHA256 "):].split(", ")]
    key_id, date, region, service, _ = cred.split("/")
    headers = {h: r["headers"][h] for h in signed.split(";")}
    req = AWSRequest(method=r["method"], url=r["url"], data=r["body"].encode(), headers=headers)
    req.context["timestamp"] = r["headers"]["x-amz-date"]
    signer = SigV4Auth(Credentials(key_id, secret, token), service, region)
    canonical = signer.canonical_request(req)
    mine = signer.signature(signer.string_to_sign(req, canonical), req)
    out.append([sig, mine, region, service, key_id])
print(json.dumps(out))
`;
  const child = new Deno.Command(python, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(
    new TextEncoder().encode(JSON.stringify([seen, secret, CREDS.AWS_SESSION_TOKEN])),
  );
  await w.close();
  const out = await child.output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `botocore check failed: ${err}`);
  const rows = JSON.parse(new TextDecoder().decode(out.stdout)) as string[][];
  for (const [, , region, service, keyId] of rows) {
    assert.deepEqual([region, service, keyId], [
      "eu-west-1",
      "execute-api",
      CREDS.AWS_ACCESS_KEY_ID,
    ]);
  }
  return rows.map((r) => [r[0], r[1]]);
}

await envTest(
  "emulate --rest-auth iam signs every request with SigV4 as botocore computes it, and an " +
    "unsigned emulator is refused by the IAM authorizer",
  ["engines"],
  async () => {
    const python = join((await venvBin())!, "python");
    await withTempDir(async (home) => {
      const seen: Seen[] = [];
      const gateway = startGateway(seen);
      try {
        const url = `http://127.0.0.1:${gateway.addr.port}/prod`;
        // No ~/.aws: the credentials come from the environment, as on a CI runner.
        const env = { ...CREDS, AWS_REGION: "eu-west-1", HOME: home, PINPIPE_API_KEY: "" };
        const args = ["run", "-A", "tasks/emulate.ts", "--rest-url", url, "--postings", "4"];
        const signed = await run(Deno.execPath(), [...args, "--rest-auth", "iam"], { env });
        assert.equal(signed.code, 0, signed.stderr);
        const posts = seen.filter((r) => r.method === "POST");
        const records = posts.reduce((n, r) => n + JSON.parse(r.body).records.length, 0);
        assert.equal(records, 12, "4 postings × 3 topics, every row signed and sent");
        assert.equal(new Set(posts.map((r) => new URL(r.url).pathname)).size, 3);
        assert.ok(seen.every((r) => r.headers["x-amz-security-token"] === CREDS.AWS_SESSION_TOKEN));
        const checked = await botocoreSignatures(python, seen, CREDS.AWS_SECRET_ACCESS_KEY);
        for (const [theirs, botocore] of checked) assert.equal(theirs, botocore);
        // The check can fail: the same requests under another secret do not verify.
        const wrong = await botocoreSignatures(python, seen.slice(0, 1), "another-secret");
        assert.notEqual(wrong[0][0], wrong[0][1]);
        const out = signed.stdout + signed.stderr;
        assert.ok(
          !out.includes(CREDS.AWS_SECRET_ACCESS_KEY) && !out.includes(CREDS.AWS_SESSION_TOKEN),
        );

        seen.length = 0;
        const unsigned = await run(Deno.execPath(), args, { env });
        assert.equal(unsigned.code, 1, unsigned.stderr);
        assert.match(unsigned.stderr, /403/);
      } finally {
        await gateway.shutdown();
      }
    });
  },
);
