/**
 * The AWS stacks pinpipe deploys: one CloudFormation template per stack in `infra/`, where
 * each stack's parameters come from (options, outputs of other stacks, values deploy works
 * out between stacks), the dependency graph that follows from that (so stacks that do not
 * depend on each other deploy together), which outputs end up in `.pinpipe/aws.json`, and
 * the wiring check that every parameter deploy passes exists and every output it reads is
 * declared. Also reading a template (YAML with the short intrinsic tags) into the long JSON
 * form CloudFormation takes, and what deploy changes in it before sending it.
 * @module
 */
import { parseDocument } from "../deps/yaml.ts";

/** A stack, by its short name (the file `infra/<name>.yaml`). */
export type StackId = "network" | "lake" | "msk" | "client" | "connect" | "api" | "mwaa";

/** Where one parameter's value comes from. */
export type ParamSource =
  /** The topic and resource prefix. */
  | { from: "prefix" }
  /** An output of another stack (which must be up first). */
  | { from: "output"; stack: StackId; output: string }
  /** The SASL/IAM bootstrap brokers of the msk stack's cluster (GetBootstrapBrokers). */
  | { from: "bootstrap" }
  /** The S3 key of the connector plugin zip, uploaded to the lake bucket by deploy. */
  | { from: "plugin" }
  /** The text of dags/requirements.txt. */
  | { from: "requirements" }
  /** kafka-rest.properties for the msk stack's brokers (lib/aws/rest_proxy_config.ts). */
  | { from: "restProxyProperties" }
  /** The subnet size that fits the network stack's VpcCidr (see `subnetBits`). */
  | { from: "subnetBits" }
  /**
   * The name of the network's first or second Availability Zone, chosen by zone ID
   * (lib/aws/zones.ts) on create and kept on updates.
   */
  | { from: "zone"; index: 0 | 1 }
  /**
   * A name suffix, `-<hash>`, of `resource`'s create-only `properties` (paths as in the
   * resource schemas, `BrokerNodeGroupInfo/ClientSubnets`) and of the values of the
   * parameters they use: a change that replaces the resource also renames it, so the new one
   * does not collide with the old one's name (see `nameHash`).
   */
  | { from: "hash"; resource: string; properties: string[] }
  /**
   * This stack's own output from its last deploy, passed back on updates (empty on create):
   * a value resolved once and kept, like the client instance's image.
   */
  | { from: "pinned"; output: string };

/** One stack: its template, wiring, and what deploy does with its outputs. */
export interface StackDef {
  id: StackId;
  /** What it creates, for the plan and the README. */
  summary: string;
  /** Parameters deploy fills in; the others keep their template defaults. */
  params: Record<string, ParamSource>;
  /** Outputs saved to the config file, output name -> config key. */
  config: Record<string, string>;
  /** Outputs that name buckets deploy empties before deleting the stack. */
  buckets: string[];
  /**
   * About how long a first create takes, in minutes: typical durations of these resources
   * (MSK and MWAA dominate), not measured by pinpipe's tests, which have no AWS account.
   */
  createMinutes: number;
}

const out = (stack: StackId, output: string): ParamSource => ({ from: "output", stack, output });
const PREFIX: ParamSource = { from: "prefix" };

/** Every stack. Their order is only for display; deploy follows the graph (`stackGraph`). */
export const STACKS: readonly StackDef[] = [
  {
    id: "network",
    summary: "VPC, 2 public + 2 private subnets, NAT gateway, S3 gateway endpoint, security groups",
    params: {
      Prefix: PREFIX,
      SubnetBits: { from: "subnetBits" },
      AvailabilityZone1: { from: "zone", index: 0 },
      AvailabilityZone2: { from: "zone", index: 1 },
    },
    config: {},
    buckets: [],
    createMinutes: 3,
  },
  {
    id: "lake",
    summary: "lake bucket (private, encrypted, TLS only), Databricks lake-reader role",
    params: { Prefix: PREFIX },
    config: { BucketName: "bucket", LakeReaderRoleArn: "lakeReaderRoleArn" },
    buckets: ["BucketName"],
    createMinutes: 1,
  },
  {
    id: "msk",
    summary: "MSK cluster, IAM auth over TLS (2 x kafka.t3.small, or serverless)",
    params: {
      Prefix: PREFIX,
      SubnetIds: out("network", "PrivateSubnetIds"),
      BrokerSecurityGroupId: out("network", "BrokerSecurityGroupId"),
      ClusterSuffix: {
        from: "hash",
        resource: "Cluster",
        properties: [
          "BrokerNodeGroupInfo/BrokerAZDistribution",
          "BrokerNodeGroupInfo/ClientSubnets",
          "BrokerNodeGroupInfo/SecurityGroups",
          "EncryptionInfo/EncryptionAtRest",
          "EncryptionInfo/EncryptionInTransit/InCluster",
        ],
      },
      ServerlessSuffix: {
        from: "hash",
        resource: "ServerlessCluster",
        properties: ["ClientAuthentication", "Tags", "VpcConfigs"],
      },
    },
    config: { ClusterArn: "clusterArn", ConnectReplicationFactor: "connectReplicationFactor" },
    buckets: [],
    createMinutes: 20,
  },
  {
    id: "client",
    summary: "EC2 REST-proxy host (kafka-rest as a systemd service, Kafka tools, SSM)",
    params: {
      Prefix: PREFIX,
      SubnetId: out("network", "PrivateSubnet1Id"),
      SecurityGroupIds: out("network", "RestProxyHostSecurityGroupIds"),
      ClusterArn: out("msk", "ClusterArn"),
      BootstrapBrokers: { from: "bootstrap" },
      ReplicationFactor: out("msk", "ReplicationFactor"),
      RestProxyProperties: { from: "restProxyProperties" },
      ImageId: { from: "pinned", output: "ImageId" },
    },
    config: { InstanceId: "restProxyInstanceId", RestProxyUrl: "restProxyUrl" },
    buckets: [],
    createMinutes: 7,
  },
  {
    id: "connect",
    summary: "MSK Connect S3 sink (custom plugin, JSON worker configuration, connector, role)",
    params: {
      Prefix: PREFIX,
      BucketName: out("lake", "BucketName"),
      PluginKey: { from: "plugin" },
      ClusterArn: out("msk", "ClusterArn"),
      BootstrapBrokers: { from: "bootstrap" },
      SubnetIds: out("network", "PrivateSubnetIds"),
      SecurityGroupId: out("network", "KafkaClientSecurityGroupId"),
      ReplicationFactor: out("msk", "ConnectReplicationFactor"),
      PluginSuffix: {
        from: "hash",
        resource: "Plugin",
        properties: ["ContentType", "Description", "Location"],
      },
      WorkerSuffix: {
        from: "hash",
        resource: "WorkerConfiguration",
        properties: ["Description", "PropertiesFileContent"],
      },
      ConnectorSuffix: {
        from: "hash",
        resource: "Connector",
        properties: [
          "ConnectorDescription",
          "KafkaCluster",
          "KafkaClusterClientAuthentication",
          "KafkaClusterEncryptionInTransit",
          "KafkaConnectVersion",
          "LogDelivery",
          "NetworkType",
          "Plugins",
          "ServiceExecutionRoleArn",
          "WorkerConfiguration",
        ],
      },
    },
    config: {
      ConnectorName: "connectorName",
      ConnectorArn: "connectorArn",
      ExecutionRoleArn: "connectorRoleArn",
      LogGroupName: "connectorLogGroup",
    },
    buckets: [],
    createMinutes: 8,
  },
  {
    id: "api",
    summary: "API Gateway REST API ({proxy+} to the REST proxy via VPC link), API key, usage plan",
    params: {
      Prefix: PREFIX,
      VpcId: out("network", "VpcId"),
      SubnetIds: out("network", "PrivateSubnetIds"),
      InstanceId: out("client", "InstanceId"),
    },
    config: { InvokeUrl: "apiInvokeUrl", ApiKeyId: "apiKeyId" },
    buckets: [],
    createMinutes: 6,
  },
  {
    id: "mwaa",
    summary: "MWAA environment, DAG bucket, execution role, Databricks connection secret",
    params: {
      Prefix: PREFIX,
      SubnetIds: out("network", "PrivateSubnetIds"),
      SecurityGroupId: out("network", "MwaaSecurityGroupId"),
      Requirements: { from: "requirements" },
      BucketName: out("lake", "BucketName"),
      EnvironmentSuffix: {
        from: "hash",
        resource: "Environment",
        properties: ["EndpointManagement", "KmsKey", "NetworkConfiguration/SubnetIds"],
      },
    },
    config: {
      EnvironmentName: "mwaaEnvironment",
      WebserverUrl: "mwaaWebserverUrl",
      DagBucketName: "dagBucket",
      DatabricksConnectionSecretArn: "databricksSecretArn",
    },
    buckets: ["DagBucketName"],
    createMinutes: 25,
  },
];

/** The stack ids, in display order. */
export const STACK_IDS: readonly StackId[] = STACKS.map((s) => s.id);

/** The definition of stack `id`. */
export function stackDef(id: StackId): StackDef {
  const def = STACKS.find((s) => s.id === id);
  if (!def) throw new Error(`Cannot find stack "${id}": known stacks are ${STACK_IDS.join(", ")}`);
  return def;
}

/** Why `prefix` cannot start stack, bucket and cluster names, or undefined. */
export function stackPrefixProblem(prefix: string): string | undefined {
  return /^[a-z][a-z0-9-]{0,19}$/.test(prefix)
    ? undefined
    : "stack, bucket and cluster names need 1-20 lowercase letters, digits or dashes, starting with a letter";
}

/** Why `region` is not an AWS region's name, or undefined. */
export function regionProblem(region: string): string | undefined {
  return /^[a-z]{2}(-[a-z]+)+-\d$/.test(region) ? undefined : "expected a region such as us-east-1";
}

/** The CloudFormation stack name of `id` under `prefix`: `<prefix>-<id>`. */
export function stackName(prefix: string, id: StackId): string {
  return `${prefix}-${id}`;
}

/**
 * Host bits of each of the network stack's four subnets for a VPC of `vpcCidr`: /20
 * subnets while four fit (a /16 to /18), else a quarter of the VPC (/21 in a /19, /22 in a
 * /20), since `Fn::Cidr [cidr, 4, 12]` cannot split a /19 or a /20 into four.
 */
export function subnetBits(vpcCidr: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(vpcCidr.trim());
  const len = m ? Number(m[5]) : NaN;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || !(len >= 16 && len <= 20)) {
    throw new Error(`Invalid VPC range "${vpcCidr}": expected an IPv4 block from /16 to /20`);
  }
  return Math.min(12, 32 - len - 2);
}

/** A CloudFormation template in its JSON form (short tags already expanded). */
export type Template = Record<string, unknown> & {
  Parameters?: Record<string, Record<string, unknown>>;
  Resources?: Record<string, Record<string, unknown>>;
  Outputs?: Record<string, Record<string, unknown>>;
  Conditions?: Record<string, unknown>;
};

const SHORT_TAGS = [
  "Ref",
  "Condition",
  "Base64",
  "Cidr",
  "FindInMap",
  "GetAtt",
  "GetAZs",
  "ImportValue",
  "Join",
  "Select",
  "Split",
  "Sub",
  "Transform",
  "And",
  "Equals",
  "If",
  "Not",
  "Or",
  "Length",
  "ToJsonString",
];

type TagNode = { toJSON(): unknown };
type CustomTag = {
  tag: string;
  collection?: "map" | "seq";
  resolve: (value: unknown) => unknown;
};

/** yaml custom tags turning `!Sub x` into `{"Fn::Sub": x}` (and `!Ref x` into `{Ref: x}`). */
const CFN_TAGS: CustomTag[] = SHORT_TAGS.flatMap((name) => {
  const key = name === "Ref" || name === "Condition" ? name : `Fn::${name}`;
  const scalar = (v: unknown) => {
    // `!GetAtt Res.Attr.Sub` is `[Res, "Attr.Sub"]`: only the first dot separates.
    if (name === "GetAtt" && typeof v === "string") {
      const dot = v.indexOf(".");
      return { [key]: dot < 0 ? [v] : [v.slice(0, dot), v.slice(dot + 1)] };
    }
    return { [key]: v };
  };
  const collection = (v: unknown) => ({ [key]: (v as TagNode).toJSON() });
  return [
    { tag: `!${name}`, resolve: scalar },
    { tag: `!${name}`, collection: "seq" as const, resolve: collection },
    { tag: `!${name}`, collection: "map" as const, resolve: collection },
  ];
});

/** Parses a YAML (or JSON) template, expanding the short intrinsic tags; throws on any problem. */
export function parseTemplate(text: string, file = "template"): Template {
  const doc = parseDocument(text, { customTags: CFN_TAGS, uniqueKeys: true, prettyErrors: false });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message.split("\n")[0]);
  if (problems.length) {
    throw new Error(`Cannot parse template "${file}": ${problems.join("; ")}`);
  }
  const value = doc.toJS({ maxAliasCount: 0 });
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`Cannot parse template "${file}": the document is not a mapping`);
  }
  if (typeof (value as Template).Resources !== "object") {
    throw new Error(`Cannot parse template "${file}": it has no Resources section`);
  }
  return value as Template;
}

/** Reads `infra/<id>.yaml` (from disk or, when the task runs from a URL, over HTTP). */
export async function loadTemplate(id: StackId): Promise<Template> {
  const url = new URL(`../../infra/${id}.yaml`, import.meta.url);
  return parseTemplate(await fetchText(url), `infra/${id}.yaml`);
}

/** dags/requirements.txt, which the mwaa stack writes into the DAG bucket. */
export function loadRequirements(): Promise<string> {
  return fetchText(new URL("../../dags/requirements.txt", import.meta.url));
}

async function fetchText(url: URL): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`Cannot read "${url.href}"`, { cause: err });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Cannot read "${url.href}": HTTP ${res.status}`);
  }
  return await res.text();
}

/** JSON with object keys sorted, so equal values hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${
      Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(value);
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 5)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** `value` with every reference to resource `from` pointed at `to` (Ref, GetAtt, Sub, DependsOn). */
function renameRefs(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameRefs(v, from, to));
  if (!value || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === "Ref" && v === from) result[k] = to;
    else if (k === "Fn::GetAtt" && Array.isArray(v) && v[0] === from) {
      result[k] = [to, ...v.slice(1)];
    } else if (k === "DependsOn") {
      result[k] = Array.isArray(v) ? v.map((d) => d === from ? to : d) : v === from ? to : v;
    } else if (k === "Fn::Sub") {
      const swap = (s: unknown) =>
        typeof s === "string"
          ? s.replace(/\$\{([^!}][^}]*)\}/g, (m, name: string) => {
            const [head, ...rest] = name.trim().split(".");
            return head === from ? `\${${[to, ...rest].join(".")}}` : m;
          })
          : s;
      result[k] = Array.isArray(v)
        ? [swap(v[0]), ...v.slice(1).map((x) => renameRefs(x, from, to))]
        : swap(v);
    } else result[k] = renameRefs(v, from, to);
  }
  return result;
}

/**
 * The template as deploy sends it: every `AWS::ApiGateway::Deployment` renamed after a
 * hash of the API's methods and resources, so CloudFormation creates a new deployment (and
 * the stage moves to it) whenever they change, and keeps the old one when they do not.
 */
export async function renderTemplate(template: Template): Promise<Template> {
  const resources = template.Resources ?? {};
  const apiParts = Object.entries(resources)
    .filter(([, r]) => /^AWS::ApiGateway::(Method|Resource|RestApi|VpcLink)$/.test(String(r.Type)))
    .sort(([a], [b]) => a.localeCompare(b));
  let rendered: Template = template;
  for (const [id, res] of Object.entries(resources)) {
    if (res.Type !== "AWS::ApiGateway::Deployment") continue;
    const hash = await shortHash(canonical([apiParts, res]));
    const newId = `${id}${hash}`;
    const renamed = renameRefs(rendered, id, newId) as Template;
    const entries = Object.entries(renamed.Resources ?? {}).map(([k, v]) =>
      k === id ? [newId, v] as const : [k, v] as const
    );
    rendered = { ...renamed, Resources: Object.fromEntries(entries) };
  }
  return rendered;
}

/** The largest template body CloudFormation takes inline, in bytes (UTF-8, not characters). */
export const TEMPLATE_BODY_LIMIT = 51_200;

/** The size CloudFormation counts a template body in: UTF-8 bytes. */
export function templateBytes(body: string): number {
  return new TextEncoder().encode(body).length;
}

/** Every `Fn::ImportValue` name in `value` (names built with Sub are kept as their pattern). */
function importNames(value: unknown, names: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => importNames(v, names));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === "Fn::ImportValue") {
        const name = exportKey(v);
        if (name !== undefined) names.push(name);
      } else importNames(v, names);
    }
  }
  return names;
}

function exportKey(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  const sub = (v as Record<string, unknown> | null)?.["Fn::Sub"];
  return typeof sub === "string" ? sub : undefined;
}

/** The export names a template's Outputs declare, as ImportValue compares them. */
export function exportNames(t: Template): string[] {
  return Object.values(t.Outputs ?? {}).flatMap((o) => {
    const name = exportKey((o.Export as Record<string, unknown> | undefined)?.Name);
    return name === undefined ? [] : [name];
  });
}

/** The stacks a parameter source reads from. */
function sourceStacks(src: ParamSource): StackId[] {
  switch (src.from) {
    case "output":
      return [src.stack];
    case "bootstrap":
    case "restProxyProperties":
      return ["msk"];
    case "plugin":
      return ["lake"];
    default:
      return [];
  }
}

/**
 * Which stacks each stack needs up before it: those whose outputs (or the values deploy
 * derives from them: bootstrap brokers, the plugin key) its parameters take, and those
 * exporting a name its template imports. Throws on a cycle.
 */
export function stackGraph(
  templates: Map<StackId, Template>,
  defs: readonly StackDef[] = STACKS,
): Map<StackId, StackId[]> {
  const exporters = new Map<string, StackId>();
  for (const def of defs) {
    for (const name of exportNames(templates.get(def.id) ?? {})) exporters.set(name, def.id);
  }
  const graph = new Map<StackId, StackId[]>();
  for (const def of defs) {
    const needs = new Set<StackId>(Object.values(def.params).flatMap(sourceStacks));
    for (const name of importNames(templates.get(def.id)?.Resources)) {
      const from = exporters.get(name);
      if (from && from !== def.id) needs.add(from);
    }
    needs.delete(def.id);
    graph.set(def.id, [...needs]);
  }
  deployWaves(graph);
  return graph;
}

/**
 * The graph in waves: each wave's stacks need only stacks of earlier waves, so a wave's
 * stacks can go up together. Throws when some stacks need each other.
 */
export function deployWaves(graph: Map<StackId, StackId[]>): StackId[][] {
  const waves: StackId[][] = [];
  const placed = new Set<StackId>();
  while (placed.size < graph.size) {
    const wave = [...graph.keys()].filter((id) =>
      !placed.has(id) && graph.get(id)!.every((d) => placed.has(d) || !graph.has(d))
    );
    if (!wave.length) {
      const stuck = [...graph.keys()].filter((id) => !placed.has(id));
      throw new Error(`Cannot order the stacks: ${stuck.join(", ")} need each other`);
    }
    wave.forEach((id) => placed.add(id));
    waves.push(wave);
  }
  return waves;
}

/**
 * The minutes a first deploy of `ids` takes when each stack starts as soon as the stacks it
 * needs are up: the longest chain of `createMinutes` through the graph.
 */
export function firstDeployMinutes(
  graph: Map<StackId, StackId[]>,
  ids: readonly StackId[] = [...graph.keys()],
  defs: readonly StackDef[] = STACKS,
): number {
  const done = new Map<StackId, number>();
  const finish = (id: StackId): number => {
    if (done.has(id)) return done.get(id)!;
    const own = defs.find((d) => d.id === id)?.createMinutes ?? 0;
    const start = Math.max(0, ...(graph.get(id) ?? []).filter((d) => ids.includes(d)).map(finish));
    done.set(id, start + own);
    return start + own;
  };
  return Math.max(0, ...ids.map(finish));
}

/**
 * What is wrong with how deploy wires the templates together: a parameter deploy passes that
 * the template does not declare, an output read that the source stack does not declare, a
 * parameter without default that nobody passes, an import nobody exports. Empty when fine.
 */
export function checkWiring(
  templates: Map<StackId, Template>,
  defs: readonly StackDef[] = STACKS,
): string[] {
  const problems: string[] = [];
  const exported = new Set(defs.flatMap((d) => exportNames(templates.get(d.id) ?? {})));
  for (const def of defs) {
    const file = `infra/${def.id}.yaml`;
    const t = templates.get(def.id);
    if (!t) {
      problems.push(`${file}: no template for stack "${def.id}"`);
      continue;
    }
    const params = t.Parameters ?? {};
    for (const [name, src] of Object.entries(def.params)) {
      if (!(name in params)) {
        problems.push(`${file}: deploy passes "${name}", which is not a parameter of the template`);
      }
      if (src.from === "output" && !(src.output in (templates.get(src.stack)?.Outputs ?? {}))) {
        problems.push(
          `${file}: parameter "${name}" comes from output "${src.output}", which stack "${src.stack}" does not declare`,
        );
      }
      if (src.from === "pinned" && !(src.output in (t.Outputs ?? {}))) {
        problems.push(
          `${file}: parameter "${name}" is pinned to output "${src.output}", which the template does not declare`,
        );
      }
    }
    for (const [name, p] of Object.entries(params)) {
      if (p.Default === undefined && !(name in def.params)) {
        problems.push(`${file}: parameter "${name}" has no default and deploy does not pass it`);
      }
    }
    for (const output of [...Object.keys(def.config), ...def.buckets]) {
      if (!(output in (t.Outputs ?? {}))) {
        problems.push(
          `${file}: deploy reads output "${output}", which the template does not declare`,
        );
      }
    }
    for (const name of importNames(t.Resources)) {
      if (!exported.has(name)) {
        problems.push(`${file}: ImportValue "${name}" is not exported by any other stack`);
      }
    }
  }
  try {
    stackGraph(templates, defs);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

/** The parameters and resources `value` refers to (Ref, GetAtt, Sub), by the names `t` declares. */
export function references(
  t: Template,
  value: unknown,
  found: { params: Set<string>; resources: Set<string> } = {
    params: new Set(),
    resources: new Set(),
  },
): { params: Set<string>; resources: Set<string> } {
  const note = (name: string) => {
    const head = name.split(".")[0];
    if (t.Parameters && head in t.Parameters) found.params.add(head);
    else if (t.Resources && head in t.Resources) found.resources.add(head);
  };
  const subVars = (text: string, local: Record<string, unknown>) => {
    for (const m of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
      if (!(m[1].trim() in local)) note(m[1].trim());
    }
  };
  if (Array.isArray(value)) value.forEach((v) => references(t, v, found));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === "Ref" && typeof v === "string") note(v);
      else if (k === "Fn::GetAtt" && Array.isArray(v)) note(String(v[0]));
      else if (k === "Fn::Sub" && typeof v === "string") subVars(v, {});
      else if (k === "Fn::Sub" && Array.isArray(v)) {
        const local = (v[1] ?? {}) as Record<string, unknown>;
        subVars(String(v[0]), local);
        references(t, local, found);
      } else references(t, v, found);
    }
  }
  return found;
}

/** The value at `path` (`A/B/C`) of a resource's Properties, or undefined. */
export function propertyAt(props: Record<string, unknown>, path: string): unknown {
  let v: unknown = props;
  for (const part of path.split("/")) {
    if (!v || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Each resource with a name hash in `def`, by resource id: the hash parameter's name. */
export function hashParams(def: StackDef): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, src] of Object.entries(def.params)) {
    if (src.from === "hash") out[src.resource] = name;
  }
  return out;
}

/**
 * What the name hash of `resource` covers: the parameters its hashed `properties` use, and
 * the hash parameters of the resources they refer to that carry one (a renamed resource gets
 * a new ARN, so what refers to it by a create-only property is replaced too).
 */
export function hashInputs(
  t: Template,
  def: StackDef,
  resource: string,
  properties: string[],
): string[] {
  const props = (t.Resources?.[resource]?.Properties ?? {}) as Record<string, unknown>;
  const found = references(t, properties.map((p) => propertyAt(props, p)));
  const hashed = hashParams(def);
  const inputs = new Set(found.params);
  for (const r of found.resources) if (hashed[r] && r !== resource) inputs.add(hashed[r]);
  return [...inputs].sort();
}

/**
 * The name suffix of `resource`: `-` and a hash of its hashed properties as the template
 * writes them and the values (`valueOf`) of the parameters they use.
 */
export async function nameHash(
  t: Template,
  def: StackDef,
  resource: string,
  properties: string[],
  valueOf: (param: string) => string | undefined,
): Promise<string> {
  const props = (t.Resources?.[resource]?.Properties ?? {}) as Record<string, unknown>;
  const inputs = hashInputs(t, def, resource, properties);
  const text = canonical({
    properties: properties.map((p) => [p, propertyAt(props, p) ?? null]),
    values: inputs.map((p) => [p, valueOf(p) ?? null]),
  });
  return `-${await shortHash(text)}`;
}
