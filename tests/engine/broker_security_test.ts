/**
 * TLS and SASL/SCRAM side by side: the embedded broker and Apache Kafka 3.9.1, each with
 * PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners (SCRAM-SHA-512 and -256) and the
 * same certificate (the local CA the embedded broker makes), driven the same way:
 * `kafka-configs --alter --add-config 'SCRAM-SHA-512=[…]' --entity-type users` and
 * `--describe`, kcat, kafkajs and Java's CLI tools (PKCS12 truststore) over SSL and
 * SASL_SSL, a wrong password (the same error on both), and a request before
 * authenticating (both close the connection).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { localCertificates, TRUSTSTORE_PASSWORD } from "../../lib/broker/tls.ts";
import { Oracle } from "../_broker_oracle.ts";
import { kafkaTool, startKafka } from "../_engines.ts";
import { envTest, waitFor } from "../_fixtures.ts";

const PASSWORD = "alice-Secret-1";
const WRONG = "not-alices-password";
const LISTENERS = ["SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;

/** One broker under test: its listeners by name, and the CA its clients trust. */
interface Target {
  name: string;
  at: Record<string, string>;
  ca: string;
  truststore: string;
  stop(): Promise<void>;
}

async function embedded(dir: string): Promise<Target> {
  const broker = await startBroker({
    tlsDir: dir,
    listeners: ["PLAINTEXT", ...LISTENERS].map((p) => parseListener(`${p}://127.0.0.1:0`)),
    saslMechanisms: ["SCRAM-SHA-512", "SCRAM-SHA-256"],
  });
  return {
    name: "embedded",
    at: Object.fromEntries(broker.listeners.map((l) => [l.name, l.bootstrap])),
    ca: broker.tls!.caFile!,
    truststore: broker.tls!.truststoreFile!,
    stop: () => broker.close(),
  };
}

async function apacheKafka(dir: string): Promise<Target> {
  // The same local CA and server certificate, as a PEM keystore (key and chain in one file).
  const tls = await localCertificates(dir, ["127.0.0.1"]);
  const keystore = join(dir, "kafka-keystore.pem");
  await Deno.writeTextFile(keystore, tls.key + tls.cert);
  const jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  const config: Record<string, string> = {
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": keystore,
    "sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256",
  };
  for (const l of ["sasl_plaintext", "sasl_ssl"]) {
    for (const m of ["scram-sha-512", "scram-sha-256"]) {
      config[`listener.name.${l}.${m}.sasl.jaas.config`] = jaas;
    }
  }
  const kafka = await startKafka({
    config,
    listeners: LISTENERS.map((protocol) => ({ name: protocol, protocol })),
  });
  return {
    name: "Apache Kafka",
    at: kafka.listeners,
    ca: tls.caFile!,
    truststore: tls.truststoreFile!,
    stop: () => kafka.stop(),
  };
}

async function kcat(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command("kcat", { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

function kcatSasl(t: Target, mechanism: string, password: string): string[] {
  return [
    "-b",
    t.at.SASL_SSL,
    "-X",
    "security.protocol=SASL_SSL",
    "-X",
    `ssl.ca.location=${t.ca}`,
    "-X",
    `sasl.mechanisms=${mechanism}`,
    "-X",
    "sasl.username=alice",
    "-X",
    `sasl.password=${password}`,
  ];
}

/** Java client properties for SASL_SSL SCRAM with the PKCS12 truststore. */
async function javaProps(t: Target, dir: string, password: string): Promise<string> {
  const file = join(dir, `client-${t.name.replace(/\W/g, "")}-${password.length}.properties`);
  await Deno.writeTextFile(
    file,
    [
      "security.protocol=SASL_SSL",
      "sasl.mechanism=SCRAM-SHA-512",
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${password}";`,
      `ssl.truststore.location=${t.truststore}`,
      "ssl.truststore.type=PKCS12",
      `ssl.truststore.password=${TRUSTSTORE_PASSWORD}`,
    ].join("\n") + "\n",
  );
  return file;
}

/** Everything the test observes of one target, compared across the two. */
async function drive(t: Target, dir: string): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const configs = (args: string[]) =>
    kafkaTool("kafka-configs", ["--bootstrap-server", t.at.PLAINTEXT, ...args]);
  const users = ["--entity-type", "users", "--entity-name", "alice"];
  // Both mechanisms in one request: Apache Kafka refuses a user named twice.
  const both = await configs([
    "--alter",
    "--add-config",
    `SCRAM-SHA-512=[iterations=8192,password=${PASSWORD}],SCRAM-SHA-256=[password=${PASSWORD}]`,
    ...users,
  ]);
  seen.bothAtOnce = /DuplicateResourceException: (.*)/.exec(both.stderr)?.[1] ?? both.stderr;
  for (
    const c of [
      `SCRAM-SHA-512=[iterations=8192,password=${PASSWORD}]`,
      `SCRAM-SHA-256=[password=${PASSWORD}]`,
    ]
  ) {
    const add = await configs(["--alter", "--add-config", c, ...users]);
    assert.equal(add.code, 0, `${t.name}: kafka-configs --alter: ${add.stderr}`);
    seen.added = add.stdout.trim();
  }
  const describe = async () => (await configs(["--describe", ...users])).stdout.trim();
  // Apache Kafka applies the credential through its metadata log: wait until it is seen.
  await waitFor(
    `${t.name} to describe alice's credentials`,
    async () => /SCRAM-SHA-512/.test(await describe()) && /SCRAM-SHA-256/.test(await describe()),
    30_000,
    500,
  );
  // Apache Kafka lists a user's mechanisms in no fixed order (both seen, run to run): sorted.
  seen.described = (await describe()).replace(
    /(are )(.*)$/,
    (_, are: string, list: string) => are + list.split(", ").sort().join(", "),
  );
  const bad = await configs([
    "--alter",
    "--add-config",
    "SCRAM-SHA-512=[iterations=100,password=x]",
    "--entity-type",
    "users",
    "--entity-name",
    "bob",
  ]);
  seen.tooFewIterations = bad.stderr.match(/Too few iterations/)?.[0] ?? bad.stderr;

  // kcat over SSL: Metadata names the SSL listener.
  const ssl = await kcat([
    "-b",
    t.at.SSL,
    "-X",
    "security.protocol=SSL",
    "-X",
    `ssl.ca.location=${t.ca}`,
    "-L",
  ]);
  assert.equal(ssl.code, 0, `${t.name}: kcat over SSL: ${ssl.out}`);
  seen.sslBrokerIsListener = ssl.out.includes(`at ${t.at.SSL}`);

  // kcat over SASL_SSL with SCRAM-SHA-512: produce and read back; then a wrong password.
  await waitFor(
    `${t.name} to accept alice over SASL_SSL`,
    async () =>
      (await kcat([...kcatSasl(t, "SCRAM-SHA-512", PASSWORD), "-L", "-m", "5"])).code === 0,
    30_000,
    500,
  );
  const topic = "secure-kcat";
  const made = await kafkaTool("kafka-topics", [
    "--bootstrap-server",
    t.at.PLAINTEXT,
    "--create",
    "--topic",
    topic,
    "--partitions",
    "1",
    "--replication-factor",
    "1",
  ]);
  assert.equal(made.code, 0, made.stderr);
  const p = new Deno.Command("kcat", {
    args: [
      ...kcatSasl(t, "SCRAM-SHA-512", PASSWORD),
      "-P",
      "-t",
      topic,
      "-X",
      "topic.metadata.refresh.interval.ms=100",
    ],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode("one\ntwo\n"));
  await w.close();
  const pout = await p.output();
  assert.equal(pout.code, 0, `${t.name}: kcat -P: ${new TextDecoder().decode(pout.stderr)}`);
  const consumed = await kcat([
    ...kcatSasl(t, "SCRAM-SHA-512", PASSWORD),
    "-C",
    "-t",
    topic,
    "-o",
    "beginning",
    "-e",
    "-q",
  ]);
  seen.kcatRoundTrip = consumed.out.trim().split("\n");
  const wrong = await kcat([...kcatSasl(t, "SCRAM-SHA-512", WRONG), "-L", "-m", "3"]);
  assert.notEqual(wrong.code, 0);
  seen.kcatWrongPassword = /SASL authentication error: ([^(]*)/.exec(wrong.out)?.[1].trim() ??
    wrong.out;

  // kafkajs with SCRAM-SHA-256 over SASL_SSL; then a wrong password.
  const ca = await Deno.readTextFile(t.ca);
  const kafkajs = (password: string) =>
    new Kafka({
      brokers: [t.at.SASL_SSL],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      ssl: { ca: [ca] },
      sasl: { mechanism: "scram-sha-256", username: "alice", password },
    });
  const admin = kafkajs(PASSWORD).admin();
  await admin.connect();
  seen.kafkajsTopics = (await admin.listTopics()).filter((n) => n === topic);
  seen.kafkajsBrokerIsListener = (await admin.describeCluster()).brokers[0].port ===
    Number(t.at.SASL_SSL.split(":")[1]);
  await admin.disconnect();
  const refused = await kafkajs(WRONG).admin().connect().then(() => "connected", (e) => e.message);
  seen.kafkajsWrongPassword = refused;

  // Java's CLI over SASL_SSL with the PKCS12 truststore; then a wrong password.
  const good = await javaProps(t, dir, PASSWORD);
  const created = await kafkaTool("kafka-topics", [
    "--bootstrap-server",
    t.at.SASL_SSL,
    "--command-config",
    good,
    "--create",
    "--topic",
    "secure-java",
    "--partitions",
    "1",
    "--replication-factor",
    "1",
  ]);
  assert.equal(created.code, 0, `${t.name}: kafka-topics --create: ${created.stderr}`);
  const produced = await kafkaTool("kafka-console-producer", [
    "--bootstrap-server",
    t.at.SASL_SSL,
    "--producer.config",
    good,
    "--topic",
    "secure-java",
  ], { stdin: "java-one\njava-two\n" });
  assert.equal(produced.code, 0, `${t.name}: console producer: ${produced.stderr}`);
  const read = await kafkaTool("kafka-console-consumer", [
    "--bootstrap-server",
    t.at.SASL_SSL,
    "--consumer.config",
    good,
    "--topic",
    "secure-java",
    "--from-beginning",
    "--max-messages",
    "2",
    "--timeout-ms",
    "30000",
  ]);
  seen.javaRoundTrip = read.stdout.trim().split("\n");
  const denied = await kafkaTool("kafka-topics", [
    "--bootstrap-server",
    t.at.SASL_SSL,
    "--command-config",
    await javaProps(t, dir, WRONG),
    "--list",
  ], { timeoutMs: 60_000 });
  assert.notEqual(denied.code, 0);
  seen.javaWrongPassword =
    /SaslAuthenticationException: ([^\n]*)/.exec(denied.stderr + denied.stdout)?.[1] ??
      denied.stderr;

  // A request before authenticating: both close the connection.
  const o = await Oracle.open(t.at.SASL_PLAINTEXT);
  try {
    seen.apiVersionsBeforeAuth = (await o.call("ApiVersions", 2)).errorCode;
    seen.metadataBeforeAuth = await o.call("Metadata", 1, { topics: [] }).then(
      () => "answered",
      (e) => /closed the connection/.test(e.message) ? "closed" : e.message,
    );
  } finally {
    o.close();
  }
  // Deleting one mechanism.
  const del = await configs(["--alter", "--delete-config", "SCRAM-SHA-256", ...users]);
  assert.equal(del.code, 0, del.stderr);
  await waitFor(
    `${t.name} to drop SCRAM-SHA-256`,
    async () => !/SCRAM-SHA-256/.test(await describe()),
    30_000,
    500,
  );
  seen.afterDelete = await describe();
  return seen;
}

await envTest(
  "TLS and SASL/SCRAM: the embedded broker answers kafka-configs, kcat, kafkajs and Java's CLI as Apache Kafka 3.9.1 does",
  ["kafka", "kcat"],
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-sec-engine-" });
    const results: Record<string, Record<string, unknown>> = {};
    try {
      for (const make of [embedded, apacheKafka]) {
        const sub = await Deno.makeTempDir({ dir });
        const t = await make(sub);
        try {
          results[t.name] = await drive(t, sub);
        } finally {
          await t.stop();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    const [ours, theirs] = [results.embedded, results["Apache Kafka"]];
    console.log(JSON.stringify(results, null, 1));
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours.kcatRoundTrip, ["one", "two"]);
    assert.deepEqual(ours.javaRoundTrip, ["java-one", "java-two"]);
    assert.match(
      String(ours.kcatWrongPassword),
      /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/,
    );
    assert.equal(ours.metadataBeforeAuth, "closed");
  },
);
