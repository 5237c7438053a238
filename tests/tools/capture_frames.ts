#!/usr/bin/env -S deno run -A
/**
 * Captures the request and response frames Apache Kafka's own Java clients exchange with a
 * real Apache Kafka, as fixtures for the broker's per-API codec tests
 * (tests/unit/broker_api_frames_test.ts).
 *
 * It starts Apache Kafka (tests/_engines.ts, KRaft, advertising this tool's address) and a
 * recording TCP proxy in front of it, then runs tests/tools/FramesScenario.java through the
 * proxy once per Java client (kafka-clients 3.9 and 4.x, from the engine cache): admin calls,
 * an idempotent producer, a consumer group, more admin calls. Every request frame and the
 * response frame with its correlation id are kept; per API key, version and client the
 * largest exchange is written (the transactional step's only for the transaction APIs, so
 * the other APIs' fixtures stay the plain steps') as `<out>/<NN_api>/v<version>_<client>.json`, where `NN_api`
 * is the name of the API's file in lib/broker/:
 *
 *     { "api", "key", "version", "client", "broker", "client_id", "correlation_id",
 *       "scenario", "request_hex", "response_hex" }
 *
 * `request_hex` and `response_hex` are whole frames without their 4-byte size prefix: the
 * request from its header (api key, version, correlation id, client id, header tags) and
 * the response from its correlation id, as sent on the wire.
 *
 * The proxy rewrites one thing on its way to the client: Apache Kafka's ApiVersions answer,
 * narrowed to the APIs and versions the embedded broker serves (lib/broker/registry.ts), so
 * the clients choose the versions they use against the embedded broker. The fixture keeps
 * Apache Kafka's answer as sent. `--as-kafka` leaves the answer alone (the clients use what
 * they use against Apache Kafka) and only prints what was seen; nothing is written then,
 * since versions above the broker's cannot be decoded by its schemas.
 *
 * Run (the engines must be provisioned: `deno task setup`):
 *
 *     deno run -A tests/tools/capture_frames.ts [--clients 3,4] [--out DIR] [--as-kafka]
 *
 * Re-running replaces the fixtures of the clients it captured. The bytes differ from run to
 * run (topic ids, cluster id, ports, timestamps, CRCs), so a re-capture is reviewed as new
 * fixtures. Exit codes: 0 ok, 1 failure, 2 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { APIS } from "../../lib/broker/registry.ts";
import {
  JAVA_CLIENT_MAJORS,
  javaClientClasspath,
  type JavaClientMajor,
  javaClientVersion,
  KAFKA_VERSION,
  startKafka,
} from "../_engines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SCENARIO = join(ROOT, "tests", "tools", "FramesScenario.java");
const DEFAULT_OUT = join(ROOT, "tests", "testdata", "kafka_frames");

const HELP = `Usage: deno run -A tests/tools/capture_frames.ts [options]

Captures Apache Kafka's Java clients talking to Apache Kafka ${KAFKA_VERSION}, one fixture
per API key, version and client, for tests/unit/broker_api_frames_test.ts.

Options:
  --clients LIST   Java client majors to run, comma-separated (default: ${
  JAVA_CLIENT_MAJORS.join(",")
})
  --out DIR        where fixtures go (default: tests/testdata/kafka_frames)
  --as-kafka       leave Apache Kafka's ApiVersions answer alone and only print the
                   versions the clients chose (writes nothing)
  --help           this text
`;

/** One request and its response, as captured. */
export interface Exchange {
  client: string;
  key: number;
  version: number;
  correlationId: number;
  clientId: string | null;
  /** The request frame without its size prefix. */
  request: Uint8Array;
  /** The response frame without its size prefix. */
  response: Uint8Array;
}

/** The frames of a connection, each without its 4-byte size prefix; ends when it closes. */
async function* framesOf(conn: Deno.Conn): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    while (buf.byteLength >= 4) {
      const size = new DataView(buf.buffer, buf.byteOffset).getInt32(0);
      if (buf.byteLength < 4 + size) break;
      yield buf.slice(4, 4 + size);
      buf = buf.slice(4 + size);
    }
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return;
    const next = new Uint8Array(buf.byteLength + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.byteLength);
    buf = next;
  }
}

async function writeFrame(conn: Deno.Conn, frame: Uint8Array): Promise<void> {
  const out = new Uint8Array(4 + frame.byteLength);
  new DataView(out.buffer).setInt32(0, frame.byteLength);
  out.set(frame, 4);
  for (let done = 0; done < out.byteLength;) done += await conn.write(out.subarray(done));
}

function uvarint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let shift = 0;; shift += 7) {
    const x = b[at++];
    v += (x & 0x7f) * 2 ** shift;
    if ((x & 0x80) === 0) return [v, at];
  }
}

function int16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

function putUvarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/**
 * Apache Kafka's ApiVersions response (`frame`: correlation id first, header v0) narrowed
 * to the APIs and version ranges of the embedded broker. An error answer (a request above
 * Kafka's versions) is v0 whatever was asked, and lists ApiVersions' own range: narrowed
 * too, so the client retries with the version it would use against the embedded broker.
 */
export function narrowApiVersions(frame: Uint8Array, version: number): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const flex = view.getInt16(4) === 0 && version >= 3;
  let at = 6;
  let count: number;
  if (flex) {
    [count, at] = uvarint(frame, at);
    count -= 1;
  } else {
    count = view.getInt32(at);
    at += 4;
  }
  const kept: number[][] = [];
  for (let i = 0; i < count; i++) {
    const key = view.getInt16(at);
    const min = view.getInt16(at + 2);
    const max = view.getInt16(at + 4);
    let end = at + 6;
    if (flex) {
      let tags: number;
      [tags, end] = uvarint(frame, end);
      for (let t = 0; t < tags; t++) {
        let size: number;
        [, end] = uvarint(frame, end);
        [size, end] = uvarint(frame, end);
        end += size;
      }
    }
    const ours = APIS.get(key);
    const lo = Math.max(min, ours?.minVersion ?? Infinity);
    const hi = Math.min(max, ours?.maxVersion ?? -Infinity);
    if (lo <= hi) {
      kept.push([...int16(key), ...int16(lo), ...int16(hi), ...frame.subarray(at + 6, end)]);
    }
    at = end;
  }
  const out: number[] = [...frame.subarray(0, 6)];
  if (flex) putUvarint(out, kept.length + 1);
  else out.push(...int16(kept.length >> 16), ...int16(kept.length & 0xffff));
  for (const e of kept) out.push(...e);
  out.push(...frame.subarray(at)); // throttle time and, when flexible, the tagged fields
  return new Uint8Array(out);
}

/** A TCP proxy in front of one broker that keeps every request with its response. */
export class RecordingProxy {
  /** Who the exchanges from now on belong to. */
  client = "";
  readonly exchanges: Exchange[] = [];
  /** Client connections open now (not Apache Kafka's own, see `relay`). */
  open = 0;
  private readonly accepting: Promise<void>;

  constructor(
    private readonly listener: Deno.Listener,
    private readonly upstream: { hostname: string; port: number },
    private readonly narrow: boolean,
  ) {
    this.accepting = this.accept();
  }

  private async accept(): Promise<void> {
    for await (const conn of this.listener) {
      this.open++;
      let counted = true;
      this.relay(conn, () => counted = false).finally(() => {
        if (counted) this.open--;
      });
    }
  }

  private async relay(client: Deno.Conn, uncount: () => void): Promise<void> {
    let kafka: Deno.Conn;
    try {
      kafka = await Deno.connect(this.upstream);
    } catch {
      client.close();
      return;
    }
    const who = this.client;
    const pending = new Map<number, Omit<Exchange, "response">>();
    let own = false;
    const up = (async () => {
      for await (const frame of framesOf(client)) {
        const v = new DataView(frame.buffer);
        const len = v.getInt16(8);
        const clientId = len < 0 ? null : new TextDecoder().decode(frame.subarray(10, 10 + len));
        if (!own && clientId !== null && KAFKA_OWN.test(clientId)) {
          // Apache Kafka's own connection to its advertised address: it stays open as long
          // as Kafka runs, so it is not waited for.
          own = true;
          this.open--;
          uncount();
        }
        pending.set(v.getInt32(4), {
          client: who,
          key: v.getInt16(0),
          version: v.getInt16(2),
          correlationId: v.getInt32(4),
          clientId,
          request: frame,
        });
        await writeFrame(kafka, frame).catch(() => {});
      }
      try {
        kafka.closeWrite();
      } catch { /* closed */ }
    })();
    const down = (async () => {
      for await (const frame of framesOf(kafka)) {
        const cid = new DataView(frame.buffer).getInt32(0);
        const req = pending.get(cid);
        pending.delete(cid);
        let out = frame;
        if (req) {
          this.exchanges.push({ ...req, response: frame });
          if (req.key === 18 && this.narrow) out = narrowApiVersions(frame, req.version);
        }
        await writeFrame(client, out).catch(() => {});
      }
      try {
        client.closeWrite();
      } catch { /* closed */ }
    })();
    await Promise.allSettled([up, down]);
    for (const c of [client, kafka]) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }

  /** Stops accepting. Open connections end when their clients close them. */
  async close(): Promise<void> {
    this.listener.close();
    await this.accepting.catch(() => {});
  }
}

/** The file name of each API's module in lib/broker/, without `.ts`, by API key. */
export function apiFiles(): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of Deno.readDirSync(join(ROOT, "lib", "broker"))) {
    const m = /^(\d\d)_\w+\.ts$/.exec(e.name);
    if (m) out.set(Number(m[1]), basename(e.name, ".ts"));
  }
  return out;
}

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const slug = (client: string) => client.replace(/[^A-Za-z0-9.]+/g, "-");

/** What each step of the scenario is, by the client id it uses. */
const SCENARIOS: Record<string, string> = {
  "frames-admin":
    "Admin: create a topic (1 partition, retention.ms), describe the cluster and its configs, " +
    "alter a config, add a partition; later list offsets, list/describe groups, fetch and " +
    "delete a group's offset, delete records, the group and the topic",
  "frames-producer": "KafkaProducer, idempotent, acks=all: 3 records (k0/v0…) to partition 0",
  "frames-consumer":
    "KafkaConsumer in a group (classic protocol, earliest, no auto-commit): read the 3 " +
    "records, heartbeat, commit, leave",
  "frames-sasl": "Admin over SASL_PLAINTEXT with SCRAM-SHA-512 as the user frames-admin added " +
    "(AlterUserScramCredentials): SaslHandshake, SaslAuthenticate, describe the cluster",
  "frames-txn":
    "KafkaProducer with a transactional id: a transaction writing 1 record to partition 1 and " +
    "the group's offset (sendOffsetsToTransaction), committed; a second one, aborted",
  "AddPartitionsManager-client-1":
    "Apache Kafka itself, verifying the transactional producer's partitions (KIP-890) before " +
    "it appends their records",
  "frames-kip848":
    "KafkaConsumer with group.protocol=consumer (KIP-848) in a group of its own: joins, reads " +
    "the 3 records, leaves",
  "frames-kip848-admin":
    "Admin: describes the consumer group (KIP-848) while its member holds both partitions",
  "frames-txn-admin":
    "Admin: describe the transactional id and partition 1's producers while its second " +
    "transaction is open; list transactions",
};

/** The APIs only the transactional step calls (its other calls are the other steps' APIs). */
const TXN_APIS = new Set([24, 25, 26, 28, 61, 65, 66]);

/**
 * Client ids of Apache Kafka's own connections to itself, made in the transactional step:
 * the transaction marker sender (WriteTxnMarkers) and KIP-890's verification
 * (AddPartitionsToTxn v4+, verify_only).
 */
const KAFKA_OWN = /^(broker-\d+-|AddPartitionsManager-client-)/;

/** The APIs only the KIP-848 step calls. */
const KIP848_APIS = new Set([68, 69]);

/**
 * Whether `e` may be a fixture: the transactional step's only for the transaction APIs, the
 * KIP-848 step's only for its two (and they only from it: the other steps' group is classic).
 */
function fromItsStep(e: Exchange): boolean {
  const txnStep = e.clientId !== null &&
    (e.clientId.startsWith("frames-txn") || KAFKA_OWN.test(e.clientId));
  const kip848Step = e.clientId?.startsWith("frames-kip848") ?? false;
  if (kip848Step || KIP848_APIS.has(e.key)) return kip848Step && KIP848_APIS.has(e.key);
  return !txnStep || TXN_APIS.has(e.key);
}

async function runScenario(
  cp: string,
  bootstrap: string,
  suffix: string,
  saslBootstrap: string,
): Promise<string> {
  const out = await new Deno.Command("java", {
    args: [
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
      "-cp",
      cp,
      SCENARIO,
      bootstrap,
      suffix,
      saslBootstrap,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(
      `Cannot run ${basename(SCENARIO)}: it exited with ${out.code}:\n${dec.decode(out.stdout)}${
        dec.decode(out.stderr).split("\n").slice(-30).join("\n")
      }`,
    );
  }
  return dec.decode(out.stdout);
}

async function waitFor(ok: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`Cannot capture: ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the scenario through the proxy for each client and answers the exchanges. */
export async function capture(
  majors: readonly JavaClientMajor[],
  narrow: boolean,
  log: (line: string) => void,
): Promise<Exchange[]> {
  const classpaths = new Map<JavaClientMajor, string>();
  for (const major of majors) {
    const cp = await javaClientClasspath(major);
    if (!cp) {
      throw new Error(
        `Cannot run kafka-clients ${major}.x: it is not provisioned (run deno task setup)`,
      );
    }
    classpaths.set(major, cp);
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  // A second proxy in front of a SASL_PLAINTEXT listener (SCRAM-SHA-512), for the SASL APIs.
  const saslListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const saslPort = (saslListener.addr as Deno.NetAddr).port;
  // Apache Kafka advertises the proxies, so the clients come back through them after bootstrap.
  const kafka = await startKafka({
    listeners: [{ name: "SASL_PLAINTEXT", protocol: "SASL_PLAINTEXT" }],
    config: {
      "advertised.listeners":
        `PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      "sasl.enabled.mechanisms": "SCRAM-SHA-512",
      // The consumer group protocol (KIP-848), a preview in Kafka 3.9.
      "group.coordinator.rebalance.protocols": "classic,consumer",
      "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config":
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    },
  });
  log(`Apache Kafka ${KAFKA_VERSION} at ${kafka.bootstrap}, the proxy at 127.0.0.1:${port}`);
  const upstream = (at: string) => {
    const [hostname, kport] = at.split(":");
    return { hostname, port: Number(kport) };
  };
  const proxy = new RecordingProxy(listener, upstream(kafka.bootstrap), narrow);
  const saslProxy = new RecordingProxy(
    saslListener,
    upstream(kafka.listeners.SASL_PLAINTEXT),
    narrow,
  );
  try {
    for (const major of majors) {
      proxy.client = saslProxy.client = `kafka-clients ${javaClientVersion(major)}`;
      log(`${proxy.client}:`);
      const steps = await runScenario(
        classpaths.get(major)!,
        `127.0.0.1:${port}`,
        `v${major}`,
        `127.0.0.1:${saslPort}`,
      );
      for (const line of steps.trim().split("\n")) log(`  ${line}`);
      await waitFor(
        () => proxy.open === 0 && saslProxy.open === 0,
        `the connections of ${proxy.client} are still open`,
      );
    }
  } finally {
    await proxy.close();
    await saslProxy.close();
    await kafka.stop();
  }
  return [...proxy.exchanges, ...saslProxy.exchanges];
}

/**
 * True when the embedded broker serves `e`'s version, or `e` is an ApiVersions request above
 * it that Kafka refused too (both brokers answer those the same way, in v0).
 */
export function servable(e: Exchange): boolean {
  const api = APIS.get(e.key);
  if (!api) return false;
  if (e.version >= api.minVersion && e.version <= api.maxVersion) return true;
  return e.key === 18 && new DataView(e.response.buffer).getInt16(4) !== 0;
}

/** Per API key, version and client, the exchange kept: the largest the broker serves. */
export function pick(exchanges: Exchange[]): Exchange[] {
  const best = new Map<string, Exchange>();
  const size = (e: Exchange) => e.request.byteLength + e.response.byteLength;
  for (const e of exchanges.filter((x) => servable(x) && fromItsStep(x))) {
    const id = `${e.key}/${e.version}/${e.client}`;
    const had = best.get(id);
    // On a tie the later one: the first calls on a new Kafka may meet a coordinator
    // still loading (InitProducerId's COORDINATOR_LOAD_IN_PROGRESS) and are retried.
    if (!had || size(e) >= size(had)) best.set(id, e);
  }
  return [...best.values()].sort((a, b) =>
    a.key - b.key || a.version - b.version || a.client.localeCompare(b.client)
  );
}

/** The fixture file of an exchange, relative to the fixture folder. */
export function fixturePath(e: Exchange, files = apiFiles()): string {
  const dir = files.get(e.key);
  if (!dir) throw new Error(`Cannot file API key ${e.key}: lib/broker/ has no module for it`);
  return join(dir, `v${e.version}_${slug(e.client)}.json`);
}

/** Writes the picked exchanges, replacing the fixtures of the clients captured. */
export async function writeFixtures(out: string, picked: Exchange[]): Promise<string[]> {
  const files = apiFiles();
  const slugs = new Set(picked.map((e) => slug(e.client)));
  for (const dir of files.values()) {
    try {
      for (const f of Deno.readDirSync(join(out, dir))) {
        if ([...slugs].some((s) => f.name.endsWith(`_${s}.json`))) {
          await Deno.remove(join(out, dir, f.name));
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  const written: string[] = [];
  for (const e of picked) {
    const api = APIS.get(e.key)!;
    const rel = fixturePath(e, files);
    await Deno.mkdir(join(out, files.get(e.key)!), { recursive: true });
    const fixture = {
      api: api.name,
      key: e.key,
      version: e.version,
      client: e.client,
      broker: `Apache Kafka ${KAFKA_VERSION}`,
      client_id: e.clientId,
      correlation_id: e.correlationId,
      scenario: SCENARIOS[e.clientId ?? ""] ?? "",
      request_hex: toHex(e.request),
      response_hex: toHex(e.response),
    };
    await Deno.writeTextFile(join(out, rel), JSON.stringify(fixture, null, 2) + "\n");
    written.push(rel);
  }
  return written;
}

/** The versions seen, one line per API: `Fetch (1): v16 ×12 (kafka-clients 3.9.2) …`. */
export function table(exchanges: Exchange[]): string[] {
  const by = new Map<number, Map<string, number>>();
  for (const e of exchanges) {
    const m = by.get(e.key) ?? new Map<string, number>();
    const id = `v${e.version} (${e.client})`;
    m.set(id, (m.get(id) ?? 0) + 1);
    by.set(e.key, m);
  }
  return [...by].sort(([a], [b]) => a - b).map(([key, m]) =>
    `${APIS.get(key)?.name ?? "(not in lib/broker/)"} (${key}): ${
      [...m].map(([id, n]) => `${id.replace(" (", ` ×${n} (`)}`).join(", ")
    }`
  );
}

async function main(): Promise<number> {
  let opts;
  try {
    opts = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        clients: { type: "string", default: JAVA_CLIENT_MAJORS.join(",") },
        out: { type: "string", default: DEFAULT_OUT },
        "as-kafka": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  const majors = opts.clients.split(",").map((s) => s.trim());
  const bad = majors.filter((m) => !(JAVA_CLIENT_MAJORS as readonly string[]).includes(m));
  if (bad.length) {
    console.error(
      `Cannot capture with clients "${bad}": the Java client majors are ${JAVA_CLIENT_MAJORS}`,
    );
    return 2;
  }
  const log = (line: string) => console.error(line);
  const exchanges = await capture(majors as JavaClientMajor[], !opts["as-kafka"], log);
  for (const line of table(exchanges)) console.log(line);
  if (opts["as-kafka"]) return 0;
  for (const e of exchanges.filter((e) => !servable(e))) {
    log(`not kept: ${e.client} ${e.clientId} key ${e.key} v${e.version} (above the broker's)`);
  }
  const written = await writeFixtures(opts.out, pick(exchanges));
  console.log(`${written.length} fixtures written to ${opts.out}`);
  return 0;
}

if (import.meta.main) {
  main().then((code) => Deno.exit(code), (err) => {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  });
}
