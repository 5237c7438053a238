/**
 * Where pinpipe's stacks can go: the AWS regions deploy offers, and the resource types some
 * of them lack, so the plan refuses a region before CloudFormation would fail in it half way
 * through. Both lists come from the per-region resource specifications cfn-lint 1.58.0
 * bundles (tests/engines/requirements.txt); tests/infra_regions_test.ts reads those files
 * again and fails when they and these lists part, and lints the templates for every region
 * offered here.
 * @module
 */
import type { Template } from "./stacks.ts";

/**
 * The regions of the standard `aws` partition that have every resource type the stacks use
 * (MSK Serverless only where `msk.ClusterType=serverless` asks for it). GovCloud, China and
 * the isolated partitions are left out, and so are regions without MWAA (ap-east-2,
 * ap-southeast-6, mx-central-1).
 */
export const OFFERED_REGIONS: readonly string[] = [
  "af-south-1",
  "ap-east-1",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-north-1",
  "eu-south-1",
  "eu-south-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "il-central-1",
  "me-central-1",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
];

/**
 * Resource types of the stacks that some `aws`-partition regions lack, with those regions
 * (offered or not).
 */
export const MISSING_TYPES: Readonly<Record<string, readonly string[]>> = {
  "AWS::MSK::ServerlessCluster": ["me-central-1", "us-west-1"],
  "AWS::MWAA::Environment": ["ap-east-2", "ap-southeast-6", "mx-central-1"],
};

type Conditions = Record<string, unknown>;

/** Evaluates a condition expression with the parameter values `params` (unknown Refs: undefined). */
function evaluate(
  expr: unknown,
  params: Record<string, string>,
  conditions: Conditions,
  seen: Set<string> = new Set(),
): unknown {
  if (typeof expr !== "object" || expr === null) return expr;
  const [[fn, arg]] = Object.entries(expr as Record<string, unknown>);
  const args = Array.isArray(arg) ? arg : [arg];
  const ev = (e: unknown) => evaluate(e, params, conditions, seen);
  switch (fn) {
    case "Ref":
      return params[arg as string];
    case "Condition": {
      const name = arg as string;
      if (seen.has(name)) {
        throw new Error(`Cannot evaluate condition "${name}": it refers to itself`);
      }
      return evaluate(conditions[name], params, conditions, new Set([...seen, name]));
    }
    case "Fn::Equals":
      return String(ev(args[0])) === String(ev(args[1]));
    case "Fn::Not":
      return !ev(args[0]);
    case "Fn::And":
      return args.every((a) => ev(a));
    case "Fn::Or":
      return args.some((a) => ev(a));
    default:
      throw new Error(`Cannot evaluate condition function "${fn}"`);
  }
}

/**
 * The resource types `template` creates with parameter values `params` (others take their
 * defaults): resources whose Condition is false are left out.
 */
export function neededTypes(template: Template, params: Record<string, string> = {}): string[] {
  const values: Record<string, string> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    if (p.Default !== undefined) values[name] = String(p.Default);
  }
  Object.assign(values, params);
  const conditions = (template.Conditions ?? {}) as Conditions;
  const types = new Set<string>();
  for (const r of Object.values(template.Resources ?? {})) {
    const cond = r.Condition as string | undefined;
    if (cond && !evaluate({ Condition: cond }, values, conditions)) continue;
    types.add(String(r.Type));
  }
  return [...types].sort();
}

/**
 * Why the stacks cannot go to `region` with these parameters, or undefined: a region deploy
 * does not offer, or one lacking a resource type a stack needs (named, with the stack).
 */
export function regionRefusal(
  region: string,
  needs: { stack: string; types: string[] }[],
): string | undefined {
  const lacking = needs.flatMap(({ stack, types }) =>
    types.filter((t) => MISSING_TYPES[t]?.includes(region)).map((t) => `${t} (stack ${stack})`)
  );
  if (lacking.length) {
    return `${region} has no ${lacking.join(", ")}`;
  }
  if (!OFFERED_REGIONS.includes(region)) {
    return `deploy offers ${OFFERED_REGIONS.join(", ")}`;
  }
  return undefined;
}
