/**
 * Issue 23, item 5: `rest-proxy serve` and `sink` with `--auth aws-iam` and with `--auth
 * scram-sha-512 --tls`, each in a process of its own as a user runs them, against the
 * embedded broker's SASL_SSL listener, its local CA trusted through DENO_CERT. With IAM the
 * stacks' own rendered roles decide (`deploy --local-policies`): the topic admin creates the
 * topics, the REST proxy runs as the client InstanceRole (as on EC2), the sink as MSK
 * Connect's ExecutionRole with the connector's group name; `emulate` posts through the proxy
 * and the sink lands every record. Refused: each task with a wrong secret (MSK's "Access
 * denied" with its request id, Kafka's SCRAM message), before the proxy serves or the sink
 * consumes, and no secret in any output or broker log line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { run, spawnTask } from "../../bench/_process.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROWS = 20;
const ROLES = {
  admin: { key: "AKIAPINPIPEADMIN001", secret: "admin-Secret-0123456789" },
  client: { key: "AKIAPINPIPECLIENT01", secret: "client-Secret-0123456789" },
  connect: { key: "AKIAPINPIPECONNECT1", secret: "connect-Secret-0123456789" },
};
const FILES = {
  admin: "client-TopicAdminRole.json",
  client: "client-InstanceRole.json",
  connect: "connect-ExecutionRole.json",
};
const SCRAM_PASSWORD = "pinpipe-Scram-Secret-2";
const WRONG = "not-the-Secret-9876543210";

/** A broker with one SASL_SSL listener taking SCRAM-SHA-512 and MSK IAM (the stacks' roles). */
async function secureBroker(dir: string, lines: string[]) {
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    "tasks/deploy.ts",
    "--local-policies",
    dir,
    "--region",
    "us-east-1",
  ], { env: { PINPIPE_CONFIG: join(dir, "none.json") } });
  assert.equal(r.code, 0, r.stderr);
  const principals = join(dir, "principals.json");
  await Deno.writeTextFile(
    principals,
    JSON.stringify(Object.fromEntries(
      (Object.keys(ROLES) as (keyof typeof ROLES)[]).map((k) => [ROLES[k].key, {
        secretAccessKey: ROLES[k].secret,
        principal: JSON.parse(Deno.readTextFileSync(join(dir, FILES[k]))).role,
        policies: [FILES[k]],
      }]),
    )),
  );
  await Deno.writeTextFile(join(dir, "users.json"), JSON.stringify({ pinpipe: SCRAM_PASSWORD }));
  return await startBroker({
    tlsDir: dir,
    saslUsersFile: join(dir, "users.json"),
    iamPrincipalsFile: principals,
    saslMechanisms: ["SCRAM-SHA-512", "AWS_MSK_IAM", "OAUTHBEARER"],
    listeners: [parseListener("SECURE=SASL_SSL://127.0.0.1:0")],
    logger: (l) => lines.push(l),
  });
}

/** How a task authenticates: its flags and environment. */
interface Auth {
  flags: string[];
  env: Record<string, string>;
  /** The secret, which must appear in no output. */
  secret: string;
}

function iam(role: { key: string; secret: string }, ca: string, secret = role.secret): Auth {
  return {
    flags: ["--auth", "aws-iam", "--region", "us-east-1"],
    env: {
      DENO_CERT: ca,
      AWS_ACCESS_KEY_ID: role.key,
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_CONFIG_FILE: "/nonexistent",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    },
    secret,
  };
}

function scram(ca: string, password = SCRAM_PASSWORD): Auth {
  return {
    flags: ["--auth", "scram-sha-512", "--tls"],
    env: { DENO_CERT: ca, PINPIPE_KAFKA_USER: "pinpipe", PINPIPE_KAFKA_PASSWORD: password },
    secret: password,
  };
}

/** Records in the lake's objects under `lake` (one JSON value per line). */
async function landed(lake: string): Promise<number> {
  let n = 0;
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.name.endsWith(".json")) {
        n += (await Deno.readTextFile(p)).split("\n").filter((l) => l.trim()).length;
      }
    }
  };
  await walk(lake).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return n;
}

/**
 * topics (as `admin`), rest-proxy serve (as `proxy`), emulate through it, sink --once (as
 * `sink`, in `group`); then the proxy and the sink with a wrong secret.
 */
async function pipeline(
  bootstrap: string,
  dir: string,
  auth: { admin: Auth; proxy: Auth; sink: Auth; wrong: Auth },
  group: string,
  refusal: RegExp,
): Promise<void> {
  const task = (file: string, args: string[], a: Auth) =>
    run(Deno.execPath(), [
      "run",
      "-A",
      `tasks/${file}`,
      ...args,
      "--bootstrap",
      bootstrap,
      ...a.flags,
    ], {
      env: a.env,
    });
  const outputs: string[] = [];
  const made = await task("topics.ts", ["--partitions", "2", "--replication", "1"], auth.admin);
  assert.equal(made.code, 0, made.stderr);

  const proxy = await spawnTask(
    "rest_proxy.ts",
    ["serve", "--port", "0", "--bootstrap", bootstrap, ...auth.proxy.flags],
    auth.proxy.env,
  );
  try {
    const sent = await run(Deno.execPath(), [
      "run",
      "-A",
      "tasks/emulate.ts",
      "--rest-url",
      proxy.firstLine,
      "--rows",
      String(ROWS),
      "--mode",
      "sequential",
    ]);
    assert.equal(sent.code, 0, sent.stderr + proxy.stderr());
    assert.match(sent.stdout + sent.stderr, new RegExp(`${ROWS * 3} acknowledged, 0 failed`));
  } finally {
    await proxy.stop();
    outputs.push(proxy.stdout(), proxy.stderr());
  }

  const lake = join(dir, "lake");
  const sink = await task(
    "sink.ts",
    ["--once", "--lake", `file://${lake}`, "--group", group, "--flush-size", "5"],
    auth.sink,
  );
  assert.equal(sink.code, 0, sink.stderr);
  assert.equal(await landed(lake), ROWS * 3, sink.stderr);
  outputs.push(made.stdout, made.stderr, sink.stdout, sink.stderr);

  // A wrong secret: the sink stops and the proxy does not start, both saying why.
  const refusedSink = await task(
    "sink.ts",
    ["--once", "--lake", `file://${join(dir, "lake2")}`, "--group", group],
    auth.wrong,
  );
  assert.notEqual(refusedSink.code, 0);
  assert.match(refusedSink.stderr, refusal);
  // The proxy checks Kafka before it serves: it does not start.
  const refusedProxy = await run(Deno.execPath(), [
    "run",
    "-A",
    "tasks/rest_proxy.ts",
    "serve",
    "--port",
    "0",
    "--bootstrap",
    bootstrap,
    ...auth.wrong.flags,
  ], { env: auth.wrong.env });
  assert.notEqual(refusedProxy.code, 0);
  assert.equal(refusedProxy.stdout, "");
  assert.match(refusedProxy.stderr, /Cannot start the REST proxy: Kafka at .* refused the client/);
  assert.match(refusedProxy.stderr, refusal);
  assert.match(refusedSink.stderr, /Cannot connect to Kafka at .* \(--bootstrap\)/);
  outputs.push(
    refusedSink.stdout,
    refusedSink.stderr,
    refusedProxy.stdout,
    refusedProxy.stderr,
  );
  for (const text of outputs) {
    for (const a of Object.values(auth)) {
      assert.ok(!text.includes(a.secret), `a secret in: ${text}`);
    }
  }
}

Deno.test(
  "rest-proxy serve and sink with --auth aws-iam as the stacks' roles: the proxy as InstanceRole, the sink as MSK Connect's role; a wrong secret refused",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-auth-tasks-" });
    const lines: string[] = [];
    try {
      const b = await secureBroker(dir, lines);
      const ca = b.tls!.caFile!;
      try {
        await pipeline(
          b.bootstrap,
          dir,
          {
            admin: iam(ROLES.admin, ca),
            proxy: iam(ROLES.client, ca),
            sink: iam(ROLES.connect, ca),
            wrong: iam(ROLES.connect, ca, WRONG),
          },
          // The connector's group, which the connect role may use.
          "connect-pinpipe-s3-sink",
          /Access denied/,
        );
        assert.ok(
          lines.some((l) => /authenticated .*pinpipe-client-InstanceRole/.test(l)),
          lines.join("\n"),
        );
        assert.ok(lines.some((l) => /authenticated .*pinpipe-connect-ExecutionRole/.test(l)));
        assert.ok(!lines.some((l) => l.startsWith("denied ")), lines.join("\n"));
        for (const l of lines) assert.ok(!l.includes(WRONG) && !l.includes(ROLES.connect.secret));
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "rest-proxy serve and sink with --auth scram-sha-512 --tls; a wrong password refused",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-auth-tasks-" });
    const lines: string[] = [];
    try {
      const b = await secureBroker(dir, lines);
      const ca = b.tls!.caFile!;
      try {
        await pipeline(
          b.bootstrap,
          dir,
          { admin: scram(ca), proxy: scram(ca), sink: scram(ca), wrong: scram(ca, WRONG) },
          "pinpipe-sink",
          /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/,
        );
        assert.ok(lines.some((l) => l.startsWith("authenticated User:pinpipe with SCRAM-SHA-512")));
        for (const l of lines) assert.ok(!l.includes(WRONG) && !l.includes(SCRAM_PASSWORD));
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
