/**
 * The demo's embedded broker with the security its clients meet on AWS (`deno task demo
 * --auth scram-sha-512 | aws-iam`): one SASL_SSL listener with the broker's local CA (made in
 * `<dir>/kafka/tls`), and the demo's clients — topic admin, REST proxy, sink — logging in.
 *
 * - scram-sha-512: one user, `pinpipe-demo`, with a password made for this run.
 * - aws-iam: the stacks' own roles, rendered from infra/ as `deploy --local-policies` renders
 *   them (into `<dir>/kafka/policies`), decide every request: the topic admin creates the
 *   topics as client `TopicAdminRole`, the REST proxy writes as client `InstanceRole` (as on
 *   EC2), the sink reads as MSK Connect's `ExecutionRole` in the connector's group name
 *   (`connect-<prefix>-s3-sink-demo`), each with an access key made for this run.
 *
 * The secrets exist only in this process and in a private temporary file the broker reads at
 * start (removed once it has); they are registered for redaction and never printed.
 * @module
 */
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { type Broker, startBroker } from "../broker/broker.ts";
import { parseListener } from "../broker/sasl.ts";
import type { Kafka } from "../deps/kafkajs.ts";
import { createKafka, type KafkaClientOptions } from "../kafka/kafka_client.ts";
import { renderLocalPolicies } from "../aws/local_policies.ts";
import { registerSecret } from "../shell/redact.ts";

/** How the demo's own broker checks its clients. */
export type DemoAuth = "scram-sha-512" | "aws-iam";

/** The broker and a client for each part of the demo, as the part logs in on AWS. */
export interface SecureDemoBroker {
  broker: Broker;
  admin: Kafka;
  proxy: Kafka;
  sink: Kafka;
  /** The sink's group, when the role it runs as names one. */
  sinkGroup?: string;
  /** How the clients log in, for the stage's line. */
  note: string;
}

/** A fresh random secret (base64url, 32 bytes). */
function secret(): string {
  const s = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  registerSecret(s);
  return s;
}

/** Starts the broker in `dataDir` with `auth`; `prefix` names the topics the roles cover. */
export async function startSecureBroker(opts: {
  auth: DemoAuth;
  dataDir: string;
  prefix: string;
  region: string;
}): Promise<SecureDemoBroker> {
  const secrets = await Deno.makeTempDir({ prefix: "pinpipe-demo-auth-" });
  try {
    await Deno.chmod(secrets, 0o700);
    const base = {
      dataDir: opts.dataDir,
      fsync: "interval" as const,
      listeners: [parseListener("SECURE=SASL_SSL://127.0.0.1:0")],
    };
    if (opts.auth === "scram-sha-512") {
      const password = secret();
      const users = join(secrets, "users.json");
      await Deno.writeTextFile(users, JSON.stringify({ "pinpipe-demo": password }), {
        mode: 0o600,
      });
      const broker = await startBroker({
        ...base,
        saslUsersFile: users,
        saslMechanisms: ["SCRAM-SHA-512"],
      });
      const client = clientOf(broker, {
        auth: "scram-sha-512",
        username: "pinpipe-demo",
        password,
      });
      return {
        broker,
        admin: client("pinpipe-demo-admin"),
        proxy: client("pinpipe-demo-rest-proxy"),
        sink: client("pinpipe-demo-sink"),
        note: "SASL_SSL, SCRAM-SHA-512 (user pinpipe-demo)",
      };
    }
    const policies = join(opts.dataDir, "policies");
    const rendered = await renderLocalPolicies(policies, {
      region: opts.region,
      prefix: opts.prefix,
    });
    const roleOf = (name: string) => {
      const r = rendered.find((r) => r.file.endsWith(`/${name}.json`));
      if (!r) {
        throw new Error(`infra/ rendered no ${name} role (have ${rendered.map((r) => r.file)})`);
      }
      return r;
    };
    const roles = {
      admin: roleOf("client-TopicAdminRole"),
      proxy: roleOf("client-InstanceRole"),
      sink: roleOf("connect-ExecutionRole"),
    };
    const keys = Object.fromEntries(
      Object.keys(roles).map((part, i) => [part, {
        accessKeyId: `AKIAPINPIPEDEMO${String(i).padStart(5, "0")}`,
        secretAccessKey: secret(),
      }]),
    ) as Record<keyof typeof roles, { accessKeyId: string; secretAccessKey: string }>;
    const principals = join(secrets, "principals.json");
    await Deno.writeTextFile(
      principals,
      JSON.stringify(Object.fromEntries(
        (Object.keys(roles) as (keyof typeof roles)[]).map((part) => [keys[part].accessKeyId, {
          secretAccessKey: keys[part].secretAccessKey,
          principal: roles[part].role,
          policies: [roles[part].file],
        }]),
      )),
      { mode: 0o600 },
    );
    const broker = await startBroker({
      ...base,
      iamPrincipalsFile: principals,
      iamRegion: opts.region,
      saslMechanisms: ["AWS_MSK_IAM", "OAUTHBEARER"],
    });
    const as = (part: keyof typeof roles) =>
      clientOf(broker, { auth: "aws-iam", region: opts.region, awsCredentials: keys[part] })(
        `pinpipe-demo-${part}`,
      );
    return {
      broker,
      admin: as("admin"),
      proxy: as("proxy"),
      sink: as("sink"),
      sinkGroup: `connect-${opts.prefix}-s3-sink-demo`,
      note: "SASL_SSL, MSK IAM: the stacks' roles, rendered into kafka/policies",
    };
  } finally {
    await Deno.remove(secrets, { recursive: true });
  }
}

/** Clients of `broker`'s listener trusting its CA, logging in as `login` says. */
function clientOf(broker: Broker, login: Partial<KafkaClientOptions>) {
  const ca = Deno.readTextFileSync(broker.tls!.caFile!);
  return (clientId: string) =>
    createKafka({ bootstrap: broker.bootstrap, clientId, tls: true, ca, ...login });
}
