/**
 * The CloudFormation templates in infra/: cfn-lint (the engine venv's, pinned) finds nothing
 * wrong with them, as written and as deploy sends them, and does find the mistakes in a
 * template made to hold them; they parse (short tags too); deploy's wiring between them
 * holds and gives the dependency graph deploy follows; and they hold the properties the
 * pipeline depends on (IAM auth over TLS, the S3 sink's configuration, private buckets, the
 * API key, no secrets, the lake-reader role, subnets that fit the VPC).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  loadSinkTemplate,
  s3SinkConfig,
  templateDefault,
  workerProperties,
} from "../../lib/aws/connector_config.ts";
import {
  checkWiring,
  deployWaves,
  firstDeployMinutes,
  loadTemplate,
  parseTemplate,
  renderTemplate,
  STACK_IDS,
  stackGraph,
  STACKS,
  subnetBits,
} from "../../lib/aws/stacks.ts";
import type { StackId, Template } from "../../lib/aws/stacks.ts";
import { ROOT } from "../_fixtures.ts";

const templates = new Map<StackId, Template>();
for (const id of STACK_IDS) templates.set(id, await loadTemplate(id));
const testdataPath = (name: string) => join(ROOT, "tests", "testdata", "aws", name);
const testdata = (name: string) =>
  Deno.readTextFile(testdataPath(name)).then((t) => parseTemplate(t, name));

type Res = { Type: string; Properties: Record<string, unknown>; Condition?: string };
function resource(stack: StackId, id: string): Res {
  const r = templates.get(stack)!.Resources?.[id];
  assert.ok(r, `infra/${stack}.yaml has no resource ${id}`);
  return r as unknown as Res;
}
function resourcesOfType(stack: StackId, type: string): [string, Res][] {
  return Object.entries(templates.get(stack)!.Resources ?? {})
    .filter(([, r]) => r.Type === type) as [string, Res][];
}

Deno.test("every template parses, short intrinsic tags included", async () => {
  assert.deepEqual([...templates.keys()], [...STACK_IDS]);
  const tags = await testdata("tags.yaml");
  assert.deepEqual(tags.C, { "Fn::Sub": ["${a}", { a: { Ref: "Param" } }] });
  assert.deepEqual(tags.E, { "Fn::GetAtt": ["Res", "Endpoint.Address"] });
  assert.deepEqual(tags.D, { "Fn::GetAtt": ["Res", "Arn"] });
  assert.deepEqual(tags.N, { "Fn::Not": [{ Condition: "Cond" }] });
  assert.deepEqual(tags.H, { "Fn::Select": [0, { "Fn::GetAZs": "" }] });
  assert.deepEqual(tags.Q, { "Fn::Cidr": ["10.0.0.0/16", 4, 12] });
  for (const key of "ABCDEFGHIJKLMNOPQR") {
    const value = tags[key] as Record<string, unknown>;
    assert.equal(Object.keys(value).length, 1, key);
    assert.match(Object.keys(value)[0], /^(Ref|Fn::\w+)$/, key);
  }
});

Deno.test("a template with an unknown tag or a duplicate key does not parse", () => {
  assert.throws(
    () => parseTemplate("Resources:\n  A: !Reff x\n", "t.yaml"),
    /Cannot parse template "t.yaml": .*!Reff/,
  );
  assert.throws(
    () =>
      parseTemplate(
        "Resources:\n  A: {Type: AWS::SNS::Topic}\n  A: {Type: AWS::SNS::Topic}\n",
        "d.yaml",
      ),
    /Cannot parse template "d.yaml": .*[Dd]uplicate|unique/,
  );
});

Deno.test("deploy's wiring between the templates holds", () => {
  assert.deepEqual(checkWiring(templates, STACKS), []);
});

Deno.test("the wiring check catches a parameter deploy cannot fill and an output that is not there", () => {
  const broken = STACKS.map((s) =>
    s.id === "client"
      ? {
        ...s,
        params: {
          ...s.params,
          SubnetId: { from: "output" as const, stack: "network" as const, output: "NoSuchOutput" },
        },
      }
      : s.id === "api"
      ? { ...s, params: { Prefix: { from: "prefix" as const } } }
      : s
  );
  const problems = checkWiring(templates, broken);
  assert.ok(
    problems.some((p) =>
      /client.yaml: parameter "SubnetId" comes from output "NoSuchOutput"/.test(p)
    ),
    problems.join("\n"),
  );
  assert.ok(
    problems.some((p) =>
      /api.yaml: parameter "InstanceId" has no default and deploy does not pass it/.test(p)
    ),
  );
});

Deno.test("the stack graph lets independent stacks deploy together and cuts the first deploy", () => {
  const graph = stackGraph(templates);
  assert.deepEqual(Object.fromEntries([...graph].map(([id, needs]) => [id, needs.sort()])), {
    network: [],
    lake: [],
    msk: ["network"],
    client: ["msk", "network"],
    connect: ["lake", "msk", "network"],
    api: ["client", "network"],
    mwaa: ["lake", "network"],
  });
  assert.deepEqual(deployWaves(graph), [
    ["network", "lake"],
    ["msk", "mwaa"],
    ["client", "connect"],
    ["api"],
  ]);
  const sequential = STACKS.reduce((n, s) => n + s.createMinutes, 0);
  const together = firstDeployMinutes(graph);
  // network -> msk -> client -> api is the longest chain; MWAA goes up beside MSK.
  assert.equal(together, 3 + 20 + 7 + 6);
  assert.ok(together < sequential * 0.6, `${together} of ${sequential} min`);
});

Deno.test("an ImportValue makes the importing stack wait for the exporting one", async () => {
  const exporter = await testdata("exporter.yaml");
  const importer = await testdata("importer.yaml");
  const defs = [
    { ...STACKS[0], id: "lake" as const, params: {}, config: {}, buckets: [] },
    { ...STACKS[0], id: "api" as const, params: {}, config: {}, buckets: [] },
  ];
  const pair = new Map<StackId, Template>([["lake", exporter], ["api", importer]]);
  assert.deepEqual(stackGraph(pair, defs).get("api"), ["lake"]);
  assert.deepEqual(checkWiring(pair, defs), []);
  const alone = new Map<StackId, Template>([["lake", { Resources: {} }], ["api", importer]]);
  assert.deepEqual(checkWiring(alone, defs), [
    'infra/api.yaml: ImportValue "${Prefix}-TopicArn" is not exported by any other stack',
  ]);
});

Deno.test("the network's subnets shrink with a /19 or /20 VPC, where four /20s do not fit", () => {
  assert.deepEqual(
    ["10.20.0.0/16", "10.0.0.0/17", "10.0.0.0/18", "10.0.0.0/19", "172.16.16.0/20"].map(
      subnetBits,
    ),
    [12, 12, 12, 11, 10],
  );
  assert.throws(() => subnetBits("10.0.0.0/21"), /Invalid VPC range "10.0.0.0\/21"/);
  assert.throws(() => subnetBits("10.0.0.300/16"), /expected an IPv4 block from \/16 to \/20/);
  const net = templates.get("network")!;
  const bits = net.Parameters!.SubnetBits;
  assert.deepEqual(bits.AllowedValues, [10, 11, 12]);
  assert.equal(bits.Default, subnetBits(String(net.Parameters!.VpcCidr.Default)));
  for (const [id, r] of resourcesOfType("network", "AWS::EC2::Subnet")) {
    assert.deepEqual(
      (r.Properties.CidrBlock as { "Fn::Select": unknown[] })["Fn::Select"][1],
      { "Fn::Cidr": [{ Ref: "VpcCidr" }, 4, { Ref: "SubnetBits" }] },
      id,
    );
  }
});

Deno.test("the connector configuration deno task connector registers is the connect stack's", async () => {
  const t = await loadSinkTemplate();
  const config = s3SinkConfig(t, { prefix: "demo", bucket: "demo-lake", region: "eu-west-2" });
  assert.deepEqual(config, {
    "connector.class": "io.confluent.connect.s3.S3SinkConnector",
    "s3.region": "eu-west-2",
    "flush.size": "1000",
    "rotate.schedule.interval.ms": "600000",
    "timezone": "UTC",
    "schema.compatibility": "NONE",
    "tasks.max": "3",
    // A literal dot: demo.pin, never demo2.pin.
    "topics.regex": "demo\\..*",
    "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
    "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "value.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "storage.class": "io.confluent.connect.s3.storage.S3Storage",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "s3.bucket.name": "demo-lake",
  });
  assert.equal(templateDefault(t, "RotateIntervalMs"), "600000");
  const tuned = s3SinkConfig(t, {
    prefix: "p",
    bucket: "b",
    region: "us-east-1",
    flushSize: 1,
    tasksMax: 6,
    rotateIntervalMs: 60_000,
    topicsDir: "lake/topics",
  });
  assert.deepEqual(
    [tuned["flush.size"], tuned["tasks.max"], tuned["rotate.schedule.interval.ms"]],
    ["1", "6", "60000"],
  );
  assert.equal(tuned["topics.dir"], "lake/topics");
  // The stack's own parameters are what deploy passes in: the same text comes out.
  const props = resource("connect", "Connector").Properties.ConnectorConfiguration as Record<
    string,
    unknown
  >;
  assert.deepEqual(props["rotate.schedule.interval.ms"], { Ref: "RotateIntervalMs" });
  assert.equal(props.timezone, "UTC");
});

Deno.test("the worker configuration sizes Connect's internal topics to the cluster", async () => {
  const t = await loadSinkTemplate();
  const two = workerProperties(t, "2");
  assert.deepEqual(two.trim().split("\n"), [
    "key.converter=org.apache.kafka.connect.storage.StringConverter",
    "value.converter=org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable=false",
    "config.storage.replication.factor=2",
    "offset.storage.replication.factor=2",
    "status.storage.replication.factor=2",
    // kafka.t3.small takes few new IAM connections a second: every client backs off.
    "reconnect.backoff.ms=1000",
    "reconnect.backoff.max.ms=10000",
    "producer.reconnect.backoff.ms=1000",
    "producer.reconnect.backoff.max.ms=10000",
    "consumer.reconnect.backoff.ms=1000",
    "consumer.reconnect.backoff.max.ms=10000",
  ]);
  assert.match(workerProperties(t, -1), /^offset\.storage\.replication\.factor=-1$/m);
  const worker = resource("connect", "WorkerConfiguration").Properties;
  assert.deepEqual(Object.keys(worker.PropertiesFileContent as object), ["Fn::Base64"]);
  assert.deepEqual(worker.Name, { "Fn::Sub": "${Prefix}-s3-sink-worker${WorkerSuffix}" });
  // The msk stack gives the factor: its broker count up to 3, the cluster default serverless.
  const outputs = templates.get("msk")!.Outputs!;
  assert.deepEqual(outputs.ConnectReplicationFactor.Value, {
    "Fn::If": ["Serverless", "-1", { "Fn::If": ["TwoBrokers", "2", "3"] }],
  });
  assert.deepEqual(outputs.ReplicationFactor.Value, {
    "Fn::If": ["Serverless", "default", { "Fn::If": ["TwoBrokers", "2", "3"] }],
  });
  assert.deepEqual(resource("msk", "Cluster").Properties.NumberOfBrokerNodes, {
    Ref: "BrokerCount",
  });
});

Deno.test("MSK takes only IAM clients over TLS, and nothing asks CloudFormation for bootstrap brokers", () => {
  const props = resource("msk", "Cluster").Properties as Record<string, Record<string, unknown>>;
  assert.deepEqual(props.ClientAuthentication, {
    Sasl: { Iam: { Enabled: true } },
    Unauthenticated: { Enabled: false },
  });
  assert.deepEqual(props.EncryptionInfo, {
    EncryptionInTransit: { ClientBroker: "TLS", InCluster: true },
  });
  assert.deepEqual(resource("msk", "ServerlessCluster").Properties.ClientAuthentication, {
    Sasl: { Iam: { Enabled: true } },
  });
  for (const [id, t] of templates) {
    assert.equal(/Bootstrap[A-Za-z]*String/.test(JSON.stringify(t)), false, id);
  }
  const connector = resource("connect", "Connector").Properties as Record<
    string,
    Record<string, unknown>
  >;
  assert.deepEqual(connector.KafkaClusterClientAuthentication, { AuthenticationType: "IAM" });
  assert.deepEqual(connector.KafkaClusterEncryptionInTransit, { EncryptionType: "TLS" });
});

Deno.test("Kafka and REST-proxy ports are open to the VPC only", () => {
  for (const [id, sg] of resourcesOfType("network", "AWS::EC2::SecurityGroup")) {
    for (const rule of (sg.Properties.SecurityGroupIngress ?? []) as Record<string, unknown>[]) {
      assert.deepEqual(
        rule.CidrIp,
        { "Fn::GetAtt": ["Vpc", "CidrBlock"] },
        `${id} ingress ${rule.FromPort}`,
      );
    }
  }
  const ports = resourcesOfType("network", "AWS::EC2::SecurityGroup")
    .flatMap(([, sg]) => (sg.Properties.SecurityGroupIngress ?? []) as { FromPort: number }[])
    .map((r) => r.FromPort).sort();
  assert.deepEqual(ports, [8082, 9098]);
  assert.equal(resource("api", "LoadBalancer").Properties.Scheme, "internal");
});

Deno.test("every kafka-cluster permission is scoped to this cluster's ARNs, and the REST proxy may not delete topics", () => {
  for (const stack of ["client", "connect"] as const) {
    const role = Object.values(templates.get(stack)!.Resources!).find((r) =>
      r.Type === "AWS::IAM::Role"
    )!;
    const statements = (role.Properties as {
      Policies: { PolicyDocument: { Statement: Record<string, unknown>[] } }[];
    })
      .Policies.flatMap((p) => p.PolicyDocument.Statement);
    const kafka = statements.filter((s) => JSON.stringify(s.Action).includes("kafka-cluster:"));
    assert.ok(kafka.length >= 3, stack);
    for (const s of kafka) {
      const text = JSON.stringify(s.Resource);
      assert.ok(
        text.includes('"ClusterArn"'),
        `${stack}: ${text} is not built from the cluster ARN`,
      );
      assert.ok(!text.includes('"*"'), `${stack}: ${text}`);
    }
    assert.equal(JSON.stringify(statements).includes("kafka-cluster:DeleteTopic"), false, stack);
  }
});

Deno.test("ARNs take their partition from the region, never a written-out arn:aws", () => {
  for (const [id, t] of templates) {
    const text = JSON.stringify(t.Resources);
    assert.equal(/"arn:aws:/.test(text), false, `infra/${id}.yaml writes arn:aws`);
  }
});

Deno.test("the API forwards only the emulator's produce routes, each with the chosen authorizer", () => {
  const methods = resourcesOfType("api", "AWS::ApiGateway::Method");
  const api = templates.get("api")!;
  const pathOf = (id: string): string => {
    const r = api.Resources![id].Properties as { ParentId: unknown; PathPart: string };
    const parent = (r.ParentId as { Ref?: string }).Ref;
    return `${parent ? pathOf(parent) : ""}/${r.PathPart}`;
  };
  const routes = methods.map(([, m]) =>
    `${m.Properties.HttpMethod} ${pathOf((m.Properties.ResourceId as { Ref: string }).Ref)}`
  ).sort();
  // No {proxy+}, no ANY: the consumer API, topic creation and the rest stay in the VPC.
  assert.deepEqual(routes, [
    "GET /v3/clusters",
    "POST /topics/{topic}",
    "POST /v3/clusters/{cluster_id}/topics/{topic}/records",
  ]);
  for (const [id, m] of methods) {
    const p = m.Properties as Record<string, unknown> & { Integration: Record<string, unknown> };
    assert.deepEqual(p.AuthorizationType, { "Fn::If": ["Iam", "AWS_IAM", "NONE"] }, id);
    assert.deepEqual(p.ApiKeyRequired, { "Fn::If": ["Iam", false, true] }, id);
    assert.equal(p.Integration.Type, "HTTP_PROXY", id);
    assert.equal(p.Integration.ConnectionType, "VPC_LINK", id);
    assert.equal(p.Integration.IntegrationHttpMethod, p.HttpMethod, id);
    // Every path variable of the route is filled in on the proxy's side.
    for (const v of JSON.stringify(p.Integration.Uri).match(/\{(\w+)\}/g) ?? []) {
      const name = v.slice(1, -1);
      if (name === "LoadBalancer") continue;
      assert.deepEqual(
        (p.Integration.RequestParameters as Record<string, string>)[
          `integration.request.path.${name}`
        ],
        `method.request.path.${name}`,
        `${id} ${name}`,
      );
    }
  }
  assert.deepEqual(api.Parameters!.Authorization.AllowedValues, ["API_KEY", "IAM"]);
  for (const id of ["ApiKey", "UsagePlan", "UsagePlanKey"]) {
    assert.equal(resource("api", id).Condition, "ApiKey", id);
  }
  const plan = resource("api", "UsagePlan").Properties as Record<string, Record<string, unknown>>;
  assert.deepEqual(plan.Throttle, {
    RateLimit: { Ref: "RateLimit" },
    BurstLimit: { Ref: "BurstLimit" },
  });
  assert.equal(resource("api", "UsagePlanKey").Properties.KeyType, "API_KEY");
});

Deno.test("the REST proxy's instance role cannot create topics; only the boot script's role can", () => {
  const statements = (role: Res) =>
    (role.Properties as { Policies: { PolicyDocument: { Statement: unknown[] } }[] }).Policies
      .flatMap((p) => p.PolicyDocument.Statement);
  const proxy = JSON.stringify(statements(resource("client", "InstanceRole")));
  assert.equal(proxy.includes("kafka-cluster:CreateTopic"), false);
  assert.match(proxy, /kafka-cluster:WriteData/);
  assert.match(JSON.stringify(statements(resource("client", "TopicAdminRole"))), /CreateTopic/);
  const script = JSON.stringify(resource("client", "Instance").Properties.UserData);
  assert.match(script, /awsRoleArn=\\"\$\{TopicAdminRole.Arn\}/);
  assert.match(script, /--command-config \$BASE\/topic-admin.properties --create/);
});

Deno.test("deploy renames the API deployment when methods change, and only then", async () => {
  const api = templates.get("api")!;
  const deploymentOf = (t: Template) =>
    Object.keys(t.Resources!).filter((k) => k.startsWith("ApiDeployment"));
  const a = await renderTemplate(api);
  const b = await renderTemplate(structuredClone(api));
  assert.deepEqual(deploymentOf(a), deploymentOf(b));
  assert.match(deploymentOf(a)[0], /^ApiDeployment[0-9a-f]{10}$/);
  const changed = structuredClone(api);
  (changed.Resources!.ProduceMethod.Properties as { Integration: { TimeoutInMillis: number } })
    .Integration.TimeoutInMillis = 10000;
  const c = await renderTemplate(changed);
  assert.notDeepEqual(deploymentOf(c), deploymentOf(a));
  // Everything that pointed at the deployment follows the new name.
  const stage = c.Resources!.ApiStage.Properties as { DeploymentId: unknown };
  assert.deepEqual(stage.DeploymentId, { Ref: deploymentOf(c)[0] });
  assert.equal(JSON.stringify(c).includes('"ApiDeployment"'), false);
});

Deno.test("buckets block public access, encrypt, refuse plain HTTP, and the DAG bucket keeps versions", () => {
  for (const [stack, id] of [["lake", "LakeBucket"], ["mwaa", "DagBucket"]] as const) {
    const p = resource(stack, id).Properties as Record<string, unknown>;
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.ok(p.BucketEncryption, `${id} is not encrypted`);
    const policy = resourcesOfType(stack, "AWS::S3::BucketPolicy")[0][1].Properties as {
      PolicyDocument: { Statement: Record<string, unknown>[] };
    };
    const deny = policy.PolicyDocument.Statement.find((s) => s.Effect === "Deny")!;
    assert.deepEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
  }
  assert.deepEqual(resource("mwaa", "DagBucket").Properties.VersioningConfiguration, {
    Status: "Enabled",
  });
  // The lake's versioning is a choice, off by default.
  assert.equal(templates.get("lake")!.Parameters!.Versioning.Default, "off");
});

Deno.test("Databricks reads the lake through a role Unity Catalog assumes with an external id, and may only read", () => {
  const role = resource("lake", "LakeReaderRole").Properties as {
    RoleName: unknown;
    AssumeRolePolicyDocument: { Statement: Record<string, unknown>[] };
    Policies: { PolicyDocument: { Statement: { Action: string | string[] }[] } }[];
  };
  const [uc, self] = role.AssumeRolePolicyDocument.Statement;
  assert.deepEqual(uc.Principal, { AWS: { Ref: "DatabricksPrincipal" } });
  assert.deepEqual(uc.Condition, {
    StringEquals: { "sts:ExternalId": { Ref: "DatabricksExternalId" } },
  });
  // Unity Catalog also requires the role to trust itself.
  assert.deepEqual(self.Condition, {
    ArnEquals: {
      "aws:PrincipalArn": {
        "Fn::Sub":
          "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Prefix}-lake-reader-${AWS::Region}",
      },
    },
  });
  assert.deepEqual(role.RoleName, { "Fn::Sub": "${Prefix}-lake-reader-${AWS::Region}" });
  const actions = role.Policies.flatMap((p) => p.PolicyDocument.Statement)
    .flatMap((s) => [s.Action].flat()).sort();
  assert.deepEqual(actions, [
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "sts:AssumeRole",
  ]);
  const params = templates.get("lake")!.Parameters!;
  assert.equal(params.DatabricksExternalId.Default, "0000");
  assert.ok(templates.get("lake")!.Outputs!.LakeReaderRoleArn);
  assert.equal(STACKS.find((s) => s.id === "lake")!.config.LakeReaderRoleArn, "lakeReaderRoleArn");
});

Deno.test("MWAA reads the Databricks connection from Secrets Manager and no template holds a token", () => {
  const env = resource("mwaa", "Environment").Properties as Record<string, unknown>;
  const options = env.AirflowConfigurationOptions as Record<string, unknown>;
  assert.equal(
    options["secrets.backend"],
    "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
  );
  assert.match(
    JSON.stringify(options["secrets.backend_kwargs"]),
    /\$\{Prefix\}\/airflow\/connections/,
  );
  // No SecretString: CloudFormation would write it again over deploy's host and token on
  // any update of the resource.
  const secret = resource("mwaa", "DatabricksConnection").Properties as Record<string, unknown>;
  assert.equal("SecretString" in secret, false);
  const generated = secret.GenerateSecretString as Record<string, string>;
  assert.deepEqual(JSON.parse(generated.SecretStringTemplate), { conn_type: "databricks" });
  assert.deepEqual(secret.Name, { "Fn::Sub": "${Prefix}/airflow/connections/databricks_default" });
  for (const [id, t] of templates) {
    assert.equal(
      Object.keys(t.Parameters ?? {}).some((p) => /token|password|secret/i.test(p)),
      false,
      id,
    );
    assert.equal(/dapi[0-9a-f]{8}/.test(JSON.stringify(t)), false, id);
  }
  // requirements.txt reaches the environment with its exact object version.
  assert.deepEqual(env.RequirementsS3ObjectVersion, {
    "Fn::GetAtt": ["RequirementsFile", "VersionId"],
  });
});

Deno.test("the client instance needs no SSH key, keeps its image, and signals when the REST proxy answers", () => {
  const inst = resource("client", "Instance") as Res & { CreationPolicy: unknown };
  assert.equal("KeyName" in inst.Properties, false);
  assert.deepEqual(inst.CreationPolicy, { ResourceSignal: { Count: 1, Timeout: "PT25M" } });
  const script = JSON.stringify(inst.Properties.UserData);
  for (
    const needle of [
      "kafka-rest.service",
      "AWS_MSK_IAM",
      "aws-msk-iam-auth",
      "--if-not-exists",
      "cfn-signal",
      "${RestProxyProperties}",
      "reconnect.backoff.ms=1000",
    ]
  ) {
    assert.ok(script.includes(needle), needle);
  }
  const role = resource("client", "InstanceRole").Properties as { ManagedPolicyArns: unknown[] };
  assert.match(JSON.stringify(role.ManagedPolicyArns), /AmazonSSMManagedInstanceCore/);
  // The image resolves once; deploy passes it back (ImageId output -> ImageId parameter).
  assert.deepEqual(inst.Properties.ImageId, {
    "Fn::If": ["PinnedImage", { Ref: "ImageId" }, { Ref: "LatestImageId" }],
  });
  const t = templates.get("client")!;
  assert.equal(t.Parameters!.ImageId.Default, "");
  assert.equal(t.Parameters!.ImageId.Type, "String");
  assert.match(String(t.Parameters!.LatestImageId.Type), /^AWS::SSM::Parameter::Value/);
  assert.deepEqual(t.Outputs!.ImageId.Value, inst.Properties.ImageId);
  assert.deepEqual(STACKS.find((s) => s.id === "client")!.params.ImageId, {
    from: "pinned",
    output: "ImageId",
  });
});
