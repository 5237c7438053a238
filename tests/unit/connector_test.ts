/**
 * The connector task: the S3 sink configuration (read from infra/connect.yaml), Kafka
 * Connect's REST contract (against a real HTTP server that keeps it: 201/200/409/FAILED with
 * trace; an unreachable URL fails at once), MSK Connect (against aws-sdk-client-mock, which
 * stands in for the kafkaconnect API moto lacks, asserting every command and field sent) and
 * the broker count MSK Connect's internal topics are sized to (DescribeClusterV2 on moto).
 */
import assert from "node:assert/strict";
import { mockClient } from "../deps/aws_sdk_mock.ts";
import {
  CreateConnectorCommand,
  CreateCustomPluginCommand,
  CreateWorkerConfigurationCommand,
  DescribeConnectorCommand,
  DescribeCustomPluginCommand,
  KafkaConnectClient,
  ListConnectorsCommand,
  ListCustomPluginsCommand,
  ListTagsForResourceCommand,
  ListWorkerConfigurationsCommand,
  UpdateConnectorCommand,
} from "../../lib/deps/aws_kafkaconnect.ts";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "../../lib/deps/aws_s3.ts";
import {
  DescribeClusterV2Command,
  GetBootstrapBrokersCommand,
  KafkaClient,
} from "../../lib/deps/aws_kafka.ts";
import {
  contentTag,
  loadSinkTemplate,
  s3SinkConfig,
  workerProperties,
} from "../../lib/aws/connector_config.ts";
import { registerConnector } from "../../lib/aws/connect_rest.ts";
import { deployMskConnector } from "../../lib/aws/msk_connect.ts";
import type { MskConnectSettings } from "../../lib/aws/msk_connect.ts";
import { parseOptions, runConnector } from "../../tasks/connector.ts";
import { UsageError } from "../../lib/shell/errors.ts";

const TEMPLATE = await loadSinkTemplate();
const WORKER = workerProperties(TEMPLATE, "2");
const CONFIG = s3SinkConfig(TEMPLATE, {
  prefix: "0a1b2c3d4e5f",
  bucket: "user-0a1b2c3d4e5f-bucket",
  region: "us-east-1",
  flushSize: 1,
  tasksMax: 3,
});

Deno.test("the S3 sink configuration is the original pipeline's, with s3.region always set and rotation in UTC", () => {
  assert.deepEqual(CONFIG, {
    "connector.class": "io.confluent.connect.s3.S3SinkConnector",
    "s3.region": "us-east-1",
    "flush.size": "1",
    "rotate.schedule.interval.ms": "600000",
    "timezone": "UTC",
    "schema.compatibility": "NONE",
    "tasks.max": "3",
    "topics.regex": "0a1b2c3d4e5f\\..*",
    "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
    "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "value.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "storage.class": "io.confluent.connect.s3.storage.S3Storage",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "s3.bucket.name": "user-0a1b2c3d4e5f-bucket",
  });
  const under = s3SinkConfig(TEMPLATE, { ...baseSettings(), topicsDir: "lake/topics" });
  assert.equal(under["topics.dir"], "lake/topics");
});

function baseSettings() {
  return { prefix: "p", bucket: "b-b", region: "eu-west-1", flushSize: 1000, tasksMax: 1 };
}

/** A Kafka Connect worker's REST API, scripted: what each PUT and status call answers. */
function fakeConnect(script: {
  puts: number[];
  statuses: (Record<string, unknown> | number)[];
}) {
  const seen: { method: string; path: string; body: string; type: string | null }[] = [];
  const stored = new Map<string, unknown>();
  let put = 0;
  let status = 0;
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      const body = await req.text();
      seen.push({ method: req.method, path, body, type: req.headers.get("content-type") });
      const m = /^\/connectors\/([^/]+)\/(config|status)$/.exec(path);
      if (!m) return Response.json({ error_code: 404, message: "no such path" }, { status: 404 });
      const name = decodeURIComponent(m[1]);
      if (m[2] === "config" && req.method === "PUT") {
        const code = script.puts[Math.min(put++, script.puts.length - 1)];
        if (code === 409) {
          return Response.json({
            error_code: 409,
            message: "Cannot complete request momentarily due to stale configuration",
          }, { status: 409 });
        }
        if (code >= 400) {
          return Response.json(
            { error_code: code, message: "Connector configuration is invalid" },
            {
              status: code,
            },
          );
        }
        stored.set(name, JSON.parse(body));
        return Response.json({ name, config: JSON.parse(body), tasks: [], type: "sink" }, {
          status: code,
        });
      }
      if (m[2] === "status" && req.method === "GET") {
        const s = script.statuses[Math.min(status++, script.statuses.length - 1)];
        if (typeof s === "number") {
          return Response.json({ error_code: s, message: `Connector ${name} not found` }, {
            status: s,
          });
        }
        return Response.json({ name, ...s, type: "sink" });
      }
      return Response.json({ error_code: 405, message: "HTTP 405 Method Not Allowed" }, {
        status: 405,
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    stored,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

const RUNNING = {
  connector: { state: "RUNNING", worker_id: "10.0.0.5:8083" },
  tasks: [{ id: 0, state: "RUNNING", worker_id: "10.0.0.5:8083" }],
};

Deno.test("connect-rest puts the config, retries a 409 rebalance and waits for RUNNING", async () => {
  const connect = fakeConnect({
    puts: [409, 201, 200],
    statuses: [404, { connector: { state: "UNASSIGNED" }, tasks: [] }, RUNNING],
  });
  try {
    const lines: string[] = [];
    const r = await registerConnector({
      baseUrl: connect.url,
      name: "pinpipe-s3-sink",
      config: CONFIG,
      pollMs: 5,
      onProgress: (l) => lines.push(l),
    });
    assert.equal(r.created, true);
    assert.equal(r.status.connector.state, "RUNNING");
    const puts = connect.seen.filter((s) => s.method === "PUT");
    assert.equal(puts.length, 2, "one 409 then one successful PUT");
    for (const p of puts) {
      assert.equal(p.path, "/connectors/pinpipe-s3-sink/config");
      assert.equal(p.type, "application/json");
      assert.deepEqual(JSON.parse(p.body), CONFIG, "the body is the flat config map");
    }
    assert.ok(lines.some((l) => /409/.test(l)), "the retry is reported");
    assert.ok(lines.some((l) => /UNASSIGNED/.test(l)), "the waiting state is reported");

    const again = await registerConnector({
      baseUrl: connect.url,
      name: "pinpipe-s3-sink",
      config: CONFIG,
      pollMs: 5,
    });
    assert.equal(again.created, false, "a second run updates (200) instead of creating");
    assert.deepEqual(connect.stored.get("pinpipe-s3-sink"), CONFIG);
  } finally {
    await connect.close();
  }
});

Deno.test("connect-rest reports a FAILED task with the worker's trace", async () => {
  const trace = "org.apache.kafka.connect.errors.ConnectException: " +
    "com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied";
  const connect = fakeConnect({
    puts: [201],
    statuses: [{
      connector: { state: "RUNNING", worker_id: "w:8083" },
      tasks: [{ id: 0, state: "FAILED", worker_id: "w:8083", trace }],
    }],
  });
  try {
    await assert.rejects(
      registerConnector({ baseUrl: connect.url, name: "s3", config: CONFIG, pollMs: 5 }),
      (err: Error) => {
        assert.match(err.message, /^Connector "s3" failed: task 0 is FAILED on worker w:8083/);
        assert.ok(err.message.includes(trace));
        return true;
      },
    );
  } finally {
    await connect.close();
  }
});

Deno.test("connect-rest does not retry a rejected configuration (400)", async () => {
  const connect = fakeConnect({ puts: [400], statuses: [RUNNING] });
  try {
    await assert.rejects(
      registerConnector({ baseUrl: connect.url, name: "s3", config: CONFIG, pollMs: 5 }),
      /Cannot register connector "s3": Kafka Connect answered 400 "Connector configuration is invalid"/,
    );
    assert.equal(connect.seen.filter((s) => s.method === "PUT").length, 1);
  } finally {
    await connect.close();
  }
});

const SETTINGS: MskConnectSettings = {
  connectorName: "pinpipe-s3-sink",
  region: "us-east-1",
  config: CONFIG,
  workerProperties: WORKER,
  bootstrapServers:
    "b-1.c.kafka.us-east-1.amazonaws.com:9098,b-2.c.kafka.us-east-1.amazonaws.com:9098",
  subnets: ["subnet-1", "subnet-2"],
  securityGroups: ["sg-1"],
  executionRoleArn: "arn:aws:iam::123456789012:role/pinpipe-connect",
  plugin: {
    name: "pinpipe-connector-s3-sink-10.0.3",
    bucket: "user-0a1b2c3d4e5f-bucket",
    key: "plugins/confluentinc-kafka-connect-s3-10.0.3.zip",
  },
  capacity: { workerCount: 1, mcuCount: 1 },
  kafkaConnectVersion: "2.7.1",
  logGroup: "/pinpipe/connect",
  workerConfigName: "pinpipe-connector-s3-sink-worker",
  prefix: "pinpipe",
};
/** The task's plugin name: its location's hash appended (another zip, another plugin). */
const PLUGIN_NAME = `${SETTINGS.plugin.name}-${await contentTag(
  `${SETTINGS.plugin.bucket}/${SETTINGS.plugin.key}`,
)}`;
const WORKER_NAME = `pinpipe-connector-s3-sink-worker-${await contentTag(WORKER)}`;
const TAGS = { "pinpipe:created-by": "connector", "pinpipe:prefix": "pinpipe" };
const PLUGIN_ARN = "arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/p/1";
const WORKER_ARN = "arn:aws:kafkaconnect:us-east-1:123456789012:worker-configuration/w/1";
const CONNECTOR_ARN = "arn:aws:kafkaconnect:us-east-1:123456789012:connector/pinpipe-s3-sink/1";

function notFound(): Error {
  return Object.assign(new Error("NotFound"), {
    name: "NotFound",
    $metadata: { httpStatusCode: 404 },
  });
}

Deno.test("msk-connect creates the plugin, worker configuration and connector on a fresh account", async () => {
  const kc = mockClient(new KafkaConnectClient({ region: "us-east-1" }));
  const s3 = mockClient(new S3Client({ region: "us-east-1" }));
  s3.on(HeadObjectCommand).rejects(notFound());
  s3.on(PutObjectCommand).resolves({});
  kc.on(ListCustomPluginsCommand).resolves({ customPlugins: [] });
  kc.on(ListTagsForResourceCommand).resolves({ tags: {} });
  kc.on(CreateCustomPluginCommand).resolves({
    customPluginArn: PLUGIN_ARN,
    customPluginState: "CREATING",
    revision: 1,
  });
  kc.on(DescribeCustomPluginCommand).resolves({
    customPluginArn: PLUGIN_ARN,
    customPluginState: "ACTIVE",
    latestRevision: { revision: 1 },
  });
  kc.on(ListWorkerConfigurationsCommand).resolves({ workerConfigurations: [] });
  kc.on(CreateWorkerConfigurationCommand).resolves({
    workerConfigurationArn: WORKER_ARN,
    latestRevision: { revision: 1 },
  });
  kc.on(ListConnectorsCommand).resolves({ connectors: [] });
  kc.on(CreateConnectorCommand).resolves({
    connectorArn: CONNECTOR_ARN,
    connectorState: "CREATING",
  });
  kc.on(DescribeConnectorCommand)
    .resolvesOnce({ connectorArn: CONNECTOR_ARN, connectorState: "CREATING" })
    .resolves({ connectorArn: CONNECTOR_ARN, connectorState: "RUNNING" });
  const zip = new Uint8Array([0x50, 0x4b, 3, 4]);

  const r = await deployMskConnector(SETTINGS, {
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    pluginBytes: () => Promise.resolve(zip),
    pollMs: 1,
  });
  assert.deepEqual(r, {
    connectorArn: CONNECTOR_ARN,
    action: "created",
    changedKeys: [],
    customPluginArn: PLUGIN_ARN,
    workerConfigurationArn: WORKER_ARN,
    pluginUploaded: true,
    state: "RUNNING",
  });
  assert.deepEqual(s3.commandCalls(HeadObjectCommand)[0].args[0].input, {
    Bucket: "user-0a1b2c3d4e5f-bucket",
    Key: "plugins/confluentinc-kafka-connect-s3-10.0.3.zip",
  });
  assert.deepEqual(s3.commandCalls(PutObjectCommand)[0].args[0].input, {
    Bucket: "user-0a1b2c3d4e5f-bucket",
    Key: "plugins/confluentinc-kafka-connect-s3-10.0.3.zip",
    Body: zip,
    ContentType: "application/zip",
  });
  assert.deepEqual(kc.commandCalls(CreateCustomPluginCommand)[0].args[0].input, {
    name: PLUGIN_NAME,
    contentType: "ZIP",
    description: "Confluent S3 sink connector (kafka-connect-s3)",
    tags: TAGS,
    location: {
      s3Location: {
        bucketArn: "arn:aws:s3:::user-0a1b2c3d4e5f-bucket",
        fileKey: "plugins/confluentinc-kafka-connect-s3-10.0.3.zip",
      },
    },
  });
  assert.deepEqual(kc.commandCalls(CreateWorkerConfigurationCommand)[0].args[0].input, {
    name: WORKER_NAME,
    description: "pinpipe: converters for the S3 sink",
    tags: TAGS,
    propertiesFileContent: btoa(
      "key.converter=org.apache.kafka.connect.storage.StringConverter\n" +
        "value.converter=org.apache.kafka.connect.json.JsonConverter\n" +
        "value.converter.schemas.enable=false\n" +
        "config.storage.replication.factor=2\n" +
        "offset.storage.replication.factor=2\n" +
        "status.storage.replication.factor=2\n" +
        "reconnect.backoff.ms=1000\n" +
        "reconnect.backoff.max.ms=10000\n" +
        "producer.reconnect.backoff.ms=1000\n" +
        "producer.reconnect.backoff.max.ms=10000\n" +
        "consumer.reconnect.backoff.ms=1000\n" +
        "consumer.reconnect.backoff.max.ms=10000\n",
    ),
  });
  assert.deepEqual(kc.commandCalls(CreateConnectorCommand)[0].args[0].input, {
    connectorName: "pinpipe-s3-sink",
    connectorDescription: "pinpipe: Confluent S3 sink, topics to the lake",
    kafkaConnectVersion: "2.7.1",
    capacity: { provisionedCapacity: { workerCount: 1, mcuCount: 1 } },
    connectorConfiguration: CONFIG,
    kafkaCluster: {
      apacheKafkaCluster: {
        bootstrapServers:
          "b-1.c.kafka.us-east-1.amazonaws.com:9098,b-2.c.kafka.us-east-1.amazonaws.com:9098",
        vpc: { subnets: ["subnet-1", "subnet-2"], securityGroups: ["sg-1"] },
      },
    },
    kafkaClusterClientAuthentication: { authenticationType: "IAM" },
    kafkaClusterEncryptionInTransit: { encryptionType: "TLS" },
    plugins: [{ customPlugin: { customPluginArn: PLUGIN_ARN, revision: 1 } }],
    serviceExecutionRoleArn: "arn:aws:iam::123456789012:role/pinpipe-connect",
    workerConfiguration: { workerConfigurationArn: WORKER_ARN, revision: 1 },
    logDelivery: {
      workerLogDelivery: { cloudWatchLogs: { enabled: true, logGroup: "/pinpipe/connect" } },
    },
    tags: TAGS,
  });
  assert.equal(kc.commandCalls(UpdateConnectorCommand).length, 0);
  assert.deepEqual(kc.commandCalls(ListConnectorsCommand)[0].args[0].input, {
    connectorNamePrefix: "pinpipe-s3-sink",
    nextToken: undefined,
  });
});

/** A mocked account where the plugin, worker configuration and connector already exist. */
type ConnectorState = "RUNNING" | "UPDATING" | "FAILED" | "CREATING";

async function existing(
  connectorConfiguration: Record<string, string>,
  states: ConnectorState[],
  extra: { tags?: Record<string, string>; workerArn?: string; prefix?: string } = {},
) {
  const prefix = extra.prefix ?? "pinpipe";
  const pluginName = `${prefix}-connector-s3-sink-10.0.3-${await contentTag(
    `${SETTINGS.plugin.bucket}/${SETTINGS.plugin.key}`,
  )}`;
  const kc = mockClient(new KafkaConnectClient({ region: "us-east-1" }));
  const s3 = mockClient(new S3Client({ region: "us-east-1" }));
  s3.on(HeadObjectCommand).resolves({ ContentLength: 4 });
  kc.on(ListCustomPluginsCommand).resolves({
    customPlugins: [
      {
        name: `${pluginName}-old`,
        customPluginArn: "other",
        customPluginState: "ACTIVE",
      },
      {
        name: pluginName,
        customPluginArn: PLUGIN_ARN,
        customPluginState: "ACTIVE",
        latestRevision: { revision: 2 },
      },
    ],
  });
  kc.on(ListTagsForResourceCommand).resolves({ tags: extra.tags ?? TAGS });
  kc.on(ListWorkerConfigurationsCommand).resolves({
    workerConfigurations: [{
      name: `${prefix}-connector-s3-sink-worker-${await contentTag(WORKER)}`,
      workerConfigurationArn: WORKER_ARN,
      latestRevision: { revision: 1 },
    }],
  });
  kc.on(ListConnectorsCommand).resolves({
    connectors: [{ connectorName: "pinpipe-s3-sink", connectorArn: CONNECTOR_ARN }],
  });
  const describe = (state: ConnectorState) => ({
    connectorArn: CONNECTOR_ARN,
    connectorState: state,
    currentVersion: "K3ABCDEF",
    connectorConfiguration,
    capacity: { provisionedCapacity: { workerCount: 1, mcuCount: 1 } },
    workerConfiguration: { workerConfigurationArn: extra.workerArn ?? WORKER_ARN, revision: 1 },
    plugins: [{ customPlugin: { customPluginArn: PLUGIN_ARN, revision: 2 } }],
    stateDescription: state === "FAILED"
      ? { code: "NetworkError", message: "Unable to reach the bootstrap servers" }
      : undefined,
  });
  let stub = kc.on(DescribeConnectorCommand);
  for (const s of states.slice(0, -1)) stub = stub.resolvesOnce(describe(s));
  stub.resolves(describe(states.at(-1)!));
  kc.on(UpdateConnectorCommand).resolves({
    connectorArn: CONNECTOR_ARN,
    connectorState: "UPDATING",
  });
  return { kc, s3 };
}

Deno.test("msk-connect leaves an identical connector alone on a re-run", async () => {
  const { kc, s3 } = await existing(CONFIG, ["RUNNING"]);
  const r = await deployMskConnector(SETTINGS, {
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    pollMs: 1,
  });
  assert.equal(r.action, "unchanged");
  assert.equal(r.pluginUploaded, false);
  assert.equal(r.customPluginArn, PLUGIN_ARN);
  assert.equal(kc.commandCalls(CreateCustomPluginCommand).length, 0);
  assert.equal(kc.commandCalls(CreateWorkerConfigurationCommand).length, 0);
  assert.equal(kc.commandCalls(CreateConnectorCommand).length, 0);
  assert.equal(kc.commandCalls(UpdateConnectorCommand).length, 0);
  assert.equal(s3.commandCalls(PutObjectCommand).length, 0);
});

Deno.test("msk-connect updates a connector whose configuration changed, with its current version", async () => {
  const old = { ...CONFIG, "flush.size": "1000", "s3.region": "us-west-2" };
  const { kc, s3 } = await existing(old, ["RUNNING", "UPDATING", "RUNNING"]);
  const r = await deployMskConnector(SETTINGS, {
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    pollMs: 1,
  });
  assert.equal(r.action, "updated");
  assert.deepEqual(r.changedKeys, ["flush.size", "s3.region"]);
  assert.deepEqual(kc.commandCalls(UpdateConnectorCommand)[0].args[0].input, {
    connectorArn: CONNECTOR_ARN,
    currentVersion: "K3ABCDEF",
    connectorConfiguration: CONFIG,
  });
  assert.equal(r.state, "RUNNING");
});

Deno.test("msk-connect changes configuration and capacity in two updates, waiting for RUNNING and a fresh version between them", async () => {
  const kc = mockClient(new KafkaConnectClient({ region: "us-east-1" }));
  const s3 = mockClient(new S3Client({ region: "us-east-1" }));
  s3.on(HeadObjectCommand).resolves({ ContentLength: 4 });
  kc.on(ListTagsForResourceCommand).resolves({ tags: TAGS });
  kc.on(ListCustomPluginsCommand).resolves({
    customPlugins: [{
      name: PLUGIN_NAME,
      customPluginArn: PLUGIN_ARN,
      customPluginState: "ACTIVE",
      latestRevision: { revision: 1 },
    }],
  });
  kc.on(ListWorkerConfigurationsCommand).resolves({
    workerConfigurations: [{
      name: WORKER_NAME,
      workerConfigurationArn: WORKER_ARN,
      latestRevision: { revision: 1 },
    }],
  });
  kc.on(ListConnectorsCommand).resolves({
    connectors: [{ connectorName: "pinpipe-s3-sink", connectorArn: CONNECTOR_ARN }],
  });
  // A connector as the service keeps it: each update makes a new version and passes
  // through UPDATING; an update naming an old version, or both fields at once, is refused.
  let version = 1;
  let state = "RUNNING";
  let polls = 0;
  let config = { ...CONFIG, "flush.size": "1000" };
  let capacity = { workerCount: 1, mcuCount: 1 };
  kc.on(DescribeConnectorCommand).callsFake(() => {
    if (state === "UPDATING" && ++polls >= 2) state = "RUNNING";
    return {
      connectorArn: CONNECTOR_ARN,
      connectorState: state,
      currentVersion: `V${version}`,
      connectorConfiguration: config,
      capacity: { provisionedCapacity: capacity },
      workerConfiguration: { workerConfigurationArn: WORKER_ARN, revision: 1 },
      plugins: [{ customPlugin: { customPluginArn: PLUGIN_ARN, revision: 1 } }],
    };
  });
  kc.on(UpdateConnectorCommand).callsFake((input) => {
    if (input.currentVersion !== `V${version}`) throw new Error("stale currentVersion");
    if (state !== "RUNNING") throw new Error("the connector is UPDATING");
    if (!!input.connectorConfiguration === !!input.capacity) {
      throw new Error("exactly one of connectorConfiguration and capacity");
    }
    if (input.connectorConfiguration) config = input.connectorConfiguration;
    if (input.capacity) capacity = input.capacity.provisionedCapacity!;
    version++;
    state = "UPDATING";
    polls = 0;
    return { connectorArn: CONNECTOR_ARN, connectorState: "UPDATING" };
  });
  const wanted = { ...SETTINGS, capacity: { workerCount: 2, mcuCount: 2 } };
  const r = await deployMskConnector(wanted, {
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    pollMs: 1,
  });
  assert.equal(r.action, "updated");
  assert.deepEqual(r.changedKeys, ["flush.size", "capacity"]);
  const updates = kc.commandCalls(UpdateConnectorCommand).map((c) => c.args[0].input);
  assert.deepEqual(updates, [
    { connectorArn: CONNECTOR_ARN, currentVersion: "V1", connectorConfiguration: CONFIG },
    {
      connectorArn: CONNECTOR_ARN,
      currentVersion: "V2",
      capacity: { provisionedCapacity: { workerCount: 2, mcuCount: 2 } },
    },
  ]);
  assert.deepEqual([config, capacity, r.state], [CONFIG, wanted.capacity, "RUNNING"]);
});

Deno.test("msk-connect applies a new worker configuration to an existing connector through UpdateConnector", async () => {
  const OLD = "arn:aws:kafkaconnect:us-east-1:123456789012:worker-configuration/w-old/1";
  const { kc, s3 } = await existing(CONFIG, ["RUNNING", "UPDATING", "RUNNING"], {
    workerArn: OLD,
  });
  const r = await deployMskConnector(SETTINGS, {
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    pollMs: 1,
  });
  assert.equal(r.action, "updated");
  assert.deepEqual(r.changedKeys, ["workerConfiguration"]);
  assert.deepEqual(kc.commandCalls(UpdateConnectorCommand).map((c) => c.args[0].input), [{
    connectorArn: CONNECTOR_ARN,
    currentVersion: "K3ABCDEF",
    workerConfiguration: { workerConfigurationArn: WORKER_ARN, revision: 1 },
  }]);
});

Deno.test("msk-connect refuses to change a connector a stack owns, and with takeOver says what it changes", async () => {
  const old = { ...CONFIG, "flush.size": "7" };
  const owned = {
    "pinpipe:stack": "pinpipe-connect",
    "aws:cloudformation:stack-name": "pinpipe-connect",
  };
  const { kc, s3 } = await existing(old, ["RUNNING", "UPDATING", "RUNNING"], { tags: owned });
  const deps = {
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    pollMs: 1,
  };
  await assert.rejects(
    deployMskConnector(SETTINGS, deps),
    (err: Error) =>
      err instanceof UsageError &&
      /^Cannot change connector "pinpipe-s3-sink": stack "pinpipe-connect" owns it .*--take-over to change flush\.size anyway$/
        .test(err.message),
  );
  assert.equal(kc.commandCalls(UpdateConnectorCommand).length, 0);
  // An unchanged stack-owned connector is no reason to refuse.
  const same = await existing(CONFIG, ["RUNNING"], { tags: owned });
  const r0 = await deployMskConnector(SETTINGS, {
    ...deps,
    kafkaconnect: same.kc as unknown as KafkaConnectClient,
  });
  assert.equal(r0.action, "unchanged");
  const lines: string[] = [];
  const r = await deployMskConnector({ ...SETTINGS, takeOver: true }, {
    ...deps,
    onProgress: (l) => lines.push(l),
  });
  assert.equal(r.action, "updated");
  assert.ok(
    lines.includes(
      "taking over connector pinpipe-s3-sink from stack pinpipe-connect: flush.size (its next deploy sets them back)",
    ),
    lines.join("\n"),
  );
});

/** A port nothing listens on (bound, then closed). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("connect-rest fails at once, naming --connect-url, when nothing listens there", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const lines: string[] = [];
  await assert.rejects(
    registerConnector({
      baseUrl: url,
      name: "s3",
      config: CONFIG,
      pollMs: 5,
      onProgress: (l) => lines.push(l),
    }),
    (err: Error) =>
      err.message ===
        `Cannot reach Kafka Connect at --connect-url "${url}": connection refused`,
  );
  assert.deepEqual(lines, [], "no retry lines");
});

Deno.test("connect-rest gives up on a host that accepts but never answers after one try of 5 s", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch { /* closed */ }
  })();
  const url = `http://u:s3cret@127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  try {
    const err = await registerConnector({ baseUrl: url, name: "s3", config: CONFIG }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err);
    assert.match(
      err.message,
      /^Cannot reach Kafka Connect at --connect-url "http:\/\/u:\*\*\*@127\.0\.0\.1:\d+": no answer within 5 s$/,
    );
    assert.equal(held.length, 1, "one connection: nothing was retried");
  } finally {
    listener.close();
    for (const c of held) c.close();
    await accepting;
  }
});

Deno.test("msk-connect fails clearly when the connector ends FAILED", async () => {
  const { kc, s3 } = await existing({ ...CONFIG, "tasks.max": "1" }, ["RUNNING", "FAILED"]);
  await assert.rejects(
    deployMskConnector(SETTINGS, {
      kafkaconnect: kc as unknown as KafkaConnectClient,
      s3: s3 as unknown as S3Client,
      pollMs: 1,
    }),
    /Connector "pinpipe-s3-sink" failed: MSK Connect reports FAILED: NetworkError: Unable to reach the bootstrap servers/,
  );
});

Deno.test("the connector task takes the IAM brokers from GetBootstrapBrokers when none is given", async () => {
  const opts = parseOptions(
    [
      "--bucket=user-0a1b2c3d4e5f-bucket",
      "--subnets=subnet-1,subnet-2",
      "--flush-size=1",
      "--prefix=0a1b2c3d4e5f",
      "--name=pinpipe-s3-sink",
      "--plugin-s3=s3://user-0a1b2c3d4e5f-bucket/plugins/confluentinc-kafka-connect-s3-10.0.3.zip",
    ],
    { AWS_REGION: "us-east-1" },
    {
      clusterArn: "arn:aws:kafka:us-east-1:123456789012:cluster/c/uuid",
      connectorSecurityGroups: "sg-1",
      connectorRoleArn: "arn:aws:iam::123456789012:role/pinpipe-connect",
      connectorLogGroup: "/pinpipe/connect",
    },
  );
  assert.equal(opts.target, "msk-connect");
  const kafka = mockClient(new KafkaClient({ region: "us-east-1" }));
  kafka.on(GetBootstrapBrokersCommand).resolves({
    BootstrapBrokerStringSaslIam: SETTINGS.bootstrapServers,
  });
  kafka.on(DescribeClusterV2Command).resolves({
    ClusterInfo: { ClusterType: "PROVISIONED", Provisioned: { NumberOfBrokerNodes: 2 } },
  } as never);
  const { kc, s3 } = await existing(CONFIG, ["RUNNING"], { prefix: "0a1b2c3d4e5f" });
  const r = await runConnector(opts, {
    kafka: kafka as unknown as KafkaClient,
    kafkaconnect: kc as unknown as KafkaConnectClient,
    s3: s3 as unknown as S3Client,
    log: () => {},
  });
  assert.deepEqual([r.action, r.changedKeys], ["unchanged", []]);
  assert.deepEqual(kafka.commandCalls(GetBootstrapBrokersCommand)[0].args[0].input, {
    ClusterArn: "arn:aws:kafka:us-east-1:123456789012:cluster/c/uuid",
  });
  // The worker configuration is sized to the cluster's two brokers: the one listed exists.
  assert.equal(kafka.commandCalls(DescribeClusterV2Command).length, 1);
  assert.equal(kc.commandCalls(CreateWorkerConfigurationCommand).length, 0);
});

Deno.test("the connector task reports every missing option together and touches nothing", () => {
  assert.throws(() => parseOptions([], {}), (err: Error) => {
    assert.ok(err instanceof UsageError);
    for (const what of ["--bucket", "--cluster-arn", "--role-arn", "--subnets"]) {
      assert.ok(err.message.includes(what), `${what} in: ${err.message}`);
    }
    return true;
  });
});

Deno.test("the connector task needs the internal topics' replication factor or a cluster to read it from", () => {
  const base = [
    "--bucket=lake",
    "--region=us-east-1",
    "--subnets=subnet-1",
    "--security-groups=sg-1",
    "--role-arn=arn:aws:iam::123456789012:role/r",
  ];
  assert.throws(
    () => parseOptions([...base, "--bootstrap=b-1:9098"], {}),
    /Missing --replication-factor \(or --cluster-arn/,
  );
  assert.throws(
    () => parseOptions([...base, "--bootstrap=b-1:9098", "--replication-factor=0"], {}),
    /Invalid --replication-factor "0": expected 1 to 9, or -1/,
  );
  const o = parseOptions([...base, "--bootstrap=b-1:9098"], {}, { connectReplicationFactor: "2" });
  assert.equal(o.target === "msk-connect" && o.settings.replicationFactor, "2");
  const tuned = parseOptions([
    ...base,
    "--bootstrap=b-1:9098",
    "--replication-factor=-1",
    "--rotate-interval=1m",
    "--flush-size=5",
  ], {});
  assert.deepEqual(tuned.sink, {
    prefix: "pinpipe",
    bucket: "lake",
    region: "us-east-1",
    topicsDir: "topics",
    flushSize: 5,
    tasksMax: undefined,
    rotateIntervalMs: 60_000,
  });
});

Deno.test("the connector task's dry run prints the exact Kafka Connect request", async () => {
  const opts = parseOptions([
    "--target=connect-rest",
    "--connect-url=http://127.0.0.1:8083/",
    "--bucket=lake-bucket",
    "--region=eu-west-1",
    "--dry-run",
  ], {});
  const r = await runConnector(opts, { fetch: () => Promise.reject(new Error("no network")) });
  const expected = s3SinkConfig(TEMPLATE, {
    prefix: "pinpipe",
    bucket: "lake-bucket",
    region: "eu-west-1",
  });
  assert.equal(
    r.text,
    `PUT http://127.0.0.1:8083/connectors/pinpipe-s3-sink/config\nContent-Type: application/json\n\n${
      JSON.stringify(expected, null, 2)
    }`,
  );
});

Deno.test("the connector task reads each flag's variable and deploy's config file, lists split on commas", () => {
  const rest = parseOptions([], {
    PINPIPE_CONNECTOR_TARGET: "connect-rest",
    PINPIPE_CONNECT_URL: "http://connect:8083",
    PINPIPE_BUCKET: "env-lake",
    PINPIPE_PREFIX: "p",
    PINPIPE_ROTATE_INTERVAL: "5m",
    PINPIPE_CONNECTOR_TIMEOUT: "90s",
    PINPIPE_FLUSH_SIZE: "10",
    PINPIPE_TASKS_MAX: "2",
    PINPIPE_TOPICS_DIR: "lake/topics",
    PINPIPE_JSON: "1",
  }, { region: "eu-central-1" });
  assert.equal(rest.target, "connect-rest");
  assert.equal(rest.target === "connect-rest" && rest.connectUrlSource, "PINPIPE_CONNECT_URL");
  assert.deepEqual([rest.name, rest.timeoutMs, rest.json], ["p-s3-sink", 90_000, true]);
  assert.deepEqual(rest.sink, {
    prefix: "p",
    bucket: "env-lake",
    region: "eu-central-1",
    topicsDir: "lake/topics",
    flushSize: 10,
    tasksMax: 2,
    rotateIntervalMs: 300_000,
  });

  const msk = parseOptions(["--plugin-url", "/tmp/my-plugin.zip", "--mcu", "2"], {
    AWS_REGION: "us-west-2",
    PINPIPE_CONNECTOR_WORKERS: "3",
  }, {
    bucket: "cfg-lake",
    clusterArn: "arn:aws:kafka:us-west-2:123456789012:cluster/c/uuid",
    connectorSubnets: "subnet-1,subnet-2",
    connectorSecurityGroups: "sg-1",
    connectorRoleArn: "arn:aws:iam::123456789012:role/r",
  });
  assert.ok(msk.target === "msk-connect");
  assert.deepEqual(msk.settings.subnets, ["subnet-1", "subnet-2"]);
  assert.deepEqual(msk.settings.securityGroups, ["sg-1"]);
  assert.deepEqual(msk.settings.capacity, { workerCount: 3, mcuCount: 2 });
  assert.equal(msk.settings.kafkaConnectVersion, undefined, "connect.yaml's, read when it runs");
  assert.equal(msk.pluginUrl, "/tmp/my-plugin.zip");
  assert.deepEqual(
    [msk.settings.plugin.bucket, msk.settings.plugin.key],
    ["cfg-lake", "plugins/my-plugin.zip"],
    "the plugin's S3 copy is named after --plugin-url, where deploy puts it too",
  );
  assert.equal(msk.region, "us-west-2");
});

Deno.test("the connector task refuses durations without a unit and the plugin's old names, all together", () => {
  assert.throws(
    () =>
      parseOptions(
        [
          "--target=connect-rest",
          "--bucket=b",
          "--rotate-interval",
          "600000",
          "--plugin-file",
          "p.zip",
        ],
        { PINPIPE_CONNECTOR_TIMEOUT: "40", PINPIPE_CONNECTOR_PLUGIN_FILE: "p.zip" },
      ),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^5 problems/);
      assert.match(
        err.message,
        /Unknown flag --plugin-file: it was renamed; use --plugin-url PATH/,
      );
      assert.match(
        err.message,
        /PINPIPE_CONNECTOR_PLUGIN_FILE is no longer read: use PINPIPE_PLUGIN_URL/,
      );
      assert.match(
        err.message,
        /Invalid --rotate-interval "600000": expected a duration with its unit/,
      );
      assert.match(
        err.message,
        /Invalid PINPIPE_CONNECTOR_TIMEOUT "40": expected a duration with its unit/,
      );
      assert.match(err.message, /Missing --connect-url \(or PINPIPE_CONNECT_URL\)/);
      return true;
    },
  );
});
