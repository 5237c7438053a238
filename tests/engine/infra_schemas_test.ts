/**
 * The templates against cfn-lint's bundled resource schemas (the engine venv's cfn-lint):
 * every custom-named resource whose create-only properties can change with a parameter has
 * a name that changes with them (a name hash, lib/aws/stacks.ts nameHash), so a replacement
 * never collides with the old resource's name; the regions deploy offers and the resource
 * types it refuses them for are cfn-lint's per-region lists; and cfn-lint finds nothing
 * wrong in any offered region but the one documented gap (no MSK Serverless in us-west-1
 * and me-central-1, where the plan refuses ClusterType=serverless).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  hashInputs,
  loadTemplate,
  propertyAt,
  references,
  STACK_IDS,
  STACKS,
} from "../../lib/aws/stacks.ts";
import type { StackDef, StackId, Template } from "../../lib/aws/stacks.ts";
import { MISSING_TYPES, OFFERED_REGIONS } from "../../lib/aws/regions.ts";
import { venvBin } from "../_engines.ts";
import { envTest, ROOT, run } from "../_fixtures.ts";

const templates = new Map<StackId, Template>();
for (const id of STACK_IDS) templates.set(id, await loadTemplate(id));

/** What cfn-lint bundles: per region the resource types it has, per type its create-only paths. */
interface Schemas {
  regions: Record<string, string[]>;
  createOnly: Record<string, string[]>;
}

const DUMP = `
import json, glob, os, cfnlint
base = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
regions, create_only = {}, {}
for f in sorted(glob.glob(os.path.join(base, "providers", "*.json"))):
    region = os.path.basename(f)[:-5]
    if region == "sam":
        continue
    index = json.load(open(f))
    regions[region] = sorted(index)
    if region == "us-east-1":
        for t, h in index.items():
            schema = json.load(open(os.path.join(base, "resources", h + ".json")))
            create_only[t] = [p.replace("/properties/", "", 1) for p in schema.get("createOnlyProperties", [])]
print(json.dumps({"regions": regions, "createOnly": create_only}))
`;

async function schemas(): Promise<Schemas> {
  const r = await run(join((await venvBin())!, "python"), ["-c", DUMP]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const PSEUDO = /^AWS::/;

/**
 * The parameters a replacement of `id` follows from: those its create-only properties use,
 * and, through each resource they refer to, what replaces that one (its new ARN or id).
 */
function replacedBy(
  t: Template,
  id: string,
  createOnly: Record<string, string[]>,
  seen = new Set<string>(),
): Set<string> {
  if (seen.has(id)) return new Set();
  seen.add(id);
  const r = t.Resources![id];
  const props = (r.Properties ?? {}) as Record<string, unknown>;
  const paths = createOnly[String(r.Type)] ?? [];
  const refs = references(t, paths.map((p) => propertyAt(props, p)));
  const out = new Set([...refs.params].filter((p) => !PSEUDO.test(p)));
  for (const other of refs.resources) {
    for (const p of replacedBy(t, other, createOnly, seen)) out.add(p);
  }
  return out;
}

/**
 * The create-only properties that name the resource itself, set in the template: `Name`, or
 * `<Kind>Name` of a type whose last part ends in the kind (ClusterName of
 * AWS::MSK::ServerlessCluster, RoleName of AWS::IAM::Role; not ServiceName of a VPC endpoint).
 */
function nameProperties(t: Template, id: string, createOnly: Record<string, string[]>): string[] {
  const r = t.Resources![id];
  const props = (r.Properties ?? {}) as Record<string, unknown>;
  const kind = String(r.Type).split("::").pop()!;
  return (createOnly[String(r.Type)] ?? []).filter((p) =>
    props[p] !== undefined &&
    (p === "Name" || (/^\w+Name$/.test(p) && kind.endsWith(p.slice(0, -4))))
  );
}

/**
 * For each custom-named resource of `def`'s template, the parameters that would replace it
 * without renaming it. A name hash parameter covers what deploy hashes (hashInputs) when it
 * hashes every create-only property the template sets.
 */
function unrenamed(def: StackDef, t: Template, createOnly: Record<string, string[]>) {
  const problems: string[] = [];
  for (const id of Object.keys(t.Resources ?? {})) {
    const names = nameProperties(t, id, createOnly);
    if (!names.length) continue;
    const props = (t.Resources![id].Properties ?? {}) as Record<string, unknown>;
    const covered = new Set<string>();
    for (const n of names) for (const p of references(t, props[n]).params) covered.add(p);
    for (const p of [...covered]) {
      const src = def.params[p];
      if (src?.from !== "hash") continue;
      const setHere = (createOnly[String(t.Resources![id].Type)] ?? [])
        .filter((c) => !names.includes(c) && propertyAt(props, c) !== undefined);
      const missing = setHere.filter((c) => !src.properties.includes(c));
      if (src.resource !== id || missing.length) {
        problems.push(
          `infra/${def.id}.yaml ${id}: hash ${p} does not cover ${missing.join(", ") || id}`,
        );
        continue;
      }
      for (const i of hashInputs(t, def, id, src.properties)) covered.add(i);
      // A hash also follows the hashes of the resources its properties refer to.
      for (const i of hashInputs(t, def, id, src.properties)) {
        const other = Object.entries(def.params).find(([n]) => n === i)?.[1];
        if (other?.from === "hash") {
          for (const j of replacedBy(t, other.resource, createOnly)) covered.add(j);
        }
      }
    }
    const loose = [...replacedBy(t, id, createOnly)].filter((p) => !covered.has(p));
    if (loose.length) {
      problems.push(
        `infra/${def.id}.yaml ${id} (${t.Resources![id].Type}): ${
          names.join(", ")
        } stays the same when ${loose.join(", ")} change(s) and replace(s) it`,
      );
    }
  }
  return problems;
}

await envTest(
  "every custom-named resource is renamed by whatever replaces it (cfn-lint's create-only properties)",
  ["engines"],
  async () => {
    const { createOnly } = await schemas();
    const problems = STACKS.flatMap((def) => unrenamed(def, templates.get(def.id)!, createOnly));
    assert.deepEqual(problems, []);
    // The check finds a name without its hash: the connect stack's plugin as it was.
    const connect = structuredClone(templates.get("connect")!);
    (connect.Resources!.Plugin.Properties as Record<string, unknown>).Name = {
      "Fn::Sub": "${Prefix}-s3-sink-plugin",
    };
    const def = STACKS.find((d) => d.id === "connect")!;
    assert.deepEqual(unrenamed(def, connect, createOnly), [
      "infra/connect.yaml Plugin (AWS::KafkaConnect::CustomPlugin): Name stays the same when BucketName, PluginKey change(s) and replace(s) it",
    ]);
    // And a hash that leaves out a create-only property the template sets.
    const short = STACKS.map((d) =>
      d.id === "connect"
        ? {
          ...d,
          params: {
            ...d.params,
            WorkerSuffix: {
              from: "hash" as const,
              resource: "WorkerConfiguration",
              properties: ["Description"],
            },
          },
        }
        : d
    ).find((d) => d.id === "connect")!;
    assert.deepEqual(unrenamed(short, templates.get("connect")!, createOnly).slice(0, 1), [
      "infra/connect.yaml WorkerConfiguration: hash WorkerSuffix does not cover PropertiesFileContent",
    ]);
  },
);

await envTest(
  "the offered regions and the types refused in them are cfn-lint's per-region lists",
  ["engines"],
  async () => {
    const { regions } = await schemas();
    const used = new Set(
      [...templates.values()].flatMap((t) =>
        Object.values(t.Resources ?? {}).map((r) => String(r.Type))
      ).filter((t) => !t.startsWith("Custom::")),
    );
    const standard = Object.keys(regions).filter((r) =>
      !/^(us-gov|us-iso|cn-|eu-isoe|eusc-)/.test(r)
    );
    const missing: Record<string, string[]> = {};
    for (const region of standard) {
      for (const t of used) if (!regions[region].includes(t)) (missing[t] ??= []).push(region);
    }
    assert.deepEqual(missing, MISSING_TYPES);
    const full = standard.filter((r) =>
      !Object.entries(MISSING_TYPES).some(([t, rs]) =>
        t !== "AWS::MSK::ServerlessCluster" && rs.includes(r)
      )
    );
    assert.deepEqual([...OFFERED_REGIONS], full.sort());
  },
);

await envTest(
  "cfn-lint finds nothing wrong in any offered region but MSK Serverless where it does not exist",
  ["engines"],
  async () => {
    const r = await run(join((await venvBin())!, "cfn-lint"), [
      "--regions",
      ...OFFERED_REGIONS,
      "--format",
      "parseable",
      "--",
      ...STACK_IDS.map((id) => join(ROOT, "infra", `${id}.yaml`)),
    ]);
    const lines = (r.stdout + r.stderr).trim().split("\n").filter(Boolean)
      .map((l) => l.replace(ROOT + "/", "").replace(/:\d+:\d+:\d+:\d+:/, ":"));
    assert.deepEqual(
      lines.sort(),
      MISSING_TYPES["AWS::MSK::ServerlessCluster"].map((region) =>
        `infra/msk.yaml:E3006:Resource type 'AWS::MSK::ServerlessCluster' does not exist in '${region}'`
      ),
    );
  },
);

/**
 * The update drill, by the schemas: one parameter of each stack changes, and the resources
 * whose create-only properties follow from it are the ones the change set replaces. Each
 * must be one the change is meant to replace, and every replaced named resource must be
 * renamed by it (its hash covers the parameter).
 */
const DRILL: { stack: StackId; param: string; replaces: string[] }[] = [
  { stack: "network", param: "Prefix", replaces: [] },
  { stack: "lake", param: "DatabricksExternalId", replaces: [] },
  { stack: "msk", param: "BrokerVolumeGiB", replaces: [] },
  { stack: "msk", param: "SubnetIds", replaces: ["Cluster", "ServerlessCluster"] },
  { stack: "client", param: "InstanceType", replaces: [] },
  { stack: "client", param: "ImageId", replaces: ["Instance"] },
  { stack: "connect", param: "FlushSize", replaces: [] },
  { stack: "connect", param: "PluginKey", replaces: ["Connector", "Plugin"] },
  { stack: "connect", param: "ReplicationFactor", replaces: ["Connector", "WorkerConfiguration"] },
  { stack: "api", param: "RateLimit", replaces: [] },
  { stack: "api", param: "Authorization", replaces: [] },
  { stack: "mwaa", param: "WebserverAccessMode", replaces: [] },
  { stack: "mwaa", param: "EnvironmentClass", replaces: [] },
];

await envTest(
  "update drill by the schemas: a changed parameter of each stack replaces only what it must, renamed",
  ["engines"],
  async () => {
    const { createOnly } = await schemas();
    for (const { stack, param, replaces } of DRILL) {
      const t = templates.get(stack)!;
      const def = STACKS.find((d) => d.id === stack)!;
      assert.ok(param in t.Parameters!, `${stack}.${param}`);
      const hit = Object.keys(t.Resources!).filter((id) => replacedBy(t, id, createOnly).has(param))
        .sort();
      assert.deepEqual(hit, replaces, `${stack}.${param} replaces`);
      for (const id of hit) {
        if (!nameProperties(t, id, createOnly).length) continue;
        const suffix = Object.entries(def.params).find(([, s]) =>
          s.from === "hash" && s.resource === id
        );
        assert.ok(suffix, `${stack} ${id} is replaced by ${param} but has no name hash`);
        const src = suffix[1] as { from: "hash"; resource: string; properties: string[] };
        const inputs = hashInputs(t, def, id, src.properties);
        const through = inputs.flatMap((i) => {
          const other = def.params[i];
          return other?.from === "hash" ? [...replacedBy(t, other.resource, createOnly)] : [];
        });
        assert.ok(
          inputs.includes(param) || through.includes(param),
          `${stack} ${id}: its hash ${suffix[0]} does not follow ${param}`,
        );
      }
    }
  },
);
