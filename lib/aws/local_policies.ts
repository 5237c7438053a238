/**
 * The IAM policy documents of the stacks' roles, rendered from infra/ with local values for
 * the intrinsics, for the embedded broker to evaluate (`deno task deploy --local-policies
 * DIR`): the REST proxy's instance role and the topic admin role (client stack), the MSK
 * Connect execution role (connect stack). Each role becomes `DIR/<stack>-<Role>.json`:
 *
 *     { "role": "arn:aws:iam::000000000000:role/<prefix>-<stack>-<Role>", "stack", "logicalId",
 *       "policies": [{ "PolicyName", "PolicyDocument" }] }
 *
 * Intrinsics resolved: Ref (parameters, with their template defaults or a placeholder
 * `<prefix>-local-<name>`, the local cluster ARN and the pseudo parameters), Fn::Sub (both forms), Fn::Select, Fn::Split, Fn::Join,
 * Fn::GetAtt of a role's Arn. Anything else in a policy document is an error naming it.
 * @module
 */
import { join } from "node:path";
import { loadTemplate, type StackId } from "./stacks.ts";

/** The account id local renders use. */
export const LOCAL_ACCOUNT_ID = "000000000000";

/**
 * The cluster ARN rendered policies name: the embedded broker's default (lib/broker/
 * iam_policy.ts's localClusterArn, which lib/aws/ may not import; a unit test keeps the two equal).
 */
export function localClusterArn(region: string): string {
  return `arn:aws:kafka:${region}:${LOCAL_ACCOUNT_ID}:cluster/pinpipe-local/00000000-0000-4000-8000-000000000000-1`;
}

/** The stacks whose roles talk to Kafka. */
export const POLICY_STACKS: StackId[] = ["client", "connect"];

/** One rendered role. */
export interface RenderedRole {
  file: string;
  role: string;
  statements: number;
}

type Values = Record<string, unknown>;

function evaluate(v: unknown, values: Values, where: string): unknown {
  if (Array.isArray(v)) return v.map((x) => evaluate(x, values, where));
  if (!v || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && (keys[0] === "Ref" || keys[0].startsWith("Fn::"))) {
    const [k] = keys;
    const arg = o[k];
    switch (k) {
      case "Ref": {
        const name = String(arg);
        if (!(name in values)) throw new Error(`${where}: cannot resolve Ref ${name} locally`);
        return values[name];
      }
      case "Fn::Sub": {
        const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
        const local: Values = { ...values };
        for (const [n, x] of Object.entries(vars as Values)) local[n] = evaluate(x, values, where);
        return String(text).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
          if (name in local) return String(local[name]);
          const dot = name.indexOf(".");
          if (dot > 0) {
            return String(
              evaluate({ "Fn::GetAtt": [name.slice(0, dot), name.slice(dot + 1)] }, values, where),
            );
          }
          throw new Error(`${where}: cannot resolve \${${name}} locally`);
        });
      }
      case "Fn::Select": {
        const [i, list] = arg as [unknown, unknown];
        const items = evaluate(list, values, where) as unknown[];
        const n = Number(evaluate(i, values, where));
        if (!Array.isArray(items) || !(n in items)) {
          throw new Error(`${where}: Fn::Select ${n} out of range`);
        }
        return items[n];
      }
      case "Fn::Split": {
        const [sep, text] = arg as [string, unknown];
        return String(evaluate(text, values, where)).split(sep);
      }
      case "Fn::Join": {
        const [sep, list] = arg as [string, unknown[]];
        return (evaluate(list, values, where) as unknown[]).join(sep);
      }
      case "Fn::GetAtt": {
        const [res, att] = arg as [string, string];
        const arn = values[`${res}.${att}`];
        if (arn === undefined) {
          throw new Error(`${where}: cannot resolve Fn::GetAtt ${res}.${att} locally`);
        }
        return arn;
      }
      default:
        throw new Error(`${where}: ${k} is not resolved locally`);
    }
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, evaluate(x, values, where)]));
}

/** Renders the Kafka-facing roles' policies of the stacks into `dir`. */
export async function renderLocalPolicies(
  dir: string,
  opts: { region: string; prefix: string; clusterArn?: string },
): Promise<RenderedRole[]> {
  await Deno.mkdir(dir, { recursive: true });
  const clusterArn = opts.clusterArn ?? localClusterArn(opts.region);
  const out: RenderedRole[] = [];
  for (const stack of POLICY_STACKS) {
    const t = await loadTemplate(stack);
    const stackName = `${opts.prefix}-${stack}`;
    const values: Values = {
      "AWS::Region": opts.region,
      "AWS::AccountId": LOCAL_ACCOUNT_ID,
      "AWS::Partition": "aws",
      "AWS::StackName": stackName,
      "AWS::URLSuffix": "amazonaws.com",
    };
    for (const [name, p] of Object.entries((t.Parameters ?? {}) as Record<string, Values>)) {
      // A parameter without a default (a bucket name, subnets) gets a local placeholder: only
      // the kafka-cluster statements matter here, and they name the cluster and the prefix.
      values[name] = p.Default ?? `${opts.prefix}-local-${name.toLowerCase()}`;
    }
    values.Prefix = opts.prefix;
    values.ClusterArn = clusterArn;
    const resources = t.Resources as Record<string, { Type: string; Properties?: Values }>;
    const roles = Object.entries(resources).filter(([, r]) => r.Type === "AWS::IAM::Role");
    for (const [id] of roles) {
      values[`${id}.Arn`] = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${stackName}-${id}`;
    }
    for (const [id, r] of roles) {
      const policies = (r.Properties?.Policies ?? []) as Values[];
      const rendered = policies.map((p) => ({
        PolicyName: p.PolicyName,
        PolicyDocument: evaluate(
          p.PolicyDocument,
          values,
          `infra/${stack}.yaml ${id} ${p.PolicyName}`,
        ),
      }));
      const kafka = JSON.stringify(rendered).includes("kafka-cluster:");
      if (!kafka) continue;
      const file = join(dir, `${stack}-${id}.json`);
      const role = values[`${id}.Arn`] as string;
      await Deno.writeTextFile(
        file,
        JSON.stringify({ role, stack, logicalId: id, clusterArn, policies: rendered }, null, 2) +
          "\n",
      );
      const statements = rendered.reduce(
        (n, p) => n + [(p.PolicyDocument as Values).Statement].flat().length,
        0,
      );
      out.push({ file, role, statements });
    }
  }
  return out;
}
