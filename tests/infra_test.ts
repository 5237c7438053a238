/**
 * Offline checks of the CloudFormation templates in infra/: they parse (short tags too),
 * validate against the resource specification, wire together the way deploy passes
 * parameters, and hold the properties the pipeline depends on (IAM auth over TLS, the S3
 * sink's configuration, private buckets, the API key, no secrets). The validator itself is
 * checked on templates with known mistakes in tests/testdata/aws/.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportNames, loadSpec, validateStacks, validateTemplate } from "../lib/cfn_validate.ts";
import { s3SinkConfig, workerProperties } from "../lib/connector_config.ts";
import { loadTemplate, parseTemplate, renderTemplate, STACK_IDS, STACKS } from "../lib/stacks.ts";
import type { StackId, Template } from "../lib/stacks.ts";
import { hasCommand, ROOT, run } from "./_fixtures.ts";

const templates = new Map<StackId, Template>();
for (const id of STACK_IDS) templates.set(id, await loadTemplate(id));
const testdata = (name: string) =>
  Deno.readTextFile(join(ROOT, "tests", "testdata", "aws", name)).then((t) =>
    parseTemplate(t, name)
  );

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

/** Resolves Ref and Sub against `values` (enough for literal-ish properties). */
function resolve(v: unknown, values: Record<string, string>): unknown {
  if (typeof v !== "object" || v === null) return v;
  const o = v as Record<string, unknown>;
  if ("Ref" in o) {
    const name = o.Ref as string;
    assert.ok(name in values, `no value for Ref ${name}`);
    return values[name];
  }
  if ("Fn::Sub" in o && typeof o["Fn::Sub"] === "string") {
    return (o["Fn::Sub"] as string).replace(/\$\{([^}]+)\}/g, (_, n: string) => {
      assert.ok(n in values, `no value for \${${n}}`);
      return values[n];
    });
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(x, values)]));
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

Deno.test("the resource specification knows the MSK, MSK Connect and MWAA types", () => {
  const spec = loadSpec();
  for (
    const t of [
      "AWS::MSK::Cluster",
      "AWS::MSK::ServerlessCluster",
      "AWS::KafkaConnect::Connector",
      "AWS::KafkaConnect::CustomPlugin",
      "AWS::KafkaConnect::WorkerConfiguration",
      "AWS::MWAA::Environment",
      "AWS::ApiGateway::VpcLink",
    ]
  ) assert.ok(spec.ResourceTypes[t]?.Properties, t);
  assert.ok("WebserverUrl" in (spec.ResourceTypes["AWS::MWAA::Environment"].Attributes ?? {}));
  // The original templates' favourite mistake: MSK returns no bootstrap brokers.
  assert.equal(
    Object.keys(spec.ResourceTypes["AWS::MSK::Cluster"].Attributes ?? {}).some((a) =>
      /Bootstrap/i.test(a)
    ),
    false,
  );
});

Deno.test("every template and deploy's wiring between them validate", () => {
  assert.deepEqual(validateStacks(templates, STACKS), []);
});

Deno.test("the validator reports each kind of mistake", async () => {
  const problems = validateTemplate(await testdata("broken.yaml"), {
    file: "broken.yaml",
    exports: new Set(),
  });
  const expected = [
    /Parameters\.Undocumented: the parameter has no Description/,
    /Parameters\.Unused: declared but never used/,
    /Parameters\.BadDefault: the default "c" is not one of its AllowedValues/,
    /NoSuchType\.Type: "AWS::S3::Bukket" is not a resource type/,
    /WrongProperty\.Properties\.BucketNam: "BucketNam" is not a property of AWS::S3::Bucket/,
    /MissingRequired\.Properties: required property "BrokerNodeGroupInfo" is missing/,
    /BadRef\.Properties\.QueueName: Ref to "Nothing"/,
    /BadGetAtt.*"AWS::SQS::Queue" has no attribute "BootstrapBrokers"/,
    /BadSub.*Sub variable "\$\{Missing\}" names nothing/,
    /BadCondition\.Condition: condition "IsY" is not declared/,
    /BadDependsOn\.DependsOn: "Ghost" is not a resource/,
    /BadImport.*ImportValue "not-exported" is not exported by any other stack/,
    /StarPolicy.*Statement\[0\]: allows "s3:GetObject" on "Resource": "\*"/,
    /StarPolicy.*Statement\[1\]: allows "kafka-cluster:Connect" on "Resource": "\*"/,
    /WrongType\.Properties\.DelaySeconds: expected a number/,
    /WrongType\.Properties\.FifoQueue: expected true or false/,
    /Outputs\.NoDescription: the output has no Description/,
  ];
  for (const re of expected) {
    assert.ok(problems.some((p) => re.test(p)), `missing ${re}\n${problems.join("\n")}`);
  }
  assert.equal(problems.length, expected.length, problems.join("\n"));
  // cloudwatch:PutMetricData has no resource-level permissions: "*" is right for it.
  assert.equal(problems.some((p) => p.includes("PutMetricData")), false);
});

Deno.test("an ImportValue passes when another stack exports the name", async () => {
  const exporter = await testdata("exporter.yaml");
  const importer = await testdata("importer.yaml");
  assert.deepEqual(exportNames(exporter), ["${Prefix}-TopicArn"]);
  assert.deepEqual(validateTemplate(importer, { exports: new Set(exportNames(exporter)) }), []);
  assert.equal(validateTemplate(importer, { exports: new Set() }).length, 1);
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
  const problems = validateStacks(templates, broken);
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

const LINT = await hasCommand("cfn-lint");
Deno.test({
  name: "cfn-lint, where installed, finds nothing wrong with the templates",
  ignore: !LINT,
  fn: async () => {
    const files = STACK_IDS.map((id) => `infra/${id}.yaml`);
    const r = await run("cfn-lint", ["--regions", "us-east-1", "--", ...files]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  },
});
if (!LINT) {
  console.warn(
    "\n*** SKIPPED cfn-lint check: cfn-lint is not installed (pip install cfn-lint) ***\n",
  );
}

Deno.test("the connect stack's connector configuration is the one deno task connector registers", () => {
  const t = templates.get("connect")!;
  const p = t.Parameters!;
  const values = {
    "AWS::Region": "eu-west-2",
    Prefix: "demo",
    BucketName: "demo-lake",
    FlushSize: String(p.FlushSize.Default),
    TasksMax: String(p.TasksMax.Default),
  };
  const config = resolve(
    resource("connect", "Connector").Properties.ConnectorConfiguration,
    values,
  );
  assert.deepEqual(
    config,
    s3SinkConfig({
      prefix: "demo",
      bucket: "demo-lake",
      region: "eu-west-2",
      flushSize: Number(values.FlushSize),
      tasksMax: Number(values.TasksMax),
    }),
  );
  const c = config as Record<string, string>;
  assert.equal(c["s3.region"], "eu-west-2", "s3.region must be set: it defaults to us-west-2");
  assert.equal(c["value.converter"], "org.apache.kafka.connect.json.JsonConverter");
  assert.equal(c["value.converter.schemas.enable"], "false");
});

Deno.test("the worker configuration is base64-encoded and uses the JSON converters", () => {
  const content = resource("connect", "WorkerConfiguration").Properties
    .PropertiesFileContent as Record<string, string>;
  assert.deepEqual(Object.keys(content), ["Fn::Base64"]);
  assert.deepEqual(content["Fn::Base64"].trim().split("\n"), workerProperties().trim().split("\n"));
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

Deno.test("every kafka-cluster permission is scoped to this cluster's ARNs", () => {
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
  }
});

Deno.test("the API needs a key, fills in {proxy}, is throttled and reaches the proxy through a VPC link", () => {
  const m = resource("api", "ProxyMethod").Properties as Record<string, unknown> & {
    Integration: Record<string, unknown>;
  };
  assert.equal(m.HttpMethod, "ANY");
  assert.equal(m.ApiKeyRequired, true);
  assert.deepEqual(m.RequestParameters, { "method.request.path.proxy": true });
  assert.equal(m.Integration.Type, "HTTP_PROXY");
  assert.equal(m.Integration.ConnectionType, "VPC_LINK");
  assert.deepEqual(m.Integration.RequestParameters, {
    "integration.request.path.proxy": "method.request.path.proxy",
  });
  assert.match(JSON.stringify(m.Integration.Uri), /:8082\/\{proxy\}/);
  assert.equal(resource("api", "ProxyResource").Properties.PathPart, "{proxy+}");
  const plan = resource("api", "UsagePlan").Properties as Record<string, Record<string, unknown>>;
  assert.deepEqual(plan.Throttle, {
    RateLimit: { Ref: "RateLimit" },
    BurstLimit: { Ref: "BurstLimit" },
  });
  assert.equal(resource("api", "UsagePlanKey").Properties.KeyType, "API_KEY");
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
  (changed.Resources!.ProxyMethod.Properties as { Integration: { TimeoutInMillis: number } })
    .Integration.TimeoutInMillis = 10000;
  const c = await renderTemplate(changed);
  assert.notDeepEqual(deploymentOf(c), deploymentOf(a));
  // Everything that pointed at the deployment follows the new name.
  const stage = c.Resources!.ApiStage.Properties as { DeploymentId: unknown };
  assert.deepEqual(stage.DeploymentId, { Ref: deploymentOf(c)[0] });
  assert.deepEqual(validateTemplate(c, { file: "rendered api" }), []);
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
  const secret = resource("mwaa", "DatabricksConnection").Properties;
  assert.deepEqual(JSON.parse(secret.SecretString as string), { conn_type: "databricks" });
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

Deno.test("the client instance needs no SSH key and signals when the REST proxy answers", () => {
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
    ]
  ) {
    assert.ok(script.includes(needle), needle);
  }
  const role = resource("client", "InstanceRole").Properties as { ManagedPolicyArns: unknown[] };
  assert.match(JSON.stringify(role.ManagedPolicyArns), /AmazonSSMManagedInstanceCore/);
});
