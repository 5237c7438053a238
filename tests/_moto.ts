/**
 * moto in server mode, for the tests of pinpipe's AWS half: the engine venv's `moto_server`
 * on a free loopback port, with fixed fake credentials, and the client settings and
 * environment (`AWS_ENDPOINT_URL`, …) that point pinpipe's SDK clients, in-process or in a
 * task's own process, at it. moto implements S3 (versioning, multipart), SSM, Secrets
 * Manager, IAM, EC2 and CloudFormation with change sets; what it lacks (MSK's
 * GetBootstrapBrokers, MSK Connect, MWAA) stays with aws-sdk-client-mock.
 * @module
 */
import { join } from "node:path";
import { freePort, venvBin } from "./_engines.ts";
import { start } from "../bench/_process.ts";

/** The region every moto test uses. */
export const MOTO_REGION = "us-east-1";

/** moto's fixed account id (arn:aws:…:123456789012:…). */
export const MOTO_ACCOUNT = "123456789012";

/** A running moto server. */
export interface Moto {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  pid: number;
  /** SDK client settings: region, endpoint, fake credentials, path-style S3. */
  client: {
    region: string;
    endpoint: string;
    forcePathStyle: true;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** Environment that sends a task's SDK clients to moto (and nowhere else). */
  env: Record<string, string>;
  /** Forgets every resource (POST /moto-api/reset), for a clean next test. */
  reset(): Promise<void>;
  /** The last lines moto logged, for a failing test's message. */
  logTail(lines?: number): string;
  /** Stops the server by its PID. */
  stop(): Promise<void>;
}

/**
 * How moto_server is started: its own `main`, after three repairs of gaps in moto 5.2.5,
 * each following what AWS does, and nothing else changed:
 * - Outputs of a stack made through a change set: moto makes the stack with an empty
 *   template (REVIEW_IN_PROGRESS) and ExecuteChangeSet keeps that empty template, so
 *   DescribeStacks shows no Outputs at all (fakecloud had the same gap,
 *   faiscadev/fakecloud#1716); they are resolved after execution, as CloudFormation does.
 * - `Fn::Cidr`, which infra/network.yaml uses: the first `count` blocks of `bits` host bits
 *   inside the given block, as AWS documents it.
 * - An MSK cluster's creation time gets the zone RFC 3339 requires (moto writes a local time
 *   without one, which the SDK refuses to read).
 */
const LAUNCHER = `
import sys
from moto.cloudformation import models

_apply = models.ChangeSet.apply

def apply(self):
    _apply(self)
    self.stack.template = self.template
    self.stack._parse_template()
    self.stack.output_map = self.stack._create_output_map()

models.ChangeSet.apply = apply

import ipaddress
from moto.cloudformation import parsing

_clean_json = parsing.clean_json

def clean_json(value, resources_map):
    if isinstance(value, dict) and "Fn::Cidr" in value:
        block, count, bits = [_clean_json(v, resources_map) for v in value["Fn::Cidr"]]
        net = ipaddress.ip_network(block)
        subnets = list(net.subnets(new_prefix=net.max_prefixlen - int(bits)))
        if len(subnets) < int(count):
            raise ValueError("Fn::Cidr: %s holds %d blocks of %s bits, not %s" % (block, len(subnets), bits, count))
        return [str(s) for s in subnets[: int(count)]]
    return _clean_json(value, resources_map)

parsing.clean_json = clean_json

from moto.kafka import models as kafka_models

_kafka_init = kafka_models.FakeKafkaCluster.__init__

def kafka_init(self, *args, **kwargs):
    _kafka_init(self, *args, **kwargs)
    if not self.creation_time.endswith("Z"):
        self.creation_time += "Z"

kafka_models.FakeKafkaCluster.__init__ = kafka_init

from moto.server import main
sys.exit(main(sys.argv[1:]))
`;

/** Starts moto_server from the engine venv on a free loopback port and waits until it answers. */
export async function startMoto(opts: { timeoutMs?: number } = {}): Promise<Moto> {
  const bin = await venvBin();
  if (!bin) {
    throw new Error("Cannot start moto: the engine venv is not provisioned (run tests/setup.ts)");
  }
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // Keep the tail only: a long test makes many requests.
  const child = start(
    join(bin, "python"),
    ["-c", LAUNCHER, "-H", "127.0.0.1", "-p", String(port)],
    {
      env: { PYTHONWARNINGS: "ignore" },
      keepLast: { stdout: 20_000, stderr: 20_000 },
      what: "moto_server",
    },
  );
  const log = () => (child.stdout() + child.stderr()).slice(-20_000);
  const exited = child.ended.then(() => true);
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    const gone = await Promise.race([exited, new Promise((r) => setTimeout(() => r(false), 50))]);
    if (gone) throw new Error(`moto_server exited while starting:\n${log().slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto_server did not answer on ${endpoint}:\n${log().slice(-2000)}`);
    }
  }
  const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };
  return {
    endpoint,
    pid: child.pid,
    client: { region: MOTO_REGION, endpoint, forcePathStyle: true, credentials },
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: MOTO_REGION,
      AWS_DEFAULT_REGION: MOTO_REGION,
      // No profile, SSO or instance role may answer instead of moto.
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_EC2_METADATA_DISABLED: "true",
    },
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`Cannot reset moto: HTTP ${res.status}`);
    },
    logTail: (lines = 30) => log().trim().split("\n").slice(-lines).join("\n"),
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.ended;
      clearTimeout(timer);
    },
  };
}

/** Runs `fn` with a fresh moto server, stopped afterwards; its log tail joins a failure. */
export async function withMoto<T>(fn: (moto: Moto) => Promise<T>): Promise<T> {
  const moto = await startMoto();
  try {
    return await fn(moto);
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- moto's log ---\n${moto.logTail(15)}`;
    throw e;
  } finally {
    await moto.stop();
  }
}

/**
 * One call of an AWS query API (EC2, IAM, …) that pinpipe has no SDK client for, straight to
 * moto, which reads the service from the credential scope and checks no signature. Returns
 * the XML answer; throws on an error status.
 */
export async function motoQuery(
  moto: Moto,
  service: string,
  params: Record<string, string>,
): Promise<string> {
  const res = await fetch(`${moto.endpoint}/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${MOTO_REGION}/${service}/` +
        "aws4_request, SignedHeaders=host, Signature=0",
    },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`moto ${service} ${params.Action}: HTTP ${res.status} ${text}`);
  return text;
}
