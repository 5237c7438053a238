/**
 * The client matrix (tests/clients/_matrix.ts) for two JavaScript clients no one here wrote:
 * @platformatic/kafka (pure TypeScript, today's flexible protocol versions; run by Deno from
 * a pinned npm: import) and @confluentinc/kafka-javascript (librdkafka built from source
 * into the engine cache; run by node). Each on Apache Kafka and on the embedded broker.
 * kafkajs, the client pinpipe itself uses, has its own tests (broker_kafkajs_test.ts).
 */
import { nodeClientsPath } from "../_engines.ts";
import { defineMatrix, kv } from "../clients/_matrix.ts";

const dir = new URL("../clients/", import.meta.url).pathname;

await defineMatrix({
  label: "@platformatic/kafka",
  needs: [],
  command: (step, args) =>
    Promise.resolve({
      cmd: Deno.execPath(),
      args: ["run", "-A", "--no-check", `${dir}platformatic_client.ts`, step, ...kv(args)],
    }),
});

await defineMatrix({
  label: "@confluentinc/kafka-javascript",
  needs: ["node-clients"],
  command: async (step, args) => ({
    cmd: "node",
    args: [`${dir}node/confluent_client.cjs`, step, ...kv(args)],
    env: { PINPIPE_NODE_CLIENTS: (await nodeClientsPath())! },
  }),
});
