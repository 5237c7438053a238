/**
 * librdkafka with the Python signer against the embedded broker's IAM listener: Debian's
 * confluent-kafka-python (on the system librdkafka) over SASL_SSL with OAUTHBEARER, each
 * token made in librdkafka's oauth_cb by aws-msk-iam-sasl-signer-python's
 * MSKAuthTokenProvider.generate_auth_token(region) from the environment's credentials, as
 * AWS's guide for Python clients has it (tests/clients/python/msk_iam_client.py). As the
 * REST proxy's InstanceRole, with the policies `deploy --local-policies` renders, it
 * produces to pinpipe.pin and reads the records back in a pinpipe group; a topic outside
 * its policy is refused with Kafka's TOPIC_AUTHORIZATION_FAILED; a wrong secret is refused
 * with MSK's "Access denied" and a request id, which the broker's log line names with the
 * reason, never the secret.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { renderLocalPolicies } from "../../lib/aws/local_policies.ts";
import { mskIamPython } from "../_engines.ts";
import { envTest, run } from "../_fixtures.ts";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";

const CLIENT = { key: "AKIAPINPIPEPYTHON01", secret: "python-Secret-0123456789" };
const REGION = "us-east-1";
const SCRIPT = new URL("../clients/python/msk_iam_client.py", import.meta.url).pathname;

await envTest(
  "confluent-kafka-python with aws-msk-iam-sasl-signer-python (OAUTHBEARER over SASL_SSL): produces and reads back under the InstanceRole's policy; a topic outside it and a wrong secret are refused",
  ["msk-iam-python"],
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-msk-python-" });
    const lines: string[] = [];
    try {
      await renderLocalPolicies(dir, { region: REGION, prefix: "pinpipe" });
      const role = JSON.parse(Deno.readTextFileSync(join(dir, "client-InstanceRole.json"))).role;
      const principals = join(dir, "principals.json");
      await Deno.writeTextFile(
        principals,
        JSON.stringify({
          [CLIENT.key]: {
            secretAccessKey: CLIENT.secret,
            principal: role,
            policies: ["client-InstanceRole.json"],
          },
        }),
      );
      const broker = await startBroker({
        tlsDir: dir,
        iamPrincipalsFile: principals,
        iamRegion: REGION,
        saslMechanisms: ["OAUTHBEARER"],
        listeners: [
          parseListener("IAM=SASL_SSL://127.0.0.1:0"),
          parseListener("PLAINTEXT://127.0.0.1:0"),
        ],
        logger: (l) => lines.push(l),
      });
      try {
        const at = (name: string) => broker.listeners.find((l) => l.name === name)!.bootstrap;
        // The topics, made over PLAINTEXT (no principal, nothing decided), as the stacks'
        // TopicAdminRole makes them on MSK.
        const admin = new Kafka({ brokers: [at("PLAINTEXT")], logLevel: logLevel.NOTHING })
          .admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: "pinpipe.pin" }, { topic: "other.topic" }] });
        await admin.disconnect();

        const python = (await mskIamPython())!;
        const step = async (name: string, args: Record<string, string>, secret = CLIENT.secret) => {
          const r = await run(python, [
            SCRIPT,
            name,
            `bootstrap=${at("IAM")}`,
            `ca=${broker.tls!.caFile}`,
            `region=${REGION}`,
            ...Object.entries(args).map(([k, v]) => `${k}=${v}`),
          ], {
            env: {
              AWS_ACCESS_KEY_ID: CLIENT.key,
              AWS_SECRET_ACCESS_KEY: secret,
              AWS_REGION: REGION,
              AWS_CONFIG_FILE: "/nonexistent",
              AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
              AWS_EC2_METADATA_DISABLED: "true",
            },
          });
          const out = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
          return { code: r.code, out: out ? JSON.parse(out) : {}, all: r.stdout + r.stderr };
        };

        const produced = await step("produce", { topic: "pinpipe.pin", count: "3" });
        assert.equal(produced.code, 0, `${produced.all}\n${lines.join("\n")}`);
        assert.deepEqual(produced.out, { acked: [0, 1, 2] });
        assert.ok(
          lines.some((l) => l.startsWith(`authenticated ${role} with OAUTHBEARER on IAM for`)),
          lines.join("\n"),
        );
        const consumed = await step("consume", {
          topic: "pinpipe.pin",
          group: "pinpipe-python",
          count: "3",
        });
        assert.equal(consumed.code, 0, `${consumed.all}\n${lines.join("\n")}`);
        assert.deepEqual(consumed.out, { values: ["value-0", "value-1", "value-2"] });
        // Metadata shows only the topics the policy lets it describe.
        const seen = await step("metadata", {});
        assert.equal(seen.code, 0, seen.all);
        assert.deepEqual(seen.out, { topics: ["pinpipe.pin"] });

        // A topic outside pinpipe.*: the InstanceRole may not even describe it, so Metadata
        // answers TOPIC_AUTHORIZATION_FAILED and librdkafka fails the record with it.
        const outside = await step("produce", { topic: "other.topic", count: "1" });
        assert.notEqual(outside.code, 0);
        assert.match(outside.out.error ?? outside.all, /TOPIC_AUTHORIZATION_FAILED/);
        assert.ok(
          lines.some((l) =>
            l.startsWith(`denied ${role} kafka-cluster:DescribeTopic on `) &&
            l.includes("/other.topic: no statement allows it")
          ),
          lines.join("\n"),
        );

        // A wrong secret: librdkafka reports MSK's answer; the broker's log says why.
        const wrongSecret = "Wrong-Secret-000000000";
        const wrong = await step("metadata", {}, wrongSecret);
        assert.notEqual(wrong.code, 0);
        const id = /\[([0-9a-f-]{36})\]: Access denied/.exec(wrong.out.error ?? "")?.[1];
        assert.ok(id, wrong.all);
        assert.match(wrong.out.error, /SASL authentication error/);
        assert.match(
          lines.find((l) => l.includes(id!)) ?? lines.join("\n"),
          /refused OAUTHBEARER authentication .* the signature does not match: the request was not signed with AKIAPINPIPEPYTHON01's secret access key/,
        );
        for (const text of [...lines, wrong.all]) {
          assert.ok(
            !text.includes(CLIENT.secret) && !text.includes(wrongSecret),
            `a secret in: ${text}`,
          );
        }
      } finally {
        await broker.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
