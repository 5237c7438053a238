/**
 * The AWS stacks pinpipe deploys: one CloudFormation template per stack in `infra/`, the
 * order they go up in, where each stack's parameters come from (options, outputs of earlier
 * stacks, values deploy works out between stacks), and which outputs end up in
 * `.pinpipe/aws.json`. Also reading a template (YAML with the short intrinsic tags) into the
 * long JSON form CloudFormation takes.
 * @module
 */
import { parseDocument } from "./deps/yaml.ts";

/** A stack, by its short name (the file `infra/<name>.yaml`). */
export type StackId = "network" | "lake" | "msk" | "client" | "connect" | "api" | "mwaa";

/** Where one parameter's value comes from. */
export type ParamSource =
  /** The topic and resource prefix. */
  | { from: "prefix" }
  /** An output of a stack earlier in the order. */
  | { from: "output"; stack: StackId; output: string }
  /** The SASL/IAM bootstrap brokers of the msk stack's cluster (GetBootstrapBrokers). */
  | { from: "bootstrap" }
  /** The S3 key of the connector plugin zip, uploaded to the lake bucket by deploy. */
  | { from: "plugin" }
  /** The text of dags/requirements.txt. */
  | { from: "requirements" };

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
}

const out = (stack: StackId, output: string): ParamSource => ({ from: "output", stack, output });
const PREFIX: ParamSource = { from: "prefix" };

/** Every stack, in the order they are created (and the reverse of the order they are deleted). */
export const STACKS: readonly StackDef[] = [
  {
    id: "network",
    summary: "VPC, 2 public + 2 private subnets, NAT gateway, S3 gateway endpoint, security groups",
    params: { Prefix: PREFIX },
    config: {},
    buckets: [],
  },
  {
    id: "lake",
    summary: "lake bucket (private, encrypted, TLS only)",
    params: { Prefix: PREFIX },
    config: { BucketName: "bucket" },
    buckets: ["BucketName"],
  },
  {
    id: "msk",
    summary: "MSK cluster, IAM auth over TLS (2 x kafka.t3.small, or serverless)",
    params: {
      Prefix: PREFIX,
      SubnetIds: out("network", "PrivateSubnetIds"),
      BrokerSecurityGroupId: out("network", "BrokerSecurityGroupId"),
    },
    config: { ClusterArn: "clusterArn" },
    buckets: [],
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
    },
    config: { InstanceId: "restProxyInstanceId", RestProxyUrl: "restProxyUrl" },
    buckets: [],
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
    },
    config: {
      ConnectorName: "connectorName",
      ConnectorArn: "connectorArn",
      ExecutionRoleArn: "connectorRoleArn",
      LogGroupName: "connectorLogGroup",
    },
    buckets: [],
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
  },
  {
    id: "mwaa",
    summary: "MWAA environment, DAG bucket, execution role, Databricks connection secret",
    params: {
      Prefix: PREFIX,
      SubnetIds: out("network", "PrivateSubnetIds"),
      SecurityGroupId: out("network", "MwaaSecurityGroupId"),
      Requirements: { from: "requirements" },
    },
    config: {
      EnvironmentName: "mwaaEnvironment",
      WebserverUrl: "mwaaWebserverUrl",
      DagBucketName: "dagBucket",
      DatabricksConnectionSecretArn: "databricksSecretArn",
    },
    buckets: ["DagBucketName"],
  },
];

/** The stack ids, in order. */
export const STACK_IDS: readonly StackId[] = STACKS.map((s) => s.id);

/** The definition of stack `id`. */
export function stackDef(id: StackId): StackDef {
  const def = STACKS.find((s) => s.id === id);
  if (!def) throw new Error(`Cannot find stack "${id}": known stacks are ${STACK_IDS.join(", ")}`);
  return def;
}

/** The CloudFormation stack name of `id` under `prefix`: `<prefix>-<id>`. */
export function stackName(prefix: string, id: StackId): string {
  return `${prefix}-${id}`;
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
  const url = new URL(`../infra/${id}.yaml`, import.meta.url);
  return parseTemplate(await fetchText(url), `infra/${id}.yaml`);
}

/** dags/requirements.txt, which the mwaa stack writes into the DAG bucket. */
export function loadRequirements(): Promise<string> {
  return fetchText(new URL("../dags/requirements.txt", import.meta.url));
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
