/**
 * The embedded broker's listeners, TLS and SASL, in process: kafkajs over SSL and SASL_SSL
 * (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN) with the CA the broker made, each connection told
 * the address of its own listener; wrong passwords refused with Kafka's messages and the
 * reason logged without the secret; a request before authenticating closing the
 * connection; KIP-368 session lifetimes and re-authentication on one connection.
 * (Apache Kafka side by side, kcat and the Java client: tests/engine/broker_security_test.ts.)
 */
import assert from "node:assert/strict";
import { scramClient } from "../_scram_client.ts";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "../../lib/deps/kafkajs.ts";
import { Oracle } from "../_broker_oracle.ts";
import { startTestBroker, waitFor } from "../_fixtures.ts";
import type { BrokerOptions } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { hasNoDelay } from "../../lib/broker/nodelay.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const PASSWORD = "alice-Secret-1";

/** A broker with every kind of listener, its CA in a temp dir, user alice, its log lines kept. */
async function secureBroker(extra: BrokerOptions = {}) {
  const dir = await Deno.makeTempDir({ prefix: "pinpipe-sec-" });
  const users = `${dir}/users.json`;
  await Deno.writeTextFile(users, JSON.stringify({ alice: PASSWORD }));
  const lines: string[] = [];
  const broker = await startTestBroker({
    tlsDir: dir,
    saslUsersFile: users,
    logger: (l) => lines.push(l),
    listeners: ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].map((p) =>
      parseListener(`${p}://127.0.0.1:0`)
    ),
    ...extra,
  });
  const at = (name: string) => broker.listeners.find((l) => l.name === name)!;
  const ca = await Deno.readTextFile(broker.tls!.caFile!);
  return {
    broker,
    at,
    ca,
    lines,
    async close() {
      await broker.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function client(bootstrap: string, extra: Record<string, unknown> = {}) {
  return new Kafka({
    clientId: "security-test",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    ...extra,
  });
}

/** Produces and reads back one record through `kafka`; answers the broker port Metadata gave. */
async function roundTrip(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: `hello ${topic}` }] });
    await producer.disconnect();
    // A short fetch wait: disconnect waits for the fetch in flight (kafkajs' 5 s default).
    const consumer = kafka.consumer({ groupId: `g-${topic}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    await consumer.run({
      eachMessage: ({ message }) => Promise.resolve(void got.push(String(message.value))),
    });
    await waitFor("the record to come back", () => got.length > 0, 20_000);
    await consumer.disconnect();
    assert.deepEqual(got, [`hello ${topic}`]);
    const cluster = await admin.describeCluster();
    return cluster.brokers[0].port;
  } finally {
    await admin.disconnect();
  }
}

Deno.test(
  "kafkajs over PLAINTEXT, SSL and SASL_SSL on one broker: each told its own listener",
  opts,
  async () => {
    const s = await secureBroker();
    try {
      assert.equal(
        await roundTrip(client(s.at("PLAINTEXT").bootstrap), "plain"),
        s.at("PLAINTEXT").port,
      );
      const ssl = { ssl: { ca: [s.ca] } };
      assert.equal(await roundTrip(client(s.at("SSL").bootstrap, ssl), "tls"), s.at("SSL").port);
      for (const mechanism of ["scram-sha-512", "scram-sha-256", "plain"]) {
        const kafka = client(s.at("SASL_SSL").bootstrap, {
          ...ssl,
          sasl: { mechanism, username: "alice", password: PASSWORD },
        });
        assert.equal(await roundTrip(kafka, `t-${mechanism}`), s.at("SASL_SSL").port);
      }
      assert.ok(s.lines.some((l) => l.includes("authenticated User:alice with SCRAM-SHA-512")));
      assert.ok(s.lines.some((l) => l.includes("authenticated User:alice with PLAIN")));
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "the CA and server certificate are made once: a second start trusts the same CA",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-ca-" });
    try {
      const listeners = [parseListener("SSL://127.0.0.1:0")];
      const a = await startTestBroker({ tlsDir: dir, listeners });
      const caA = await Deno.readTextFile(a.tls!.caFile!);
      await a.close();
      const b = await startTestBroker({ tlsDir: dir, listeners });
      try {
        assert.equal(await Deno.readTextFile(b.tls!.caFile!), caA);
        assert.equal((await Deno.stat(`${dir}/tls/server.key`)).mode! & 0o777, 0o600);
        assert.ok((await Deno.stat(b.tls!.truststoreFile!)).size > 500);
        const kafka = client(b.bootstrap, { ssl: { ca: [caA] } });
        const admin = kafka.admin();
        await admin.connect();
        assert.equal((await admin.describeCluster()).brokers[0].port, b.port);
        await admin.disconnect();
        // A client that does not trust the CA is refused by its own TLS check.
        const untrusting = client(b.bootstrap, { ssl: true, connectionTimeout: 3000 });
        await assert.rejects(() => untrusting.admin().connect(), /certificate|self.signed|verify/i);
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "wrong passwords are refused with Kafka's messages; the log says why, never the password",
  opts,
  async () => {
    const s = await secureBroker();
    try {
      const wrong = "not-Alices-password";
      const cases: [string, string, RegExp][] = [
        [
          "scram-sha-512",
          "alice",
          /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/,
        ],
        [
          "scram-sha-256",
          "nobody",
          /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256/,
        ],
        ["plain", "alice", /Authentication failed: Invalid username or password/],
      ];
      for (const [mechanism, username, message] of cases) {
        const kafka = client(s.at("SASL_SSL").bootstrap, {
          ssl: { ca: [s.ca] },
          sasl: { mechanism, username, password: wrong },
        });
        const admin = kafka.admin();
        await assert.rejects(() => admin.connect(), message);
      }
      const refusals = s.lines.filter((l) => l.startsWith("refused"));
      assert.ok(
        refusals.some((l) => /SCRAM-SHA-512 .*wrong password for user "alice"/.test(l)),
        refusals.join("\n"),
      );
      assert.ok(
        refusals.some((l) =>
          /SCRAM-SHA-256 .*user "nobody" has no SCRAM-SHA-256 credential/.test(l)
        ),
      );
      assert.ok(refusals.some((l) => /PLAIN .*wrong password for user "alice"/.test(l)));
      assert.ok(!s.lines.some((l) => l.includes(wrong) || l.includes(PASSWORD)));
      // PLAIN sends the password itself: not offered without TLS.
      const o = await Oracle.open(s.at("SASL_PLAINTEXT").bootstrap);
      try {
        const hs = await o.call("SaslHandshake", 1, { mechanism: "PLAIN" });
        assert.equal(hs.errorCode, 33); // UNSUPPORTED_SASL_MECHANISM
        assert.deepEqual(hs.enabledMechanisms, [
          "SCRAM-SHA-512",
          "SCRAM-SHA-256",
        ]);
        assert.equal(await o.conn.readFrame(5000), null, "closed after the refusal");
      } finally {
        o.close();
      }
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "a request before authenticating closes the connection, as Kafka does; SASL on a plain listener is ILLEGAL_SASL_STATE",
  opts,
  async () => {
    const s = await secureBroker();
    try {
      const o = await Oracle.open(s.at("SASL_PLAINTEXT").bootstrap);
      try {
        assert.equal((await o.call("ApiVersions", 2)).errorCode, 0, "ApiVersions is served");
        await assert.rejects(
          () => o.call("Metadata", 1, { topics: [] }),
          /closed the connection on Metadata/,
        );
      } finally {
        o.close();
      }
      assert.ok(
        s.lines.some((l) =>
          l.includes("Unexpected Kafka request of type Metadata during SASL handshake")
        ),
      );
      const p = await Oracle.open(s.at("PLAINTEXT").bootstrap);
      try {
        const hs = await p.call("SaslHandshake", 1, { mechanism: "SCRAM-SHA-512" });
        assert.equal(hs.errorCode, 34); // ILLEGAL_SASL_STATE
      } finally {
        p.close();
      }
    } finally {
      await s.close();
    }
  },
);

/** SASL bytes as kafkajs's SaslAuthenticate request takes them: already length-prefixed. */
function authBytes(text: string): Buffer {
  const b = Buffer.from(text);
  const out = Buffer.alloc(4 + b.length);
  out.writeInt32BE(b.length);
  b.copy(out, 4);
  return out;
}

/** The client side of SCRAM-SHA-512 over raw SaslHandshake/SaslAuthenticate v1 requests. */
async function scramLogin(o: Oracle, user: string, password: string) {
  const hs = await o.call("SaslHandshake", 1, { mechanism: "SCRAM-SHA-512" });
  assert.equal(hs.errorCode, 0);
  const scram = scramClient(user, password);
  const first = await o.call("SaslAuthenticate", 1, { authBytes: authBytes(scram.first) });
  assert.equal(first.errorCode, 0);
  const serverFirst = String(first.authBytes.subarray(4)); // kafkajs keeps the length prefix
  return await o.call("SaslAuthenticate", 1, { authBytes: authBytes(scram.final(serverFirst)) });
}

Deno.test(
  "KIP-368: the session lifetime is connections.max.reauth.ms; re-authenticating on the connection keeps it, an ended session closes it",
  opts,
  async () => {
    const s = await secureBroker({ reauthMs: 1500 });
    try {
      const o = await Oracle.open(s.at("SASL_PLAINTEXT").bootstrap);
      try {
        const done = await scramLogin(o, "alice", PASSWORD).catch((e) => {
          throw new Error(`${e.message}\n${s.lines.join("\n")}`);
        });
        assert.equal(done.errorCode, 0, s.lines.join("\n"));
        assert.equal(Number(done.sessionLifetimeMs), 1500);
        assert.equal(
          (await o.call("Metadata", 1, { topics: [] })).brokers[0].port,
          s.at("SASL_PLAINTEXT").port,
        );
        const again = await scramLogin(o, "alice", PASSWORD);
        assert.equal(Number(again.sessionLifetimeMs), 1500);
        assert.ok(
          s.lines.some((l) => l.includes("re-authenticated User:alice with SCRAM-SHA-512")),
        );
        const ends = Date.now() + 1500;
        await waitFor("the session to end", () => Date.now() > ends + 50, 5000);
        await assert.rejects(() => o.call("Metadata", 1, { topics: [] }), /closed the connection/);
        assert.ok(
          s.lines.some((l) =>
            /session of User:alice ended .* instead of re-authenticating/.test(l)
          ),
        );
      } finally {
        o.close();
      }
      // kafkajs re-authenticates by itself before the session ends.
      const kafka = client(s.at("SASL_SSL").bootstrap, {
        ssl: { ca: [s.ca] },
        sasl: { mechanism: "scram-sha-512", username: "alice", password: PASSWORD },
      });
      const admin = kafka.admin();
      await admin.connect();
      const until = Date.now() + 3500;
      while (Date.now() < until) await admin.listTopics();
      await admin.disconnect();
      assert.ok(
        s.lines.filter((l) => l.includes("re-authenticated User:alice")).length >= 2,
        s.lines.join("\n"),
      );
    } finally {
      await s.close();
    }
  },
);

Deno.test(
  "TLS connections are accepted with Nagle's algorithm off (TCP_NODELAY from the listener)",
  opts,
  async () => {
    const s = await secureBroker();
    try {
      for (const name of ["SSL", "SASL_SSL"]) {
        const port = s.at(name).port;
        const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [s.ca] });
        try {
          await conn.handshake();
          const peer = (conn.localAddr as Deno.NetAddr).port;
          await waitFor(`the ${name} connection to be accepted`, () => {
            return hasNoDelay(port, peer) !== undefined;
          }, 10_000);
          assert.equal(hasNoDelay(port, peer), true, `${name}: TCP_NODELAY is off`);
        } finally {
          conn.close();
        }
      }
      assert.ok(!s.lines.some((l) => l.includes("Nagle")), s.lines.join("\n"));
    } finally {
      await s.close();
    }
  },
);

Deno.test("deno task broker's listener flags: repeated or comma-separated, checked, not with --port", async () => {
  const { parseOptions } = await import("../../tasks/broker.ts");
  const o = parseOptions([
    "--listener",
    "A=SSL://127.0.0.1:9094,B=PLAINTEXT://127.0.0.1:9092",
    "--listener=C=SASL_SSL://[::1]:9096",
    "--sasl-mechanisms",
    "SCRAM-SHA-512,PLAIN",
  ], {});
  assert.deepEqual(o.broker.listeners, [
    { name: "A", protocol: "SSL", host: "127.0.0.1", port: 9094 },
    { name: "B", protocol: "PLAINTEXT", host: "127.0.0.1", port: 9092 },
    { name: "C", protocol: "SASL_SSL", host: "::1", port: 9096 },
  ]);
  assert.deepEqual(o.broker.saslMechanisms, ["SCRAM-SHA-512", "PLAIN"]);
  assert.throws(
    () => parseOptions(["--listener", "X=TLS://h:1", "--port", "1", "--tls-cert", "c.pem"], {}),
    (e: Error) =>
      /unknown protocol TLS/.test(e.message) &&
      /Cannot use --listener with --host or --port/.test(e.message) &&
      /Cannot use --tls-cert or --tls-key alone/.test(e.message),
  );
});
