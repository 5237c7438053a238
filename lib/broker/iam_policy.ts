/**
 * IAM identity policies for MSK IAM principals, evaluated as IAM evaluates them for the
 * `kafka-cluster:` actions: an explicit Deny wins over any Allow, an Allow over the implicit
 * deny; `*` and `?` wildcards in actions (case-insensitive) and resources (case-sensitive);
 * Action/NotAction and Resource/NotResource. A statement with a Condition that could apply to
 * a `kafka-cluster:` action is refused when the policy is loaded (the broker does not
 * evaluate conditions and will not guess), naming the file, the statement and the keys.
 *
 * MSK's resources (arn:aws:kafka:REGION:ACCOUNT:…):
 *   cluster/NAME/UUID, topic/NAME/UUID/TOPIC, group/NAME/UUID/GROUP,
 *   transactional-id/NAME/UUID/ID
 *
 * A policy file is a policy document (`{"Version", "Statement"}`), or what
 * `deno task deploy --local-policies DIR` renders for a role (`{"role", "policies":
 * [{"PolicyName", "PolicyDocument"}]}`).
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";

/** One statement, its lists normalized. */
interface Statement {
  sid: string;
  effect: "Allow" | "Deny";
  actions?: RegExp[];
  notActions?: RegExp[];
  resources?: RegExp[];
  notResources?: RegExp[];
  /** Where it came from, for messages: `file (policy X, statement Y)`. */
  where: string;
}

/** The answer to one request of one action on one resource. */
export interface Decision {
  allowed: boolean;
  /** Why, for the log: the deciding statement, or that none allows it. */
  why: string;
}

/** An IAM wildcard pattern as a RegExp. */
function pattern(p: string, caseInsensitive: boolean): RegExp {
  const re = p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${re}$`, caseInsensitive ? "i" : "");
}

function list(v: unknown, what: string, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  const out = typeof v === "string" ? [v] : v;
  if (!Array.isArray(out) || out.some((x) => typeof x !== "string")) {
    throw new Error(`${where}: ${what} must be a string or a list of strings`);
  }
  return out as string[];
}

/** The statements of one policy document; errors name `where`. */
export function parsePolicy(doc: unknown, where: string): Statement[] {
  const d = doc as Record<string, unknown>;
  if (!d || typeof d !== "object" || d.Statement === undefined) {
    throw new Error(`${where}: not an IAM policy document (no Statement)`);
  }
  if (d.Version !== undefined && d.Version !== "2012-10-17") {
    throw new Error(`${where}: Version ${d.Version} is not supported (use "2012-10-17")`);
  }
  const raw = Array.isArray(d.Statement) ? d.Statement : [d.Statement];
  return raw.map((s: Record<string, unknown>, i: number) => {
    const sid = typeof s.Sid === "string" ? s.Sid : `#${i + 1}`;
    const at = `${where}, statement ${sid}`;
    if (s.Effect !== "Allow" && s.Effect !== "Deny") {
      throw new Error(`${at}: Effect must be Allow or Deny, not ${JSON.stringify(s.Effect)}`);
    }
    if (s.Principal !== undefined || s.NotPrincipal !== undefined) {
      throw new Error(`${at}: an identity policy has no Principal (that is a resource policy)`);
    }
    const actions = list(s.Action, "Action", at);
    const notActions = list(s.NotAction, "NotAction", at);
    const resources = list(s.Resource, "Resource", at);
    const notResources = list(s.NotResource, "NotResource", at);
    if (!actions === !notActions) throw new Error(`${at}: give exactly one of Action, NotAction`);
    if (!resources === !notResources) {
      throw new Error(`${at}: give exactly one of Resource, NotResource`);
    }
    const st: Statement = {
      sid,
      effect: s.Effect,
      actions: actions?.map((a) => pattern(a, true)),
      notActions: notActions?.map((a) => pattern(a, true)),
      resources: resources?.map((r) => pattern(r, false)),
      notResources: notResources?.map((r) => pattern(r, false)),
      where: at,
    };
    if (s.Condition !== undefined && mayApplyToKafka(st)) {
      const keys = Object.values(s.Condition as Record<string, Record<string, unknown>>)
        .flatMap((o) => Object.keys(o ?? {}));
      throw new Error(
        `${at}: has a Condition (${keys.join(", ")}) on kafka-cluster actions, which this broker ` +
          "does not evaluate: remove it for local runs, or split the statement",
      );
    }
    return st;
  });
}

/** True when the statement's actions can match some kafka-cluster action. */
function mayApplyToKafka(s: Statement): boolean {
  if (s.notActions) return true;
  return s.actions!.some((re) =>
    KAFKA_ACTIONS.some((a) => re.test(`kafka-cluster:${a}`)) || re.test("kafka-cluster:")
  );
}

/** The kafka-cluster actions MSK documents. */
export const KAFKA_ACTIONS = [
  "Connect",
  "DescribeCluster",
  "AlterCluster",
  "DescribeClusterDynamicConfiguration",
  "AlterClusterDynamicConfiguration",
  "WriteDataIdempotently",
  "CreateTopic",
  "DescribeTopic",
  "AlterTopic",
  "DeleteTopic",
  "DescribeTopicDynamicConfiguration",
  "AlterTopicDynamicConfiguration",
  "ReadData",
  "WriteData",
  "DescribeGroup",
  "AlterGroup",
  "DeleteGroup",
  "DescribeTransactionalId",
  "AlterTransactionalId",
];

/** A principal's policies, the cluster's ARNs and the denials logged (per connection). */
export interface Authorizer {
  principal: string;
  policies: PolicySet;
  arns: MskArns;
  /** Denials already logged on this connection. */
  logged: Set<string>;
}

/** A principal's policies. */
export class PolicySet {
  constructor(readonly statements: Statement[], readonly sources: string[]) {}

  /** Reads policy files (documents or rendered roles); errors name the file. */
  static async load(files: string[], base = "."): Promise<PolicySet> {
    const statements: Statement[] = [];
    const sources: string[] = [];
    for (const f of files) {
      const file = isAbsolute(f) ? f : join(base, f);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(await Deno.readTextFile(file));
      } catch (err) {
        throw new Error(`Cannot read the IAM policy ${file}: ${(err as Error).message}`);
      }
      if (Array.isArray(json.policies)) {
        for (const p of json.policies as Record<string, unknown>[]) {
          statements.push(...parsePolicy(p.PolicyDocument, `${file} (policy ${p.PolicyName})`));
        }
      } else {
        statements.push(...parsePolicy(json, file));
      }
      sources.push(file);
    }
    return new PolicySet(statements, sources);
  }

  /** IAM's decision for `action` (e.g. "kafka-cluster:WriteData") on `resource`. */
  decide(action: string, resource: string): Decision {
    let allow: Statement | undefined;
    for (const s of this.statements) {
      const actionMatches = s.actions
        ? s.actions.some((re) => re.test(action))
        : !s.notActions!.some((re) => re.test(action));
      if (!actionMatches) continue;
      const resourceMatches = s.resources
        ? s.resources.some((re) => re.test(resource))
        : !s.notResources!.some((re) => re.test(resource));
      if (!resourceMatches) continue;
      if (s.effect === "Deny") return { allowed: false, why: `denied by ${s.where}` };
      allow ??= s;
    }
    return allow
      ? { allowed: true, why: `allowed by ${allow.where}` }
      : { allowed: false, why: `no statement allows it (${this.sources.join(", ")})` };
  }
}

/** The MSK ARNs of a cluster (from its ARN). */
export class MskArns {
  /** `arn:aws:kafka:REGION:ACCOUNT:` */
  private readonly head: string;
  /** `NAME/UUID` */
  private readonly path: string;

  constructor(readonly cluster: string) {
    const m = /^(arn:aws[\w-]*:kafka:[\w-]+:\d{12}:)cluster\/([^/]+\/[^/]+)$/.exec(cluster);
    if (!m) {
      throw new Error(
        `"${cluster}" is not an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)`,
      );
    }
    this.head = m[1];
    this.path = m[2];
  }

  topic(name: string): string {
    return `${this.head}topic/${this.path}/${name}`;
  }

  group(name: string): string {
    return `${this.head}group/${this.path}/${name}`;
  }

  transactionalId(id: string): string {
    return `${this.head}transactional-id/${this.path}/${id}`;
  }
}

/** The cluster ARN a local broker has unless told, and deploy --local-policies renders for. */
export function localClusterArn(region: string): string {
  return `arn:aws:kafka:${region}:000000000000:cluster/pinpipe-local/00000000-0000-4000-8000-000000000000-1`;
}

/** The account id local renders use. */
export const LOCAL_ACCOUNT_ID = "000000000000";

/** The directory a principals file's relative policy paths are read from. */
export function policyBase(principalsFile: string): string {
  return dirname(principalsFile);
}
