/**
 * MSK IAM, checked by the embedded broker: pinpipe's own tasks (`topics`, `emulate
 * --bootstrap`) with `--auth aws-iam`, as they drive MSK, against a SASL_SSL listener taking
 * OAUTHBEARER tokens of aws-msk-iam-sasl-signer-js, its credentials from the environment as
 * on AWS and the broker's local CA trusted through DENO_CERT. Refused: a wrong secret key, a
 * token 16 minutes old, an unknown access key, a role session's key without its session
 * token; each refusal answers MSK's "Access denied" with a request id, and the broker's log
 * line with that id says exactly why, never with the secret.
 */
import assert from "node:assert/strict";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { run } from "../_fixtures.ts";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const KEY = "AKIAPINPIPECLIENT01";
const SECRET = "client-Secret-Key-0123456789";
const ROLE_KEY = "ASIAPINPIPEROLE0001";
const ROLE_SECRET = "role-Secret-Key-9876543210";
const SESSION = "FwoGZXIvYXdzEPINPIPE+session/token==";
const PRINCIPAL = "arn:aws:iam::111122223333:role/pinpipe-client";

/** A broker with a SASL_SSL listener taking IAM only, and a PLAINTEXT one for checking. */
async function iamBroker(opts: { clockAheadMs?: number } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "pinpipe-iam-" });
  const principals = `${dir}/principals.json`;
  await Deno.writeTextFile(
    principals,
    JSON.stringify({
      [KEY]: { secretAccessKey: SECRET, principal: PRINCIPAL },
      [ROLE_KEY]: {
        secretAccessKey: ROLE_SECRET,
        sessionToken: SESSION,
        principal: "arn:aws:sts::111122223333:assumed-role/pinpipe-client/session",
      },
    }),
  );
  const lines: string[] = [];
  const ahead = opts.clockAheadMs ?? 0;
  const broker = await startBroker({
    tlsDir: dir,
    iamPrincipalsFile: principals,
    iamRegion: "eu-west-1",
    saslMechanisms: ["AWS_MSK_IAM", "OAUTHBEARER"],
    listeners: [
      parseListener("IAM=SASL_SSL://127.0.0.1:0"),
      parseListener("PLAINTEXT://127.0.0.1:0"),
    ],
    logger: (l) => lines.push(l),
    now: ahead ? () => Date.now() + ahead : undefined,
  });
  const at = (name: string) => broker.listeners.find((l) => l.name === name)!.bootstrap;
  return {
    iam: at("IAM"),
    plain: at("PLAINTEXT"),
    ca: broker.tls!.caFile!,
    lines,
    async close() {
      await broker.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs a pinpipe task with AWS credentials in the environment and the broker's CA trusted. */
function task(
  b: { ca: string },
  args: string[],
  creds: { key: string; secret: string; session?: string },
) {
  return run("deno", ["run", "-A", ...args], {
    env: {
      DENO_CERT: b.ca,
      AWS_ACCESS_KEY_ID: creds.key,
      AWS_SECRET_ACCESS_KEY: creds.secret,
      ...(creds.session ? { AWS_SESSION_TOKEN: creds.session } : {}),
      AWS_REGION: "eu-west-1",
      AWS_CONFIG_FILE: "/nonexistent",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    },
  });
}

function topicsArgs(bootstrap: string): string[] {
  return [
    "tasks/topics.ts",
    "--bootstrap",
    bootstrap,
    "--auth",
    "aws-iam",
    "--region",
    "eu-west-1",
    "--partitions",
    "1",
    "--replication",
    "1",
  ];
}

Deno.test(
  "topics and emulate --bootstrap with --auth aws-iam pass the broker's IAM check; role sessions need their token",
  opts,
  async () => {
    const b = await iamBroker();
    try {
      const made = await task(b, topicsArgs(b.iam), { key: KEY, secret: SECRET });
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /created\s+pinpipe\.pin/);
      assert.ok(
        b.lines.some((l) => l.startsWith(`authenticated ${PRINCIPAL} with OAUTHBEARER on IAM for`)),
        b.lines.join("\n"),
      );
      const sent = await task(b, [
        "tasks/emulate.ts",
        "--bootstrap",
        b.iam,
        "--auth",
        "aws-iam",
        "--region",
        "eu-west-1",
        "--rows",
        "40",
        "--mode",
        "sequential",
      ], { key: ROLE_KEY, secret: ROLE_SECRET, session: SESSION });
      assert.equal(sent.code, 0, sent.stderr);
      // What emulate sent is there, read over the plaintext listener.
      const admin = new Kafka({ brokers: [b.plain], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets("pinpipe.pin");
      await admin.disconnect();
      assert.equal(offsets.reduce((n, p) => n + Number(p.high), 0), 40);
      assert.ok(
        b.lines.some((l) => l.includes("authenticated arn:aws:sts::111122223333:assumed-role")),
      );
      // The same role key without its session token is refused.
      const noToken = await task(b, topicsArgs(b.iam), { key: ROLE_KEY, secret: ROLE_SECRET });
      assert.notEqual(noToken.code, 0);
      assert.match(noToken.stderr, /Access denied/);
      assert.ok(
        b.lines.some((l) =>
          l.includes(`${ROLE_KEY} is a role session's key: the request has no X-Amz-Security-Token`)
        ),
      );
    } finally {
      await b.close();
    }
  },
);

Deno.test(
  "a wrong secret and an unknown key are refused as MSK refuses them; the log says why with the request id, never the secret",
  opts,
  async () => {
    const b = await iamBroker();
    try {
      const wrong = "Wrong-Secret-Key-000000";
      const r = await task(b, topicsArgs(b.iam), { key: KEY, secret: wrong });
      assert.notEqual(r.code, 0);
      const id = /\[([0-9a-f-]{36})\]: Access denied/.exec(r.stderr)?.[1];
      assert.ok(id, r.stderr);
      const line = b.lines.find((l) => l.includes(id!));
      assert.match(
        line ?? "",
        /refused OAUTHBEARER authentication .* the signature does not match: the request was not signed with AKIAPINPIPECLIENT01's secret access key/,
      );
      const unknown = await task(b, topicsArgs(b.iam), {
        key: "AKIANOBODYKNOWN0001",
        secret: SECRET,
      });
      assert.notEqual(unknown.code, 0);
      assert.ok(b.lines.some((l) => l.includes("unknown access key id AKIANOBODYKNOWN0001")));
      for (const text of [...b.lines, r.stderr, unknown.stderr]) {
        assert.ok(!text.includes(SECRET) && !text.includes(wrong), `a secret in: ${text}`);
      }
    } finally {
      await b.close();
    }
  },
);

Deno.test("a token 16 minutes old is refused: it expired a minute before", opts, async () => {
  // The broker's clock is 16 minutes ahead of the signer's: every token it sees is 16 minutes old.
  const b = await iamBroker({ clockAheadMs: 16 * 60_000 });
  try {
    const r = await task(b, topicsArgs(b.iam), { key: KEY, secret: SECRET });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Access denied/);
    const line = b.lines.find((l) => l.includes("the token expired"));
    assert.match(
      line ?? b.lines.join("\n"),
      /the token expired (59|60|61) s ago \(signed at \d{8}T\d{6}Z, valid for 900 s\)/,
    );
  } finally {
    await b.close();
  }
});
