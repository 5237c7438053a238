/**
 * The original guide's Kafka client setup against the embedded broker's IAM listener:
 * Apache Kafka's CLI tools with `software.amazon.msk:aws-msk-iam-auth` on the classpath
 * and the guide's client.properties (SASL_SSL, AWS_MSK_IAM, IAMLoginModule,
 * IAMClientCallbackHandler; the awsRoleArn line replaced by credentials from the
 * environment; the truststore the broker made). As the guide's step 5 does, kafka-topics
 * creates the three topics (as the stacks' TopicAdminRole), then the console producer and
 * consumer write and read them (as the REST proxy's InstanceRole), each request decided by
 * the policies `deploy --local-policies` rendered. A wrong secret is refused with MSK's
 * "Access denied".
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { renderLocalPolicies } from "../../lib/aws/local_policies.ts";
import { TRUSTSTORE_PASSWORD } from "../../lib/broker/tls.ts";
import { kafkaTool, mskIamAuthClasspath } from "../_engines.ts";
import { envTest } from "../_fixtures.ts";

const ADMIN = { key: "AKIAPINPIPEADMIN001", secret: "admin-Secret-0123456789" };
const CLIENT = { key: "AKIAPINPIPECLIENT01", secret: "client-Secret-0123456789" };

await envTest(
  "aws-msk-iam-auth (AWS_MSK_IAM) with the guide's client.properties: kafka-topics creates the topics, the console producer and consumer write and read, a wrong secret is denied",
  ["kafka", "msk-iam-auth"],
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-msk-jar-" });
    const lines: string[] = [];
    try {
      await renderLocalPolicies(dir, { region: "us-east-1", prefix: "pinpipe" });
      const principals = join(dir, "principals.json");
      const role = (file: string) => JSON.parse(Deno.readTextFileSync(join(dir, file))).role;
      await Deno.writeTextFile(
        principals,
        JSON.stringify({
          [ADMIN.key]: {
            secretAccessKey: ADMIN.secret,
            principal: role("client-TopicAdminRole.json"),
            policies: ["client-TopicAdminRole.json"],
          },
          [CLIENT.key]: {
            secretAccessKey: CLIENT.secret,
            principal: role("client-InstanceRole.json"),
            policies: ["client-InstanceRole.json"],
          },
        }),
      );
      const broker = await startBroker({
        tlsDir: dir,
        iamPrincipalsFile: principals,
        saslMechanisms: ["AWS_MSK_IAM", "OAUTHBEARER"],
        listeners: [parseListener("IAM=SASL_SSL://127.0.0.1:0")],
        logger: (l) => lines.push(l),
      });
      try {
        // The guide's client.properties, the role ARN replaced by the environment's credentials.
        const props = join(dir, "client.properties");
        await Deno.writeTextFile(
          props,
          [
            "security.protocol=SASL_SSL",
            "sasl.mechanism=AWS_MSK_IAM",
            "sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;",
            "sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler",
            `ssl.truststore.location=${broker.tls!.truststoreFile}`,
            "ssl.truststore.type=PKCS12",
            `ssl.truststore.password=${TRUSTSTORE_PASSWORD}`,
          ].join("\n") + "\n",
        );
        const classpath = (await mskIamAuthClasspath())!;
        const as = (who: { key: string; secret: string }) => ({
          classpath,
          env: {
            AWS_ACCESS_KEY_ID: who.key,
            AWS_SECRET_ACCESS_KEY: who.secret,
            AWS_REGION: "us-east-1",
            AWS_CONFIG_FILE: "/nonexistent",
            AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
            AWS_EC2_METADATA_DISABLED: "true",
          },
        });
        const bs = ["--bootstrap-server", broker.bootstrap];
        for (const t of ["pinpipe.pin", "pinpipe.geo", "pinpipe.user"]) {
          const r = await kafkaTool("kafka-topics", [
            ...bs,
            "--command-config",
            props,
            "--create",
            "--topic",
            t,
            "--partitions",
            "1",
            "--replication-factor",
            "1",
          ], as(ADMIN));
          assert.equal(r.code, 0, `kafka-topics --create ${t}: ${r.stderr}\n${lines.join("\n")}`);
        }
        assert.ok(lines.some((l) => l.includes("with AWS_MSK_IAM on IAM")), lines.join("\n"));
        const listed = await kafkaTool(
          "kafka-topics",
          [...bs, "--command-config", props, "--list"],
          as(CLIENT),
        );
        assert.equal(listed.code, 0, listed.stderr);
        assert.deepEqual(listed.stdout.trim().split("\n").sort(), [
          "pinpipe.geo",
          "pinpipe.pin",
          "pinpipe.user",
        ]);
        const produced = await kafkaTool("kafka-console-producer", [
          ...bs,
          "--producer.config",
          props,
          "--topic",
          "pinpipe.pin",
        ], { ...as(CLIENT), stdin: "pin-1\npin-2\n" });
        assert.equal(produced.code, 0, produced.stderr);
        const consumed = await kafkaTool("kafka-console-consumer", [
          ...bs,
          "--consumer.config",
          props,
          "--topic",
          "pinpipe.pin",
          "--group",
          "pinpipe-console",
          "--from-beginning",
          "--max-messages",
          "2",
          "--timeout-ms",
          "30000",
        ], as(CLIENT));
        assert.deepEqual(consumed.stdout.trim().split("\n"), ["pin-1", "pin-2"], consumed.stderr);
        // The instance role may not create topics (infra/client.yaml): TOPIC_AUTHORIZATION_FAILED.
        const notAdmin = await kafkaTool("kafka-topics", [
          ...bs,
          "--command-config",
          props,
          "--create",
          "--topic",
          "pinpipe.extra",
        ], as(CLIENT));
        assert.notEqual(notAdmin.code, 0);
        assert.match(notAdmin.stderr, /TopicAuthorizationException/);
        const wrong = await kafkaTool(
          "kafka-topics",
          [...bs, "--command-config", props, "--list"],
          {
            ...as({ key: CLIENT.key, secret: "Wrong-Secret-000000" }),
            timeoutMs: 60_000,
          },
        );
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /SaslAuthenticationException: \[[0-9a-f-]{36}\]: Access denied/);
        assert.ok(lines.some((l) => /refused AWS_MSK_IAM .* the signature does not match/.test(l)));
      } finally {
        await broker.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
