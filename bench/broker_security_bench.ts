/**
 * What TLS, SCRAM and MSK IAM cost on the embedded broker, side by side in one run: the
 * broker task in its own process with four listeners (PLAINTEXT, SSL, SASL_SSL taking
 * SCRAM-SHA-512 and MSK IAM), 1 KiB records, and per listener
 *
 * - kafka-producer-perf-test (acks=all) and kafka-consumer-perf-test (fetch rate), the IAM
 *   listener through aws-msk-iam-auth's AWS_MSK_IAM (when provisioned);
 * - kcat producing (plaintext, TLS, SCRAM; librdkafka has no MSK IAM signer);
 *
 * then Apache Kafka (the tests' version, KRaft, one node) with a TLS listener and the same
 * certificate, measured the same way; and an IAM handshake's verification at the broker
 * (SigV4 of an aws-msk-iam-sasl-signer-js token, averaged over 2,000).
 *
 * Targets (issue 23): TLS produce >= 0.7x plaintext and >= 1.0x Apache Kafka with TLS; an
 * IAM handshake under 5 ms at the broker.
 *
 * `BENCH_SECURITY_SCALE=0.1` runs at 10 % (default 200,000 records per run).
 * @module
 */
import { join } from "node:path";
import { report } from "./_measure.ts";
import { spawnTask } from "./_process.ts";
import { kafkaTool, mskIamAuthClasspath, startKafka } from "./_engines.ts";
import { localCertificates, TRUSTSTORE_PASSWORD } from "../lib/broker/tls.ts";
import { IamPrincipals, oauthIamExchange } from "../lib/broker/iam.ts";
import { generateAuthTokenFromCredentialsProvider } from "../lib/deps/msk_iam.ts";

const SCALE = Number(Deno.env.get("BENCH_SECURITY_SCALE") ?? 1);
const RECORDS = Math.round(200_000 * SCALE);
const RECORD_BYTES = 1024;
const KEY = "AKIAPINPIPEBENCH001";
const SECRET = "bench-Secret-0123456789";
const USER_PASSWORD = "bench-password-1";

const dir = await Deno.makeTempDir({ prefix: "pinpipe-security-bench-" });

/** One way of connecting: its bootstrap, Java client properties, kcat options, environment. */
interface Mode {
  name: string;
  bootstrap: string;
  props: string[];
  kcat?: string[];
  classpath?: string;
  env?: Record<string, string>;
}

async function propsFile(name: string, lines: string[]): Promise<string> {
  const file = join(dir, `${name.replace(/\W+/g, "_")}.properties`);
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return file;
}

async function writeRecords(path: string, n: number): Promise<void> {
  const line = "x".repeat(RECORD_BYTES - 1) + "\n";
  const chunk = new TextEncoder().encode(line.repeat(1000));
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let done = 0; done < n; done += 1000) {
    await f.write(chunk.subarray(0, Math.min(1000, n - done) * RECORD_BYTES));
  }
  f.close();
}

async function perfProduce(m: Mode, topic: string): Promise<number | string> {
  const config = await propsFile(`${m.name}-producer`, m.props);
  const r = await kafkaTool("kafka-producer-perf-test", [
    "--topic",
    topic,
    "--num-records",
    String(RECORDS),
    "--record-size",
    String(RECORD_BYTES),
    "--throughput",
    "-1",
    "--producer.config",
    config,
    "--producer-props",
    `bootstrap.servers=${m.bootstrap}`,
    "acks=all",
  ], { timeoutMs: 900_000, classpath: m.classpath, env: m.env });
  const hit = [...r.stdout.matchAll(/^(\d+) records sent, ([\d.]+) records\/sec/gm)].at(-1);
  if (r.code !== 0 || !hit || Number(hit[1]) !== RECORDS) {
    return `failed (exit ${r.code}): ${
      (r.stderr + r.stdout).trim().split("\n").slice(-2).join(" / ")
    }`;
  }
  return Number(hit[2]);
}

async function perfConsume(m: Mode, topic: string): Promise<number | string> {
  const config = await propsFile(`${m.name}-consumer`, m.props);
  const r = await kafkaTool("kafka-consumer-perf-test", [
    "--bootstrap-server",
    m.bootstrap,
    "--consumer.config",
    config,
    "--group",
    `pinpipe-bench-${topic}`,
    "--topic",
    topic,
    "--messages",
    String(RECORDS),
    "--timeout",
    "60000",
  ], { timeoutMs: 900_000, classpath: m.classpath, env: m.env });
  const fields = r.stdout.trim().split("\n").at(-1)?.split(",").map((f) => Number(f.trim()));
  if (r.code !== 0 || !fields || fields.length < 10 || fields[4] < RECORDS) {
    return `failed (exit ${r.code}): ${
      (r.stderr + r.stdout).trim().split("\n").slice(-2).join(" / ")
    }`;
  }
  return fields[9];
}

async function kcatProduce(m: Mode, topic: string, file: string): Promise<number | string> {
  const t0 = performance.now();
  const out = await new Deno.Command("kcat", {
    args: ["-b", m.bootstrap, ...m.kcat!, "-P", "-t", topic, "-l", file],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    return `failed: ${new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)}`;
  }
  return RECORDS / ((performance.now() - t0) / 1000);
}

function show(name: string, v: number | string): number | undefined {
  if (typeof v === "string") {
    console.log(`  ${name}: ${v}`);
    return undefined;
  }
  report(name, v, "records/s");
  return v;
}

function ratio(what: string, a: number | undefined, b: number | undefined, min: number): void {
  if (a === undefined || b === undefined) return console.log(`  ratio ${what}: not measured`);
  const r = a / b;
  console.log(
    `  ratio ${what}: ${r.toFixed(2)}x (target >= ${min}x) ${r >= min ? "MET" : "MISSED"}`,
  );
}

/** Produces and consumes through each mode; answers the produce rates by mode name. */
async function measure(
  label: string,
  modes: Mode[],
  records: string,
): Promise<Record<string, { perf?: number; kcat?: number }>> {
  const out: Record<string, { perf?: number; kcat?: number }> = {};
  for (const m of modes) {
    const topic = `bench-${m.name.toLowerCase().replace(/\W+/g, "-")}`;
    const perf = show(`${label} ${m.name}: kafka-producer-perf-test`, await perfProduce(m, topic));
    show(`${label} ${m.name}: kafka-consumer-perf-test (fetch rate)`, await perfConsume(m, topic));
    const kcat = m.kcat
      ? show(`${label} ${m.name}: kcat producer`, await kcatProduce(m, `${topic}-kcat`, records))
      : undefined;
    out[m.name] = { perf, kcat };
  }
  return out;
}

try {
  const records = join(dir, "records.txt");
  await writeRecords(records, RECORDS);
  const tls = await localCertificates(dir, ["127.0.0.1"]);
  await Deno.writeTextFile(join(dir, "users.json"), JSON.stringify({ bench: USER_PASSWORD }));
  await Deno.writeTextFile(
    join(dir, "principals.json"),
    JSON.stringify({
      [KEY]: { secretAccessKey: SECRET, principal: "arn:aws:iam::000000000000:role/bench" },
    }),
  );
  const broker = await spawnTask("broker.ts", [
    `--data-dir=${join(dir, "data")}`,
    "--listener=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
    // The certificate the clients' CA signed (without these the broker makes its own CA in
    // the data dir, which the clients do not trust).
    `--tls-cert=${join(dir, "tls", "server.pem")}`,
    `--tls-key=${join(dir, "tls", "server.key")}`,
    "--partitions=3",
    "--auto-create",
    `--sasl-users=${join(dir, "users.json")}`,
    `--iam-principals=${join(dir, "principals.json")}`,
    "--json",
    "--quiet",
  ]);
  const info = JSON.parse(broker.firstLine) as {
    listeners: { name: string; bootstrap: string }[];
  };
  const at = (n: string) => info.listeners.find((l) => l.name === n)!.bootstrap;
  const trust = [
    `ssl.truststore.location=${tls.truststoreFile}`,
    "ssl.truststore.type=PKCS12",
    `ssl.truststore.password=${TRUSTSTORE_PASSWORD}`,
  ];
  const iamJar = await mskIamAuthClasspath();
  const modes: Mode[] = [
    { name: "plaintext", bootstrap: at("PLAINTEXT"), props: [], kcat: [] },
    {
      name: "TLS",
      bootstrap: at("SSL"),
      props: ["security.protocol=SSL", ...trust],
      kcat: ["-X", "security.protocol=SSL", "-X", `ssl.ca.location=${tls.caFile}`],
    },
    {
      name: "SASL_SSL SCRAM-SHA-512",
      bootstrap: at("SASL_SSL"),
      props: [
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-512",
        `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bench" password="${USER_PASSWORD}";`,
        ...trust,
      ],
      kcat: [
        "-X",
        "security.protocol=SASL_SSL",
        "-X",
        `ssl.ca.location=${tls.caFile}`,
        "-X",
        "sasl.mechanisms=SCRAM-SHA-512",
        "-X",
        "sasl.username=bench",
        "-X",
        `sasl.password=${USER_PASSWORD}`,
      ],
    },
  ];
  if (iamJar) {
    modes.push({
      name: "SASL_SSL IAM (AWS_MSK_IAM)",
      bootstrap: at("SASL_SSL"),
      props: [
        "security.protocol=SASL_SSL",
        "sasl.mechanism=AWS_MSK_IAM",
        "sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;",
        "sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler",
        ...trust,
      ],
      classpath: iamJar,
      env: {
        AWS_ACCESS_KEY_ID: KEY,
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_REGION: "us-east-1",
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
        AWS_EC2_METADATA_DISABLED: "true",
      },
    });
  } else {
    console.log("  (aws-msk-iam-auth is not provisioned: the IAM listener is not measured)");
  }
  console.log(
    `security bench: ${
      RECORDS.toLocaleString("en-US")
    } x 1 KiB per run (BENCH_SECURITY_SCALE=${SCALE})`,
  );
  let ours: Record<string, { perf?: number; kcat?: number }>;
  try {
    ours = await measure("pinpipe", modes, records);
  } finally {
    await broker.stop();
  }

  const kafka = await startKafka({
    listeners: [{ name: "SSL", protocol: "SSL" }],
    config: {
      "ssl.keystore.type": "PEM",
      "ssl.keystore.location": await (async () => {
        const f = join(dir, "kafka-keystore.pem");
        await Deno.writeTextFile(f, tls.key + tls.cert);
        return f;
      })(),
      "num.partitions": 3,
    },
  });
  let theirs: Record<string, { perf?: number; kcat?: number }>;
  try {
    theirs = await measure(
      "Apache Kafka",
      [{ ...modes[1], bootstrap: kafka.listeners.SSL }],
      records,
    );
  } finally {
    await kafka.stop();
  }
  ratio(
    "TLS / plaintext, kafka-producer-perf-test (pinpipe)",
    ours.TLS.perf,
    ours.plaintext.perf,
    0.7,
  );
  ratio("TLS / plaintext, kcat (pinpipe)", ours.TLS.kcat, ours.plaintext.kcat, 0.7);
  ratio(
    "pinpipe TLS / Apache Kafka TLS, kafka-producer-perf-test",
    ours.TLS.perf,
    theirs.TLS.perf,
    1.0,
  );
  ratio("pinpipe TLS / Apache Kafka TLS, kcat", ours.TLS.kcat, theirs.TLS.kcat, 1.0);

  // An IAM handshake's verification at the broker.
  const principals = IamPrincipals.from(
    { [KEY]: { secretAccessKey: SECRET, principal: "arn:aws:iam::000000000000:role/bench" } },
    "bench",
    "us-east-1",
  );
  const { token } = await generateAuthTokenFromCredentialsProvider({
    region: "us-east-1",
    awsCredentialsProvider: () => Promise.resolve({ accessKeyId: KEY, secretAccessKey: SECRET }),
  });
  const message = new TextEncoder().encode(`n,,\x01auth=Bearer ${token}\x01\x01`);
  const n = 2000;
  for (let i = 0; i < 100; i++) await oauthIamExchange(principals).step(message);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await oauthIamExchange(principals).step(message);
  report(
    "IAM handshake (OAUTHBEARER token verified) at the broker",
    (performance.now() - t0) / n,
    "ms",
    {
      max: 5,
    },
  );
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
