/**
 * The stacks' own IAM policies decide on the embedded broker: `deno task deploy
 * --local-policies DIR` renders the roles that talk to Kafka from infra/ (client:
 * InstanceRole, the REST proxy's and tools' role; TopicAdminRole; connect: ExecutionRole),
 * the broker's principals file points each access key at one, and pinpipe's tasks run
 * with `--auth aws-iam` as those roles: the topic admin creates the topics, the instance
 * role may not (as infra/client.yaml says) but emulates into them. Then one action is
 * deleted from a rendered policy: without WriteData `emulate` fails naming the topic and
 * TOPIC_AUTHORIZATION_FAILED while the broker names the action, the resource and the
 * policy file; without AlterGroup a consumer cannot join its group.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { run } from "../_fixtures.ts";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { generateAuthTokenFromCredentialsProvider } from "../../lib/deps/msk_iam.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROLES = {
  client: {
    key: "AKIAPINPIPECLIENT01",
    secret: "client-Secret-0123456789",
    file: "client-InstanceRole.json",
  },
  admin: {
    key: "AKIAPINPIPEADMIN001",
    secret: "admin-Secret-0123456789",
    file: "client-TopicAdminRole.json",
  },
};

/** Renders the policies with the deploy task, as a user would. */
async function render(dir: string): Promise<void> {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/deploy.ts",
    "--local-policies",
    dir,
    "--region",
    "us-east-1",
  ], {
    env: { PINPIPE_CONFIG: join(dir, "none.json") },
  });
  assert.equal(r.code, 0, r.stderr);
  for (const role of Object.values(ROLES)) assert.match(r.stdout, new RegExp(role.file));
  assert.match(r.stdout, /connect-ExecutionRole\.json/);
}

/** Takes `action` out of every statement of a rendered role's policies. */
async function withoutAction(file: string, action: string): Promise<void> {
  const role = JSON.parse(await Deno.readTextFile(file));
  let removed = 0;
  for (const p of role.policies) {
    for (const s of [p.PolicyDocument.Statement].flat()) {
      const before = [s.Action].flat().length;
      s.Action = [s.Action].flat().filter((a: string) => a !== action);
      removed += before - s.Action.length;
    }
  }
  assert.ok(removed > 0, `${file} had ${action}`);
  await Deno.writeTextFile(file, JSON.stringify(role, null, 2));
}

async function broker(dir: string, lines: string[]) {
  const principals = join(dir, "principals.json");
  await Deno.writeTextFile(
    principals,
    JSON.stringify(Object.fromEntries(
      Object.values(ROLES).map((r) => [r.key, {
        secretAccessKey: r.secret,
        principal: JSON.parse(Deno.readTextFileSync(join(dir, r.file))).role,
        policies: [r.file],
      }]),
    )),
  );
  return await startBroker({
    tlsDir: dir,
    iamPrincipalsFile: principals,
    saslMechanisms: ["AWS_MSK_IAM", "OAUTHBEARER"],
    listeners: [parseListener("IAM=SASL_SSL://127.0.0.1:0")],
    logger: (l) => lines.push(l),
  });
}

function task(
  ca: string,
  role: { key: string; secret: string },
  args: string[],
  bootstrap: string,
) {
  return run("deno", [
    "run",
    "-A",
    ...args,
    "--bootstrap",
    bootstrap,
    "--auth",
    "aws-iam",
    "--region",
    "us-east-1",
  ], {
    env: {
      DENO_CERT: ca,
      AWS_ACCESS_KEY_ID: role.key,
      AWS_SECRET_ACCESS_KEY: role.secret,
      AWS_CONFIG_FILE: "/nonexistent",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    },
  });
}

const TOPICS = ["tasks/topics.ts", "--partitions", "1", "--replication", "1"];
const EMULATE = ["tasks/emulate.ts", "--rows", "20", "--mode", "sequential"];

Deno.test(
  "the rendered stack policies decide: the topic admin creates, the instance role emulates; without WriteData emulate fails naming the topic and the action",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-policies-" });
    try {
      await render(dir);
      let lines: string[] = [];
      let b = await broker(dir, lines);
      const ca = b.tls!.caFile!;
      try {
        const refused = await task(ca, ROLES.client, TOPICS, b.bootstrap);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /TOPIC_AUTHORIZATION_FAILED/);
        assert.ok(
          lines.some((l) =>
            /denied .*role\/pinpipe-client-InstanceRole kafka-cluster:CreateTopic on .*:topic\/pinpipe-local\/[^/]+\/pinpipe\.pin: no statement allows it/
              .test(l)
          ),
        );
        const made = await task(ca, ROLES.admin, TOPICS, b.bootstrap);
        assert.equal(made.code, 0, made.stderr);
        const sent = await task(ca, ROLES.client, EMULATE, b.bootstrap);
        assert.equal(sent.code, 0, sent.stderr);
        assert.match(sent.stdout + sent.stderr, /60 acknowledged, 0 failed/);
      } finally {
        await b.close();
      }

      await withoutAction(join(dir, ROLES.client.file), "kafka-cluster:WriteData");
      lines = [];
      b = await broker(dir, lines);
      try {
        const made = await task(ca, ROLES.admin, TOPICS, b.bootstrap);
        assert.equal(made.code, 0, made.stderr);
        const failed = await task(ca, ROLES.client, EMULATE, b.bootstrap);
        assert.notEqual(failed.code, 0);
        assert.match(
          failed.stderr,
          /to topic "pinpipe\.\w+": Kafka at .* answered TOPIC_AUTHORIZATION_FAILED/,
        );
        const denial = lines.find((l) => l.includes("kafka-cluster:WriteData"));
        assert.match(
          denial ?? lines.join("\n"),
          /^denied arn:aws:iam::000000000000:role\/pinpipe-client-InstanceRole kafka-cluster:WriteData on arn:aws:kafka:us-east-1:000000000000:topic\/pinpipe-local\/[^/]+\/pinpipe\.\w+: no statement allows it \(.*client-InstanceRole\.json\)$/,
        );
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "without AlterGroup a consumer of the instance role cannot join its group: GROUP_AUTHORIZATION_FAILED",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-policies-" });
    try {
      await render(dir);
      await withoutAction(join(dir, ROLES.client.file), "kafka-cluster:AlterGroup");
      const lines: string[] = [];
      const b = await broker(dir, lines);
      try {
        const made = await task(b.tls!.caFile!, ROLES.admin, TOPICS, b.bootstrap);
        assert.equal(made.code, 0, made.stderr);
        const kafka = new Kafka({
          brokers: [b.bootstrap],
          logLevel: logLevel.NOTHING,
          retry: { retries: 0 },
          ssl: { ca: [await Deno.readTextFile(b.tls!.caFile!)] },
          sasl: {
            mechanism: "oauthbearer",
            oauthBearerProvider: async () => ({
              value: (await generateAuthTokenFromCredentialsProvider({
                region: "us-east-1",
                awsCredentialsProvider: () =>
                  Promise.resolve({
                    accessKeyId: ROLES.client.key,
                    secretAccessKey: ROLES.client.secret,
                  }),
              })).token,
            }),
          },
        });
        const consumer = kafka.consumer({ groupId: "pinpipe-readers", retry: { retries: 0 } });
        await consumer.connect();
        await consumer.subscribe({ topic: "pinpipe.pin", fromBeginning: true });
        const crashed = new Promise<string>((resolve) =>
          consumer.on(consumer.events.CRASH, (e) => resolve(String(e.payload.error)))
        );
        await consumer.run({ eachMessage: () => Promise.resolve() });
        assert.match(await crashed, /Not authorized to access group/, lines.join("\n"));
        await consumer.disconnect();
        assert.ok(
          lines.some((l) =>
            /denied .*InstanceRole kafka-cluster:AlterGroup on arn:aws:kafka:.*:group\/pinpipe-local\/[^/]+\/pinpipe-readers: no statement allows it/
              .test(l)
          ),
          lines.join("\n"),
        );
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
