/**
 * Offline validation of pinpipe's CloudFormation templates, for tests, CI and
 * `deploy --dry-run`: every resource type and property exists in the CloudFormation resource
 * specification (npm:@aws-cdk/cfnspec, plus the two MSK Connect types it predates), required
 * properties are present, every Ref / GetAtt / Sub variable / Condition / DependsOn /
 * ImportValue points at something that exists, parameters and outputs are documented, and no
 * IAM statement allows an action that could be scoped on `"Resource": "*"`. Across stacks,
 * `validateWiring` checks that deploy's wiring (lib/stacks.ts) names real parameters and
 * outputs of earlier stacks.
 * @module
 */
import { specification } from "./deps/cfnspec.ts";
import type { StackDef, StackId, Template } from "./stacks.ts";

/** A property in the resource specification. */
export interface PropSpec {
  Required?: boolean;
  PrimitiveType?: string;
  Type?: string;
  ItemType?: string;
  PrimitiveItemType?: string;
}

/** A resource type in the resource specification. */
export interface ResourceSpec {
  Properties?: Record<string, PropSpec>;
  Attributes?: Record<string, unknown>;
}

/** The parts of the resource specification the validator reads. */
export interface CfnSpec {
  ResourceTypes: Record<string, ResourceSpec>;
  PropertyTypes: Record<string, { Properties?: Record<string, PropSpec>; PrimitiveType?: string }>;
}

const S = (required = false): PropSpec => ({ PrimitiveType: "String", Required: required });
const TAGS: PropSpec = { Type: "List", ItemType: "Tag" };

/**
 * What is newer than the last @aws-cdk/cfnspec (2.72.1): the types AWS::KafkaConnect::
 * CustomPlugin and ::WorkerConfiguration, and AWS::EC2::Instance's MetadataOptions,
 * transcribed from their CloudFormation resource provider schemas (the same schemas
 * cfn-lint ships). Entries for existing types add to them.
 */
export const SPEC_SUPPLEMENT: CfnSpec = {
  ResourceTypes: {
    "AWS::KafkaConnect::CustomPlugin": {
      Attributes: {
        CustomPluginArn: {},
        Revision: {},
        "FileDescription.FileMd5": {},
        "FileDescription.FileSize": {},
      },
      Properties: {
        ContentType: S(true),
        Description: S(),
        Location: { Type: "CustomPluginLocation", Required: true },
        Name: S(true),
        Tags: TAGS,
      },
    },
    "AWS::KafkaConnect::WorkerConfiguration": {
      Attributes: { WorkerConfigurationArn: {}, Revision: {} },
      Properties: { Description: S(), Name: S(true), PropertiesFileContent: S(true), Tags: TAGS },
    },
    "AWS::EC2::Instance": { Properties: { MetadataOptions: { Type: "MetadataOptions" } } },
  },
  PropertyTypes: {
    "AWS::KafkaConnect::CustomPlugin.CustomPluginLocation": {
      Properties: { S3Location: { Type: "S3Location", Required: true } },
    },
    "AWS::KafkaConnect::CustomPlugin.S3Location": {
      Properties: { BucketArn: S(true), FileKey: S(true), ObjectVersion: S() },
    },
    "AWS::EC2::Instance.MetadataOptions": {
      Properties: {
        HttpEndpoint: S(),
        HttpProtocolIpv6: S(),
        HttpPutResponseHopLimit: { PrimitiveType: "Integer" },
        HttpTokens: S(),
        InstanceMetadataTags: S(),
      },
    },
  },
};

let cachedSpec: CfnSpec | undefined;

/** The resource specification with the supplement merged in (built once). */
export function loadSpec(): CfnSpec {
  if (!cachedSpec) {
    const base = specification() as unknown as CfnSpec;
    const types = { ...base.ResourceTypes };
    for (const [name, extra] of Object.entries(SPEC_SUPPLEMENT.ResourceTypes)) {
      const have = types[name] ?? {};
      types[name] = {
        Properties: { ...have.Properties, ...extra.Properties },
        Attributes: { ...have.Attributes, ...extra.Attributes },
      };
    }
    cachedSpec = {
      ResourceTypes: types,
      PropertyTypes: { ...base.PropertyTypes, ...SPEC_SUPPLEMENT.PropertyTypes },
    };
  }
  return cachedSpec;
}

const PSEUDO = new Set([
  "AWS::AccountId",
  "AWS::NotificationARNs",
  "AWS::NoValue",
  "AWS::Partition",
  "AWS::Region",
  "AWS::StackId",
  "AWS::StackName",
  "AWS::URLSuffix",
]);

const FUNCTIONS = new Set([
  "Fn::And",
  "Fn::Base64",
  "Fn::Cidr",
  "Fn::Equals",
  "Fn::FindInMap",
  "Fn::GetAtt",
  "Fn::GetAZs",
  "Fn::If",
  "Fn::ImportValue",
  "Fn::Join",
  "Fn::Length",
  "Fn::Not",
  "Fn::Or",
  "Fn::Select",
  "Fn::Split",
  "Fn::Sub",
  "Fn::ToJsonString",
  "Fn::Transform",
]);

const TOP_LEVEL = new Set([
  "AWSTemplateFormatVersion",
  "Description",
  "Metadata",
  "Parameters",
  "Mappings",
  "Conditions",
  "Transform",
  "Resources",
  "Outputs",
  "Rules",
]);

const RESOURCE_KEYS = new Set([
  "Type",
  "Properties",
  "DependsOn",
  "Condition",
  "Metadata",
  "DeletionPolicy",
  "UpdateReplacePolicy",
  "CreationPolicy",
  "UpdatePolicy",
]);

const PARAM_TYPES =
  /^(String|Number|List<Number>|CommaDelimitedList|AWS::EC2::[A-Za-z]+::[A-Za-z]+(::[A-Za-z]+)?|List<AWS::EC2::[A-Za-z]+::[A-Za-z]+(::[A-Za-z]+)?>|AWS::Route53::HostedZone::Id|List<AWS::Route53::HostedZone::Id>|AWS::SSM::Parameter::(Name|Value<.+>))$/;

/**
 * Actions that support no resource-level permissions, so `"Resource": "*"` is the only way
 * to grant them. Any other action on `*` could be scoped and is reported.
 */
export const UNSCOPABLE_ACTIONS = new Set([
  "cloudwatch:putmetricdata",
  "logs:describeloggroups",
  "s3:getaccountpublicaccessblock",
  "s3:listallmybuckets",
  "sts:getcalleridentity",
  "ec2:describenetworkinterfaces",
  "ec2:describevpcs",
  "ec2:describesubnets",
  "ec2:describesecuritygroups",
  "ec2:createnetworkinterface",
  "kafka:listclusters",
  "xray:puttracesegments",
  "xray:puttelemetryrecords",
]);

/** Names a template may refer to. */
interface Scope {
  params: Set<string>;
  resources: Map<string, string>;
  conditions: Set<string>;
  mappings: Set<string>;
}

/** Options for `validateTemplate`. */
export interface ValidateOptions {
  /** Shown in front of every problem. */
  file?: string;
  spec?: CfnSpec;
  /** Export names of the other stacks (normalised, see `exportNames`); ImportValue must hit one. */
  exports?: Set<string>;
}

/** A JSON-ish object (not an array, not null). */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The intrinsic function `v` is, if it is one (`Ref`, `Fn::*`, `Condition`). */
function intrinsic(v: unknown): string | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const k = keys[0];
  return k === "Ref" || k === "Condition" || k.startsWith("Fn::") ? k : undefined;
}

/** The `${…}` variables of a Sub string (not the `${!Literal}` escapes). */
export function subVariables(text: string): string[] {
  return [...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1].trim()).filter((v) =>
    !v.startsWith("!")
  );
}

/** Checks one template; returns every problem found (empty when it is valid). */
export function validateTemplate(t: Template, opts: ValidateOptions = {}): string[] {
  const spec = opts.spec ?? loadSpec();
  const file = opts.file ?? "template";
  const problems: string[] = [];
  const problem = (path: string, msg: string) => problems.push(`${file}: ${path}: ${msg}`);

  for (const key of Object.keys(t)) {
    if (!TOP_LEVEL.has(key)) problem(key, `unknown top-level section "${key}"`);
  }
  if (typeof t.Description !== "string") problem("Description", "the template has no description");

  const resources = isObject(t.Resources) ? t.Resources : {};
  const scope: Scope = {
    params: new Set(Object.keys(t.Parameters ?? {})),
    resources: new Map(Object.entries(resources).map(([k, v]) => [k, String(v?.Type)])),
    conditions: new Set(Object.keys(t.Conditions ?? {})),
    mappings: new Set(Object.keys(isObject(t.Mappings) ? t.Mappings : {})),
  };
  for (const name of scope.params) {
    if (scope.resources.has(name)) problem(`Parameters.${name}`, "a resource has the same name");
  }

  checkParameters(t, problem);
  const used = new Set<string>();
  checkRefs(t, scope, spec, opts.exports, used, problem);
  for (const name of scope.params) {
    if (!used.has(name)) problem(`Parameters.${name}`, "declared but never used");
  }

  if (Object.keys(resources).length === 0) {
    problem("Resources", "the template declares no resources");
  }
  for (const [id, res] of Object.entries(resources)) {
    const path = `Resources.${id}`;
    if (!/^[A-Za-z0-9]+$/.test(id)) problem(path, "logical ids must be alphanumeric");
    if (!isObject(res)) {
      problem(path, "a resource must be a mapping");
      continue;
    }
    for (const key of Object.keys(res)) {
      if (!RESOURCE_KEYS.has(key)) problem(`${path}.${key}`, `unknown resource attribute "${key}"`);
    }
    const type = String(res.Type ?? "");
    if (!type) {
      problem(path, "the resource has no Type");
      continue;
    }
    if (res.Properties !== undefined && !isObject(res.Properties)) {
      problem(`${path}.Properties`, "Properties must be a mapping");
      continue;
    }
    const props = (res.Properties ?? {}) as Record<string, unknown>;
    if (type.startsWith("Custom::") || type === "AWS::CloudFormation::CustomResource") {
      if (props.ServiceToken === undefined) problem(path, "a custom resource needs a ServiceToken");
      continue;
    }
    const rspec = spec.ResourceTypes[type];
    if (!rspec) {
      problem(
        `${path}.Type`,
        `"${type}" is not a resource type in the CloudFormation specification`,
      );
      continue;
    }
    checkProperties(type, props, rspec.Properties ?? {}, spec, `${path}.Properties`, problem);
  }

  const outputs = isObject(t.Outputs) ? t.Outputs : {};
  for (const [name, o] of Object.entries(outputs)) {
    if (!isObject(o) || o.Value === undefined) {
      problem(`Outputs.${name}`, "the output has no Value");
    }
    if (!isObject(o) || typeof o.Description !== "string" || !o.Description) {
      problem(`Outputs.${name}`, "the output has no Description");
    }
  }

  checkPolicies(resources, problem);
  return problems;
}

function checkParameters(t: Template, problem: (path: string, msg: string) => void): void {
  for (const [name, p] of Object.entries(t.Parameters ?? {})) {
    const path = `Parameters.${name}`;
    if (!PARAM_TYPES.test(String(p.Type))) problem(path, `unknown parameter type "${p.Type}"`);
    if (typeof p.Description !== "string" || !p.Description) {
      problem(path, "the parameter has no Description");
    }
    const def = p.Default;
    if (def === undefined) continue;
    if (Array.isArray(p.AllowedValues) && !p.AllowedValues.map(String).includes(String(def))) {
      problem(path, `the default "${def}" is not one of its AllowedValues`);
    }
    if (typeof p.AllowedPattern === "string" && String(p.Type) === "String") {
      if (!new RegExp(`^(?:${p.AllowedPattern})$`).test(String(def))) {
        problem(path, `the default "${def}" does not match its AllowedPattern`);
      }
    }
  }
}

function checkRefs(
  t: Template,
  scope: Scope,
  spec: CfnSpec,
  exports: Set<string> | undefined,
  used: Set<string>,
  problem: (path: string, msg: string) => void,
): void {
  const known = (name: string) =>
    scope.params.has(name) || scope.resources.has(name) || PSEUDO.has(name);
  const checkAtt = (path: string, res: string, att: string) => {
    const type = scope.resources.get(res);
    if (!type) return problem(path, `GetAtt of "${res}", which is not a resource`);
    if (type.startsWith("Custom::") || type === "AWS::CloudFormation::CustomResource") return;
    if (type === "AWS::CloudFormation::Stack" && att.startsWith("Outputs.")) return;
    const attrs = spec.ResourceTypes[type]?.Attributes ?? {};
    if (!(att in attrs)) {
      problem(
        path,
        `"${type}" has no attribute "${att}" (it has: ${Object.keys(attrs).join(", ") || "none"})`,
      );
    }
  };
  const checkCondition = (path: string, name: unknown) => {
    if (typeof name === "string" && !scope.conditions.has(name)) {
      problem(path, `condition "${name}" is not declared`);
    }
  };

  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (!isObject(v)) return;
    const fn = intrinsic(v);
    if (fn === "Ref") {
      const name = v.Ref;
      if (typeof name !== "string") return problem(path, "Ref takes a name");
      if (!known(name)) {
        problem(path, `Ref to "${name}", which is not a parameter, resource or pseudo parameter`);
      }
      used.add(name);
      return;
    }
    if (fn === "Condition") return checkCondition(path, v.Condition);
    if (fn === "Fn::GetAtt") {
      const arg = v["Fn::GetAtt"];
      if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== "string") {
        return problem(path, "GetAtt takes [resource, attribute]");
      }
      if (typeof arg[1] === "string") checkAtt(path, arg[0], arg[1]);
      else walk(arg[1], `${path}.Fn::GetAtt[1]`);
      return;
    }
    if (fn === "Fn::Sub") {
      const arg = v["Fn::Sub"];
      const text = Array.isArray(arg) ? arg[0] : arg;
      const vars = Array.isArray(arg) && isObject(arg[1]) ? arg[1] : {};
      if (typeof text !== "string") return problem(path, "Sub takes a string");
      for (const name of subVariables(text)) {
        if (name in vars) continue;
        if (known(name)) {
          used.add(name);
          continue;
        }
        const dot = name.indexOf(".");
        if (dot > 0 && scope.resources.has(name.slice(0, dot))) {
          checkAtt(path, name.slice(0, dot), name.slice(dot + 1));
          continue;
        }
        problem(
          path,
          `Sub variable "\${${name}}" names nothing: not a parameter, resource, attribute, pseudo parameter or Sub variable`,
        );
      }
      for (const [k, x] of Object.entries(vars)) walk(x, `${path}.Fn::Sub.${k}`);
      return;
    }
    if (fn === "Fn::If") {
      const arg = v["Fn::If"];
      if (!Array.isArray(arg) || arg.length !== 3) {
        return problem(path, "If takes [condition, then, else]");
      }
      checkCondition(path, arg[0]);
      walk(arg[1], `${path}.Fn::If[1]`);
      walk(arg[2], `${path}.Fn::If[2]`);
      return;
    }
    if (fn === "Fn::FindInMap") {
      const arg = v["Fn::FindInMap"];
      if (Array.isArray(arg) && typeof arg[0] === "string" && !scope.mappings.has(arg[0])) {
        problem(path, `FindInMap of "${arg[0]}", which is not a mapping`);
      }
      walk(arg, `${path}.Fn::FindInMap`);
      return;
    }
    if (fn === "Fn::ImportValue") {
      const arg = v["Fn::ImportValue"];
      const name = exportKey(arg);
      if (name === undefined) {
        walk(arg, `${path}.Fn::ImportValue`);
      } else if (!exports?.has(name)) {
        problem(path, `ImportValue "${name}" is not exported by any other stack`);
      }
      if (isObject(arg)) walk(arg, `${path}.Fn::ImportValue`);
      return;
    }
    if (fn && !FUNCTIONS.has(fn)) return problem(path, `unknown intrinsic function "${fn}"`);
    for (const [k, x] of Object.entries(v)) {
      if (k === "DependsOn" && path.startsWith("Resources.")) {
        for (const d of Array.isArray(x) ? x : [x]) {
          if (!scope.resources.has(String(d))) {
            problem(`${path}.DependsOn`, `"${d}" is not a resource`);
          }
        }
        continue;
      }
      if (k === "Condition" && typeof x === "string" && /^(Resources|Outputs)\.[^.]+$/.test(path)) {
        checkCondition(`${path}.Condition`, x);
        continue;
      }
      walk(x, `${path}.${k}`);
    }
  };
  walk(t.Resources, "Resources");
  walk(t.Outputs, "Outputs");
  walk(t.Conditions, "Conditions");
}

/** An export or import name in comparable form: a literal, or a Sub template as written. */
function exportKey(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObject(v) && "Fn::Sub" in v) {
    const arg = v["Fn::Sub"];
    return typeof arg === "string" ? arg : undefined;
  }
  return undefined;
}

/** The export names a template declares, in the form ImportValue is compared against. */
export function exportNames(t: Template): string[] {
  const names: string[] = [];
  for (const o of Object.values(t.Outputs ?? {})) {
    const name = isObject(o) && isObject(o.Export) ? exportKey(o.Export.Name) : undefined;
    if (name !== undefined) names.push(name);
  }
  return names;
}

function checkProperties(
  type: string,
  props: Record<string, unknown>,
  specProps: Record<string, PropSpec>,
  spec: CfnSpec,
  path: string,
  problem: (path: string, msg: string) => void,
): void {
  for (const [name, ps] of Object.entries(specProps)) {
    if (ps.Required && props[name] === undefined) {
      problem(path, `required property "${name}" is missing`);
    }
  }
  for (const [name, value] of Object.entries(props)) {
    const ps = specProps[name];
    if (!ps) {
      problem(
        `${path}.${name}`,
        `"${name}" is not a property of ${type.split(".")[0]}${
          type.includes(".") ? ` (${type.split(".")[1]})` : ""
        }`,
      );
      continue;
    }
    checkValue(type, ps, value, spec, `${path}.${name}`, problem);
  }
}

function propertyType(resourceType: string, name: string, spec: CfnSpec) {
  if (name === "Tag") return spec.PropertyTypes["Tag"];
  return spec.PropertyTypes[`${resourceType.split(".")[0]}.${name}`];
}

function checkValue(
  type: string,
  ps: PropSpec,
  value: unknown,
  spec: CfnSpec,
  path: string,
  problem: (path: string, msg: string) => void,
): void {
  const fn = intrinsic(value);
  if (fn === "Fn::If" && isObject(value)) {
    const arg = value["Fn::If"];
    if (Array.isArray(arg)) {
      for (const branch of arg.slice(1)) {
        if (intrinsic(branch) === "Ref" && (branch as { Ref: string }).Ref === "AWS::NoValue") {
          continue;
        }
        checkValue(type, ps, branch, spec, path, problem);
      }
    }
    return;
  }
  if (fn) return; // resolved at deploy time
  if (ps.PrimitiveType) return checkPrimitive(ps.PrimitiveType, value, path, problem);
  if (ps.Type === "List") {
    if (!Array.isArray(value)) return problem(path, "expected a list");
    value.forEach((item, i) => {
      const p = `${path}[${i}]`;
      if (ps.PrimitiveItemType) {
        if (!intrinsic(item)) checkPrimitive(ps.PrimitiveItemType, item, p, problem);
      } else if (ps.ItemType) checkValue(type, { Type: ps.ItemType }, item, spec, p, problem);
    });
    return;
  }
  if (ps.Type === "Map") {
    if (!isObject(value)) return problem(path, "expected a mapping");
    for (const [k, item] of Object.entries(value)) {
      const p = `${path}.${k}`;
      if (ps.PrimitiveItemType) {
        if (!intrinsic(item)) checkPrimitive(ps.PrimitiveItemType, item, p, problem);
      } else if (ps.ItemType) checkValue(type, { Type: ps.ItemType }, item, spec, p, problem);
    }
    return;
  }
  if (ps.Type) {
    const pt = propertyType(type, ps.Type, spec);
    if (!pt) return; // unknown to this specification version: nothing to check against
    if (pt.PrimitiveType) return checkPrimitive(pt.PrimitiveType, value, path, problem);
    if (!isObject(value)) return problem(path, `expected a mapping (${ps.Type})`);
    const owner = ps.Type === "Tag" ? "Tag" : `${type.split(".")[0]}.${ps.Type}`;
    checkProperties(owner, value, pt.Properties ?? {}, spec, path, problem);
  }
}

function checkPrimitive(
  primitive: string,
  value: unknown,
  path: string,
  problem: (path: string, msg: string) => void,
): void {
  const t = typeof value;
  switch (primitive) {
    case "String":
    case "Timestamp":
      if (t !== "string" && t !== "number" && t !== "boolean") problem(path, "expected a string");
      return;
    case "Integer":
    case "Long":
    case "Double":
      if (!(t === "number" || (t === "string" && value !== "" && Number.isFinite(Number(value))))) {
        problem(path, "expected a number");
      }
      return;
    case "Boolean":
      if (!(t === "boolean" || value === "true" || value === "false")) {
        problem(path, "expected true or false");
      }
      return;
    case "Json":
      if (!(isObject(value) || t === "string")) problem(path, "expected a JSON object");
      return;
  }
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

function checkPolicies(
  resources: Record<string, Record<string, unknown>>,
  problem: (path: string, msg: string) => void,
): void {
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (!isObject(v)) return;
    for (const [k, x] of Object.entries(v)) {
      if (k === "PolicyDocument" && isObject(x)) checkDocument(x, `${path}.${k}`);
      else walk(x, `${path}.${k}`);
    }
  };
  const checkDocument = (doc: Record<string, unknown>, path: string) => {
    asList(doc.Statement).forEach((st, i) => {
      if (!isObject(st) || st.Effect !== "Allow") return;
      const onStar = asList(st.Resource).some((r) => r === "*");
      if (!onStar) return;
      for (const action of asList(st.Action)) {
        const a = String(action).toLowerCase();
        if (!UNSCOPABLE_ACTIONS.has(a)) {
          problem(
            `${path}.Statement[${i}]`,
            `allows "${action}" on "Resource": "*": scope it to the resources it needs`,
          );
        }
      }
    });
  };
  for (const [id, res] of Object.entries(resources)) {
    walk(res?.Properties, `Resources.${id}.Properties`);
  }
}

/**
 * Checks deploy's wiring against the templates: every wired parameter exists, every template
 * parameter without a default is wired, outputs come from stacks earlier in the order and
 * exist there, and the outputs saved to the config file exist.
 */
export function validateWiring(
  templates: Map<StackId, Template>,
  stacks: readonly StackDef[],
): string[] {
  const problems: string[] = [];
  const seen: StackId[] = [];
  for (const def of stacks) {
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
      if (src.from === "output") {
        if (!seen.includes(src.stack)) {
          problems.push(
            `${file}: parameter "${name}" comes from stack "${src.stack}", which is not deployed before it`,
          );
        } else if (!(src.output in (templates.get(src.stack)?.Outputs ?? {}))) {
          problems.push(
            `${file}: parameter "${name}" comes from output "${src.output}", which stack "${src.stack}" does not declare`,
          );
        }
      }
      if (src.from === "bootstrap" && !seen.includes("msk")) {
        problems.push(`${file}: parameter "${name}" needs the msk stack deployed before it`);
      }
      if (src.from === "plugin" && !seen.includes("lake")) {
        problems.push(`${file}: parameter "${name}" needs the lake stack deployed before it`);
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
    seen.push(def.id);
  }
  return problems;
}

/** Validates every template and the wiring between them; returns all problems. */
export function validateStacks(
  templates: Map<StackId, Template>,
  stacks: readonly StackDef[],
  spec: CfnSpec = loadSpec(),
): string[] {
  const problems: string[] = [];
  for (const [id, t] of templates) {
    const others = new Set<string>();
    for (const [other, ot] of templates) {
      if (other !== id) exportNames(ot).forEach((n) => others.add(n));
    }
    problems.push(...validateTemplate(t, { file: `infra/${id}.yaml`, spec, exports: others }));
  }
  problems.push(...validateWiring(templates, stacks));
  return problems;
}
