/**
 * The CloudFormation driver behind `deno task deploy`: brings the stacks of lib/aws/stacks.ts up
 * through change sets (create or update; "no changes" is success), each as soon as the
 * stacks it needs are up (the graph follows from the templates' parameters, outputs and
 * imports: stacks that do not depend on each other deploy together), wires each stack's
 * outputs into the next stacks' parameters, fills in what CloudFormation cannot (the MSK
 * bootstrap brokers, the connector plugin zip in the lake bucket, the REST proxy's
 * kafka-rest.properties, the Databricks connection secret), follows stack events as
 * progress, reports a failure by the resource that failed and why, and tears everything
 * down again, dependents first. A dry run plans offline (no credentials needed) and, where
 * credentials reach AWS, shows the change sets too.
 *
 * Folder `lib/aws/`: the AWS control plane: the stacks (stacks.ts) and their deploy (this file),
 * the S3 sink connector on MSK Connect or a Kafka Connect REST API (connector.ts,
 * connector_config.ts, msk_connect.ts, connect_rest.ts), MWAA (mwaa.ts), the REST proxy's
 * configuration on EC2 (rest_proxy_config.ts) and MSK's bootstrap brokers (bootstrap_brokers.ts).
 * May import: `lib/shell/`, `lib/deps/`.
 * @module
 */
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
} from "../deps/aws_cloudformation.ts";
import type { Change, Parameter, Stack, StackEvent } from "../deps/aws_cloudformation.ts";
import { EC2Client } from "../deps/aws_ec2.ts";
import { KafkaClient } from "../deps/aws_kafka.ts";
import { KafkaConnectClient } from "../deps/aws_kafkaconnect.ts";
import { removeConnectorResources } from "./connector_owner.ts";
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "../deps/aws_s3.ts";
import { PutSecretValueCommand, SecretsManagerClient } from "../deps/aws_secrets_manager.ts";
import { getIamBootstrap } from "./bootstrap_brokers.ts";
import { pluginObjectKey, readPluginZip, S3_SINK_PLUGIN } from "./connector_config.ts";
import { UsageError } from "../shell/errors.ts";
import { saveConfig } from "../shell/config.ts";
import { renderRestProxyProperties } from "./rest_proxy_config.ts";
import { neededTypes, regionRefusal } from "./regions.ts";
import { describeZones, expectedZoneIds, legacyZones, pickZones } from "./zones.ts";
import { delay } from "../shell/retry.ts";
import {
  checkWiring,
  deployWaves,
  firstDeployMinutes,
  hashInputs,
  loadRequirements,
  loadTemplate,
  nameHash,
  renderTemplate,
  stackGraph,
  stackName,
  STACKS,
  subnetBits,
  TEMPLATE_BODY_LIMIT,
  templateBytes,
} from "./stacks.ts";
import type { ParamSource, StackDef, StackId, Template } from "./stacks.ts";

/** The AWS clients deploy talks to (tests pass mocked ones, or ones pointed at moto). */
export interface AwsClients {
  cfn: CloudFormationClient;
  ec2: EC2Client;
  kafka: KafkaClient;
  s3: S3Client;
  secrets: SecretsManagerClient;
  /** MSK Connect, to remove what `deno task connector` made (destroy of the connect stack). */
  kafkaconnect?: KafkaConnectClient;
}

/** Where progress goes: event lines, and a status line that may be redrawn. */
export interface DeployLog {
  line(text: string): void;
  status?(text: string): void;
}

/** Dependencies of `deploy` and `destroy`. */
export interface DeployDeps {
  clients: AwsClients;
  log?: DeployLog;
  signal?: AbortSignal;
  /** Downloads the connector plugin (default: global fetch). */
  fetch?: typeof fetch;
  /** Reads a local plugin file (default: Deno.readFile). */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Template loader (default: infra/<id>.yaml). */
  loadTemplate?: (id: StackId) => Promise<Template>;
  /** requirements.txt loader (default: dags/requirements.txt). */
  loadRequirements?: () => Promise<string>;
  /** Asks the user a yes/no question (destroy); absent means nobody can answer. */
  confirm?: (question: string) => Promise<boolean>;
  /**
   * Whether AWS credentials are at hand (a dry run without them plans offline). Default:
   * asks the CloudFormation client's credential chain, for up to 5 s.
   */
  hasCredentials?: () => Promise<boolean>;
  /** Milliseconds between polls of CloudFormation. Default DEFAULT_DEPLOY_POLL_MS. */
  pollMs?: number;
  now?: () => number;
}

/** What `deploy` is asked to do. */
export interface DeployOptions {
  region: string;
  prefix: string;
  /** Stacks to deploy (default all); the stacks they need must exist already. */
  only?: StackId[];
  /** Plan (offline, plus change sets where credentials reach AWS): change nothing. */
  dryRun?: boolean;
  /** Parameter overrides per stack, e.g. `{ msk: { ClusterType: "serverless" } }`. */
  params?: Partial<Record<StackId, Record<string, string>>>;
  /** Where the connector plugin zip comes from: an http(s) URL or a local path. */
  pluginUrl?: string;
  /** The Databricks workspace and token to store as the Airflow connection. */
  databricks?: { host: string; token: string };
}

/** One line of a change set. */
export interface ChangeLine {
  action: string;
  logicalId: string;
  type: string;
  replacement?: string;
}

/** What happened to one stack. */
export interface StackResult {
  id: StackId;
  stackName: string;
  /**
   * created, updated, unchanged, deleted, absent (nothing to delete), would-* in a dry run
   * that reached AWS, planned in one that could not.
   */
  action:
    | "created"
    | "updated"
    | "unchanged"
    | "deleted"
    | "absent"
    | "would-create"
    | "would-update"
    | "would-delete"
    | "planned";
  changes: ChangeLine[];
  outputs: Record<string, string>;
  seconds: number;
  note?: string;
}

/** One parameter of a planned stack: its value, or where the value will come from. */
export interface PlannedParam {
  name: string;
  /** The value, when known offline. */
  value?: string;
  /** Where it comes from when not known offline, e.g. `output of network: PrivateSubnetIds`. */
  from?: string;
}

/** A stack in the offline plan. */
export interface PlannedStack {
  id: StackId;
  stackName: string;
  /** Stacks that must be up first. */
  needs: StackId[];
  params: PlannedParam[];
  /** The rendered template's size in bytes (the inline limit is 51,200). */
  templateBytes: number;
  resources: number;
}

/** What a dry run worked out without AWS. */
export interface DeployPlan {
  /** Stacks in waves: each wave goes up together once the waves before it are up. */
  waves: StackId[][];
  stacks: PlannedStack[];
  /** Minutes of a first deploy of these stacks, the longest chain (typical durations). */
  estimateMinutes: number;
  /** What only AWS can tell, which this plan therefore did not check. */
  unchecked: string[];
}

/** The result of `deploy` or `destroy`. */
export interface DeployResult {
  region: string;
  prefix: string;
  dryRun: boolean;
  stacks: StackResult[];
  /** A dry run's offline plan. */
  plan?: DeployPlan;
  /** Values saved (or, in a dry run, that would be saved) to the config file. */
  config: Record<string, string | undefined>;
  /** False when destroy was declined. */
  confirmed: boolean;
}

/** How often deploy polls CloudFormation by default. */
export const DEFAULT_DEPLOY_POLL_MS = 10_000;
const NO_CHANGES = /didn't contain changes|No updates are to be performed|no changes/i;
const CANCELLED = /cancelled|The following resource\(s\) failed/i;
/** The lake-reader role has a fixed name (Unity Catalog's trust needs it): named IAM. */
const CAPABILITIES: ("CAPABILITY_IAM" | "CAPABILITY_NAMED_IAM")[] = [
  "CAPABILITY_IAM",
  "CAPABILITY_NAMED_IAM",
];

/** Stacks of `only` (or all), in display order. */
export function selectStacks(only?: StackId[]): StackDef[] {
  return STACKS.filter((s) => !only || only.length === 0 || only.includes(s.id));
}

/** The stack `name`, or undefined when it does not exist. */
export async function describeStack(
  cfn: CloudFormationClient,
  name: string,
): Promise<Stack | undefined> {
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    return out.Stacks?.[0];
  } catch (err) {
    if (/does not exist/i.test((err as Error).message ?? "")) return undefined;
    throw new Error(`Cannot describe stack "${name}"`, { cause: err });
  }
}

function outputsOf(stack: Stack | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of stack?.Outputs ?? []) if (o.OutputKey) out[o.OutputKey] = o.OutputValue ?? "";
  return out;
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** True when the client's credential chain yields credentials within `ms`. */
async function credentialsResolve(cfn: CloudFormationClient, ms = 5000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const provider = cfn.config.credentials as unknown as () => Promise<unknown>;
    const got = await Promise.race([
      provider().then((c) => !!c),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
    return got;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Everything one run shares. */
class Run {
  readonly log: DeployLog;
  readonly pollMs: number;
  readonly now: () => number;
  readonly outputs = new Map<StackId, Record<string, string>>();
  private readonly described = new Map<StackId, Promise<Record<string, string> | undefined>>();
  private readonly statuses = new Map<string, string>();
  private bootstrapPromise?: Promise<string | undefined>;
  private pluginPromise?: Promise<string | undefined>;
  private zonesPromise?: Promise<[string, string]>;
  /** The SASL/IAM bootstrap brokers, once asked for. */
  bootstrap?: string;

  constructor(readonly opts: DeployOptions, readonly deps: DeployDeps) {
    this.log = deps.log ?? { line: () => {} };
    this.pollMs = deps.pollMs ?? DEFAULT_DEPLOY_POLL_MS;
    this.now = deps.now ?? (() => Date.now());
  }

  get cfn() {
    return this.deps.clients.cfn;
  }

  name(id: StackId): string {
    return stackName(this.opts.prefix, id);
  }

  /** One status line for every stack in flight, `network: CREATE_IN_PROGRESS (1m02s) · …`. */
  status(label: string, text: string | undefined): void {
    if (text === undefined) this.statuses.delete(label);
    else this.statuses.set(label, text);
    if (this.statuses.size) this.log.status?.([...this.statuses.values()].join(" · "));
  }

  /** Waits one poll interval; Ctrl-C turns into a message about what is still running. */
  async pause(what: string): Promise<void> {
    try {
      await delay(this.pollMs, this.deps.signal);
    } catch (err) {
      throw new Error(
        `Stopped following ${what}: CloudFormation carries on without us; run deploy again to follow it`,
        { cause: err },
      );
    }
  }

  /** Outputs of stack `id`, from this run or from CloudFormation; undefined when it does not exist. */
  outputsFor(id: StackId): Promise<Record<string, string> | undefined> {
    if (this.outputs.has(id)) return Promise.resolve(this.outputs.get(id));
    if (!this.described.has(id)) {
      this.described.set(
        id,
        describeStack(this.cfn, this.name(id)).then((stack) => {
          const status = stack?.StackStatus ?? "";
          if (!stack || /^(REVIEW_IN_PROGRESS|ROLLBACK_COMPLETE|DELETE_)/.test(status)) {
            return undefined;
          }
          return outputsOf(stack);
        }),
      );
    }
    return this.described.get(id)!;
  }

  /** Records the outputs of a stack this run deployed (later readers see them). */
  setOutputs(id: StackId, outputs: Record<string, string>): void {
    this.outputs.set(id, outputs);
    this.described.delete(id);
  }

  bootstrapBrokers(): Promise<string | undefined> {
    this.bootstrapPromise ??= (async () => {
      const msk = await this.outputsFor("msk");
      if (!msk?.ClusterArn) return undefined;
      this.bootstrap = await getIamBootstrap(this.deps.clients.kafka, msk.ClusterArn);
      this.log.line(`msk: bootstrap brokers (SASL/IAM) ${this.bootstrap}`);
      return this.bootstrap;
    })();
    return this.bootstrapPromise;
  }

  /**
   * The network's two zone names: the two lowest zone IDs MSK takes, or for a network stack
   * made before deploy chose zones, the ones its `!GetAZs` gave (so no subnet moves).
   */
  zones(existing: Stack | undefined): Promise<[string, string]> {
    this.zonesPromise ??= (async () => {
      const zones = await describeZones(this.deps.clients.ec2, this.opts.region);
      if (existing) {
        const kept = legacyZones(zones);
        if (!kept) {
          throw new Error(
            `Cannot keep the zones of stack "${this.name("network")}": fewer than two available`,
          );
        }
        this.log.line(`network: keeping the zones !GetAZs gave it: ${kept.join(", ")}`);
        return kept;
      }
      const pick = pickZones(zones, this.opts.region);
      this.log.line(
        `network: Availability Zones ${pick.names[0]} (${pick.ids[0]}), ${pick.names[1]} (${
          pick.ids[1]
        })`,
      );
      return pick.names;
    })();
    return this.zonesPromise;
  }

  /** The plugin zip's key in the lake bucket, uploading it first when it is not there. */
  pluginKey(): Promise<string | undefined> {
    this.pluginPromise ??= this.ensurePlugin();
    return this.pluginPromise;
  }

  private async ensurePlugin(): Promise<string | undefined> {
    const lake = await this.outputsFor("lake");
    if (!lake?.BucketName) return undefined;
    const source = this.opts.pluginUrl ?? S3_SINK_PLUGIN.url;
    const key = pluginObjectKey(source);
    const where = `s3://${lake.BucketName}/${key}`;
    try {
      await this.deps.clients.s3.send(new HeadObjectCommand({ Bucket: lake.BucketName, Key: key }));
      this.log.line(`connect: plugin already at ${where}`);
      return key;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if ((err as Error).name !== "NotFound" && status !== 404) {
        throw new Error(`Cannot check the connector plugin at "${where}"`, { cause: err });
      }
    }
    if (this.opts.dryRun) {
      this.log.line(`connect: would upload the plugin ${source} to ${where}`);
      return key;
    }
    const bytes = await readPluginZip(source, this.deps);
    await this.deps.clients.s3.send(
      new PutObjectCommand({
        Bucket: lake.BucketName,
        Key: key,
        Body: bytes,
        ContentType: "application/zip",
      }),
    );
    this.log.line(`connect: uploaded the plugin (${bytes.length} bytes) to ${where}`);
    return key;
  }

  /**
   * Parameter values for `def` (`existing` is the stack as it is, for values kept from its
   * last deploy), or the names of the stacks whose outputs are still missing.
   */
  async parameters(
    def: StackDef,
    template: Template,
    existing: Stack | undefined,
  ): Promise<{ values: Record<string, string>; missing: string[] }> {
    const values: Record<string, string> = {};
    const missing: string[] = [];
    const overrides = this.opts.params?.[def.id] ?? {};
    for (const [name, src] of Object.entries(def.params)) {
      if (name in overrides) continue;
      let value: string | undefined;
      if (src.from === "prefix") value = this.opts.prefix;
      else if (src.from === "output") {
        const outs = await this.outputsFor(src.stack);
        value = outs?.[src.output];
        if (outs && value === undefined) {
          throw new Error(
            `Cannot deploy stack "${this.name(def.id)}": stack "${
              this.name(src.stack)
            }" has no output "${src.output}"`,
          );
        }
        if (value === undefined) missing.push(src.stack);
      } else if (src.from === "bootstrap" || src.from === "restProxyProperties") {
        const bootstrap = await this.bootstrapBrokers();
        if (bootstrap === undefined) missing.push("msk");
        else if (src.from === "bootstrap") value = bootstrap;
        // A parameter cannot end in a newline CloudFormation keeps; the boot script's
        // here-document adds it back, so the file is byte for byte rest-proxy config's.
        else value = renderRestProxyProperties({ bootstrap }).replace(/\n$/, "");
      } else if (src.from === "plugin") {
        value = await this.pluginKey();
        if (value === undefined) missing.push("lake");
      } else if (src.from === "requirements") {
        value = await (this.deps.loadRequirements ?? loadRequirements)();
      } else if (src.from === "subnetBits") {
        const previous = existing?.Parameters?.find((p) => p.ParameterKey === "VpcCidr");
        const vpc = overrides.VpcCidr ?? previous?.ParameterValue ??
          String(template.Parameters?.VpcCidr?.Default ?? "");
        try {
          value = String(subnetBits(vpc));
        } catch (err) {
          throw new UsageError(`Invalid --param "${def.id}.VpcCidr": ${(err as Error).message}`);
        }
      } else if (src.from === "zone") {
        // A subnet's zone cannot change in place: an existing stack keeps its zones.
        const had = existing?.Parameters?.find((p) => p.ParameterKey === name);
        value = had?.ParameterValue ?? (await this.zones(existing))[src.index];
      } else if (src.from === "pinned") {
        const kept = outputsOf(existing)[src.output];
        if (kept && !/^(REVIEW_IN_PROGRESS|ROLLBACK_)/.test(existing?.StackStatus ?? "")) {
          value = kept;
        }
      }
      if (value !== undefined) values[name] = value;
    }
    for (const [name, value] of Object.entries(overrides)) {
      if (!template.Parameters || !(name in template.Parameters)) {
        throw new UsageError(
          `Invalid --param "${def.id}.${name}": stack "${def.id}" has no parameter "${name}" (it has ${
            Object.keys(template.Parameters ?? {}).join(", ")
          })`,
        );
      }
      values[name] = value;
    }
    if (!missing.length) await this.nameHashes(def, template, existing, values);
    return { values, missing: [...new Set(missing)] };
  }

  /**
   * Fills in `def`'s name-hash parameters (not set with --param): each hashes its
   * resource's create-only properties and the parameter values they use, so whatever
   * replaces a named resource renames it. A stack made before its resource had a hash keeps
   * the plain name ("") while what the hash covers is as it was.
   */
  private async nameHashes(
    def: StackDef,
    template: Template,
    existing: Stack | undefined,
    values: Record<string, string>,
  ): Promise<void> {
    const overrides = this.opts.params?.[def.id] ?? {};
    const previous = Object.fromEntries(
      (existing?.Parameters ?? []).map((p) => [p.ParameterKey!, p.ParameterValue ?? ""]),
    );
    const hashes = Object.entries(def.params).flatMap(([name, src]) =>
      src.from === "hash" && !(name in overrides) ? [{ name, src }] : []
    );
    const isHash = (p: string) => hashes.some((h) => h.name === p);
    const fallback = (p: string) => {
      const d = template.Parameters?.[p]?.Default;
      return d === undefined ? undefined : String(d);
    };
    const now = (p: string) => values[p] ?? previous[p] ?? fallback(p);
    const then = (p: string) => previous[p] ?? (isHash(p) ? "" : fallback(p));
    const pending = [...hashes];
    while (pending.length) {
      const ready = pending.findIndex(({ src }) =>
        src.from === "hash" &&
        hashInputs(template, def, src.resource, src.properties).every((p) =>
          !isHash(p) || p in values
        )
      );
      if (ready < 0) {
        throw new Error(`Cannot hash the names of stack "${def.id}": they need each other`);
      }
      const [{ name, src }] = pending.splice(ready, 1);
      if (src.from !== "hash") continue;
      const digest = await nameHash(template, def, src.resource, src.properties, now);
      const legacy = existing && !(name in previous) &&
        await nameHash(template, def, src.resource, src.properties, then) === digest;
      values[name] = legacy ? "" : digest;
    }
  }

  /**
   * The newest event of stack `name` (undefined when it has none or does not exist): the
   * events after it belong to what happens next. Event ids, not clocks, so a skewed local
   * clock cannot hide events.
   */
  async eventMarker(name: string): Promise<string | undefined> {
    return (await this.events(name))[0]?.EventId;
  }

  /** The stack's events, newest first: up to `pages` pages of 100, stopping at `marker`. */
  private async events(name: string, marker?: string, pages = 1): Promise<StackEvent[]> {
    const all: StackEvent[] = [];
    let token: string | undefined;
    for (let page = 0; page < pages; page++) {
      let out;
      try {
        out = await this.cfn.send(
          new DescribeStackEventsCommand({ StackName: name, NextToken: token }),
        );
      } catch (err) {
        if (/does not exist/i.test((err as Error).message ?? "")) return all;
        throw new Error(`Cannot read the events of stack "${name}"`, { cause: err });
      }
      all.push(...(out.StackEvents ?? []));
      token = out.NextToken;
      if (!token || (marker && all.some((e) => e.EventId === marker))) break;
    }
    return all;
  }

  /** Events newer than `marker`, oldest first (a long rollback may span several pages). */
  private async eventsAfter(name: string, marker: string | undefined): Promise<StackEvent[]> {
    const events = await this.events(name, marker, 5);
    const end = marker ? events.findIndex((e) => e.EventId === marker) : -1;
    return (end < 0 ? events : events.slice(0, end)).reverse();
  }

  /** Follows stack events after `marker` until the stack settles; returns the final stack. */
  async follow(name: string, marker: string | undefined, label: string): Promise<Stack> {
    const seen = new Set<string>();
    const started = this.now();
    for (;;) {
      for (const e of await this.eventsAfter(name, marker)) {
        if (!e.EventId || seen.has(e.EventId)) continue;
        seen.add(e.EventId);
        const reason = e.ResourceStatusReason ? `: ${e.ResourceStatusReason}` : "";
        this.log.line(
          `${label}: ${e.ResourceStatus} ${e.ResourceType} ${e.LogicalResourceId}${reason}`,
        );
      }
      const stack = await describeStack(this.cfn, name);
      const status = stack?.StackStatus ?? "DELETE_COMPLETE";
      this.status(label, `${label}: ${status} (${elapsed(this.now() - started)})`);
      if (!status.endsWith("_IN_PROGRESS")) {
        this.status(label, undefined);
        return stack ?? { StackName: name, StackStatus: status } as Stack;
      }
      await this.pause(`stack "${name}" (${status})`);
    }
  }

  /** The resources that failed after `marker`, root causes first, as one sentence. */
  async failureReason(name: string, marker: string | undefined): Promise<string> {
    let events: StackEvent[];
    try {
      events = await this.eventsAfter(name, marker);
    } catch {
      return "CloudFormation gave no events";
    }
    const failed = events
      .filter((e) => /_FAILED$/.test(e.ResourceStatus ?? ""))
      .filter((e) => e.LogicalResourceId !== e.StackName && e.PhysicalResourceId !== e.StackId);
    const causes = failed.filter((e) => !CANCELLED.test(e.ResourceStatusReason ?? ""));
    const shown = (causes.length ? causes : failed).slice(0, 3);
    if (!shown.length) return "no resource reported a failure";
    return shown.map((e) =>
      `resource "${e.LogicalResourceId}" (${e.ResourceType}) ${e.ResourceStatus}: ${
        e.ResourceStatusReason ?? "no reason given"
      }`
    ).join("; ");
  }

  /** Waits for an in-progress stack to settle before touching it. */
  async settle(name: string, stack: Stack | undefined, label: string): Promise<Stack | undefined> {
    const status = stack?.StackStatus ?? "";
    if (!status.endsWith("_IN_PROGRESS") || status === "REVIEW_IN_PROGRESS") return stack;
    this.log.line(`${label}: ${name} is ${status}; waiting for it to finish`);
    const settled = await this.follow(name, await this.eventMarker(name), label);
    return settled.StackStatus === "DELETE_COMPLETE" ? undefined : settled;
  }

  /** Deletes stack `name` and waits until it is gone. */
  async deleteStack(name: string, label: string): Promise<void> {
    const marker = await this.eventMarker(name);
    try {
      await this.cfn.send(new DeleteStackCommand({ StackName: name }));
    } catch (err) {
      throw new Error(`Cannot delete stack "${name}"`, { cause: err });
    }
    const final = await this.follow(name, marker, label);
    if (final.StackStatus !== "DELETE_COMPLETE") {
      throw new Error(
        `Cannot delete stack "${name}": ${await this.failureReason(
          name,
          marker,
        )}; the stack is ${final.StackStatus}`,
      );
    }
  }
}

async function changeSetChanges(
  cfn: CloudFormationClient,
  stack: string,
  changeSet: string,
  first: Change[] | undefined,
  next: string | undefined,
): Promise<ChangeLine[]> {
  const all: Change[] = [...(first ?? [])];
  let token = next;
  while (token) {
    const page = await cfn.send(
      new DescribeChangeSetCommand({
        StackName: stack,
        ChangeSetName: changeSet,
        NextToken: token,
      }),
    );
    all.push(...(page.Changes ?? []));
    token = page.NextToken;
  }
  return all.map((c) => ({
    action: c.ResourceChange?.Action ?? "?",
    logicalId: c.ResourceChange?.LogicalResourceId ?? "?",
    type: c.ResourceChange?.ResourceType ?? "?",
    replacement: c.ResourceChange?.Replacement,
  }));
}

/** One change as a plan line: `+ Vpc AWS::EC2::VPC`, `~ Stage … (replaced)`. */
export function formatChange(c: ChangeLine): string {
  const mark = c.action === "Add" ? "+" : c.action === "Remove" ? "-" : "~";
  const repl = c.replacement === "True"
    ? " (replaced)"
    : c.replacement === "Conditional"
    ? " (may be replaced)"
    : "";
  return `${mark} ${c.logicalId} ${c.type}${repl}`;
}

/** The plan line of one parameter source, for a dry run that cannot read AWS. */
function describeSource(src: ParamSource, region: string): string {
  switch (src.from) {
    case "output":
      return `output ${src.output} of ${src.stack}`;
    case "bootstrap":
      return "GetBootstrapBrokers of the msk stack's cluster";
    case "restProxyProperties":
      return "kafka-rest.properties for the msk stack's brokers";
    case "plugin":
      return `the plugin's key in the lake bucket (uploaded when missing)`;
    case "pinned":
      return `this stack's own ${src.output} output on updates (empty on create)`;
    case "hash":
      return `a hash of ${src.resource}'s ${
        src.properties.join(", ")
      } and the values they use, "-<10 hex digits>"`;
    case "zone":
      return `DescribeAvailabilityZones: zone ID ${
        expectedZoneIds(region)[src.index]
      } where the account has it (the lowest zone IDs MSK takes), kept on updates`;
    default:
      return src.from;
  }
}

/** What a dry run cannot know without AWS. */
const OFFLINE_UNCHECKED = [
  "whether each stack exists, so create or update, and the change sets CloudFormation would make",
  "the outputs of other stacks, MSK's bootstrap brokers and the plugin in the lake bucket (shown by where they come from)",
  "CloudFormation's own validation of the templates, resource quotas and your IAM permissions (the test suite runs cfn-lint on every template)",
];

/** The offline plan: waves, each stack's parameters and rendered template size. */
async function offlinePlan(
  run: Run,
  selected: StackDef[],
  templates: Map<StackId, Template>,
  graph: Map<StackId, StackId[]>,
): Promise<DeployPlan> {
  const ids = selected.map((d) => d.id);
  const sub = new Map([...graph].filter(([id]) => ids.includes(id)));
  const stacks: PlannedStack[] = [];
  for (const def of selected) {
    const template = templates.get(def.id)!;
    const overrides = run.opts.params?.[def.id] ?? {};
    const params: PlannedParam[] = [];
    for (const name of Object.keys(template.Parameters ?? {})) {
      const src = def.params[name];
      if (name in overrides) params.push({ name, value: overrides[name] });
      else if (!src) params.push({ name, value: String(template.Parameters![name].Default ?? "") });
      else if (src.from === "prefix") params.push({ name, value: run.opts.prefix });
      else if (src.from === "subnetBits") {
        const vpc = overrides.VpcCidr ?? String(template.Parameters?.VpcCidr?.Default ?? "");
        params.push({ name, value: String(subnetBits(vpc)) });
      } else if (src.from === "requirements") {
        const text = await (run.deps.loadRequirements ?? loadRequirements)();
        params.push({ name, from: `dags/requirements.txt (${templateBytes(text)} bytes)` });
      } else params.push({ name, from: describeSource(src, run.opts.region) });
    }
    const body = JSON.stringify(await renderTemplate(template));
    stacks.push({
      id: def.id,
      stackName: run.name(def.id),
      needs: graph.get(def.id) ?? [],
      params,
      templateBytes: templateBytes(body),
      resources: Object.keys(template.Resources ?? {}).length,
    });
  }
  return {
    waves: deployWaves(sub),
    stacks,
    estimateMinutes: firstDeployMinutes(graph, ids),
    unchecked: [],
  };
}

/**
 * Creates or updates one stack through a change set (a dry run makes the change set, lists
 * it and deletes it), after deleting a stack left by a failed create.
 */
async function deployOne(run: Run, def: StackDef, template: Template): Promise<StackResult> {
  const name = run.name(def.id);
  const label = def.id;
  const t0 = run.now();
  const result = (
    action: StackResult["action"],
    extra: Partial<StackResult> = {},
  ): StackResult => ({
    id: def.id,
    stackName: name,
    action,
    changes: [],
    outputs: {},
    seconds: (run.now() - t0) / 1000,
    ...extra,
  });

  let existing = await run.settle(name, await describeStack(run.cfn, name), label);
  const { values, missing } = await run.parameters(def, template, existing);
  if (missing.length) {
    const planned = planWithoutUpstream(run, name, template, missing);
    return result(existing ? "would-update" : "would-create", planned);
  }

  if (/^(ROLLBACK_COMPLETE|ROLLBACK_FAILED)$/.test(existing?.StackStatus ?? "")) {
    if (run.opts.dryRun) {
      return result("would-create", {
        note: `${name} is ${
          existing!.StackStatus
        } after a failed create: deploy deletes it and creates it again`,
      });
    }
    run.log.line(
      `${label}: ${name} is ${existing!.StackStatus} after a failed create; deleting it first`,
    );
    await run.deleteStack(name, label);
    existing = undefined;
  }
  if (/^(DELETE_FAILED|UPDATE_ROLLBACK_FAILED)$/.test(existing?.StackStatus ?? "")) {
    throw new Error(
      `Cannot deploy stack "${name}": it is ${
        existing!.StackStatus
      }; fix it in the CloudFormation console first`,
    );
  }

  const create = !existing || existing.StackStatus === "REVIEW_IN_PROGRESS";
  const changeSet = await createChangeSet(run, def, template, values, existing, create);
  const changes = changeSet && await changeSetReady(run, name, label, changeSet, create);
  if (!changeSet || !changes) {
    run.log.line(`${label}: no changes`);
    return result("unchanged", { outputs: outputsOf(existing) });
  }

  if (run.opts.dryRun) {
    await run.cfn.send(new DeleteChangeSetCommand({ StackName: name, ChangeSetName: changeSet }));
    // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS behind.
    if (create) await run.cfn.send(new DeleteStackCommand({ StackName: name }));
    return result(create ? "would-create" : "would-update", { changes });
  }
  const final = await executeChangeSet(run, name, label, changeSet, changes, create);
  return result(create ? "created" : "updated", { changes, outputs: outputsOf(final) });
}

/**
 * A stack whose parameters need outputs of stacks that do not exist yet: an error, or in a
 * dry run (which cannot make a change set without them) the template's resources.
 */
function planWithoutUpstream(
  run: Run,
  name: string,
  template: Template,
  missing: string[],
): Partial<StackResult> {
  if (!run.opts.dryRun) {
    throw new Error(
      `Cannot deploy stack "${name}": it needs outputs of ${
        missing.map((m) => `"${run.name(m as StackId)}"`).join(", ")
      }, which ${missing.length === 1 ? "does" : "do"} not exist yet: deploy ${
        missing.join(", ")
      } first`,
    );
  }
  const changes = Object.entries(template.Resources ?? {}).map(([id, r]) => ({
    action: "Add",
    logicalId: id,
    type: String(r.Type),
  }));
  return {
    changes,
    note: `the change set needs ${
      missing.join(", ")
    } to exist first; these are the template's resources`,
  };
}

/**
 * Creates the stack's change set with the rendered template and its parameters; returns
 * its name, or undefined where an update has no changes (moto refuses to make the set).
 */
async function createChangeSet(
  run: Run,
  def: StackDef,
  template: Template,
  values: Record<string, string>,
  existing: Stack | undefined,
  create: boolean,
): Promise<string | undefined> {
  const name = run.name(def.id);
  const body = JSON.stringify(await renderTemplate(template));
  const bytes = templateBytes(body);
  if (bytes > TEMPLATE_BODY_LIMIT) {
    throw new Error(
      `Cannot deploy stack "${name}": its template is ${bytes} bytes (limit ${TEMPLATE_BODY_LIMIT})`,
    );
  }
  const previous = new Set((existing?.Parameters ?? []).map((p) => p.ParameterKey));
  const parameters: Parameter[] = Object.keys(template.Parameters ?? {}).flatMap(
    (key): Parameter[] => {
      if (key in values) return [{ ParameterKey: key, ParameterValue: values[key] }];
      // --param values stick: an update keeps what the stack has unless told otherwise.
      if (!create && previous.has(key)) return [{ ParameterKey: key, UsePreviousValue: true }];
      return [];
    },
  );
  // Named after the stack too: stacks deploy together, and a name some tools (moto) look
  // up without its stack must not match another stack's change set of the same second.
  const changeSetName = `pinpipe-${def.id}-${
    new Date(run.now()).toISOString().replace(/[^0-9]/g, "").slice(0, 14)
  }`;
  try {
    await run.cfn.send(
      new CreateChangeSetCommand({
        StackName: name,
        ChangeSetName: changeSetName,
        ChangeSetType: create ? "CREATE" : "UPDATE",
        TemplateBody: body,
        Parameters: parameters,
        Capabilities: CAPABILITIES,
        Tags: [{ Key: "pinpipe:prefix", Value: run.opts.prefix }],
        Description: `pinpipe deploy of ${def.id}`,
      }),
    );
  } catch (err) {
    // CloudFormation reports "no changes" on the change set; some implementations (moto)
    // refuse to make one instead. Either way the stack is as wanted.
    if (!create && NO_CHANGES.test((err as Error).message ?? "")) return undefined;
    throw new Error(`Cannot create a change set for stack "${name}"`, { cause: err });
  }
  return changeSetName;
}

/**
 * Waits for the change set to be made; returns its changes, or undefined where an update
 * has none (the empty change set is deleted).
 */
async function changeSetReady(
  run: Run,
  name: string,
  label: string,
  changeSet: string,
  create: boolean,
): Promise<ChangeLine[] | undefined> {
  for (;;) {
    const cs = await run.cfn.send(
      new DescribeChangeSetCommand({ StackName: name, ChangeSetName: changeSet }),
    );
    const status = cs.Status ?? "";
    if (status === "CREATE_COMPLETE") {
      run.status(label, undefined);
      return await changeSetChanges(run.cfn, name, changeSet, cs.Changes, cs.NextToken);
    }
    if (status === "FAILED") {
      await run.cfn.send(new DeleteChangeSetCommand({ StackName: name, ChangeSetName: changeSet }));
      run.status(label, undefined);
      if (!create && NO_CHANGES.test(cs.StatusReason ?? "")) return undefined;
      throw new Error(`Cannot plan stack "${name}": ${cs.StatusReason ?? "the change set failed"}`);
    }
    run.status(label, `${label}: change set ${status}`);
    await run.pause(`change set "${changeSet}" of stack "${name}"`);
  }
}

/** Executes the change set and follows the stack's events to the end; returns the stack. */
async function executeChangeSet(
  run: Run,
  name: string,
  label: string,
  changeSet: string,
  changes: ChangeLine[],
  create: boolean,
): Promise<Stack> {
  run.log.line(
    `${label}: ${create ? "creating" : "updating"} ${name} (${changes.length} change${
      changes.length === 1 ? "" : "s"
    })`,
  );
  if (!create) { for (const c of changes) run.log.line(`${label}:   ${formatChange(c)}`); }
  const marker = await run.eventMarker(name);
  await run.cfn.send(new ExecuteChangeSetCommand({ StackName: name, ChangeSetName: changeSet }));
  const final = await run.follow(name, marker, label);
  const ok = create ? "CREATE_COMPLETE" : "UPDATE_COMPLETE";
  if (final.StackStatus !== ok) {
    const hint = final.StackStatus === "ROLLBACK_COMPLETE"
      ? " (deploy again deletes it and retries)"
      : "";
    throw new Error(
      `Cannot ${create ? "create" : "update"} stack "${name}": ${await run.failureReason(
        name,
        marker,
      )}; the stack is ${final.StackStatus}${hint}`,
    );
  }
  return final;
}

/** The config values the stacks' outputs give (keys per lib/shell/config.ts). */
function configValues(run: Run): Record<string, string> {
  const values: Record<string, string> = { region: run.opts.region, prefix: run.opts.prefix };
  for (const def of STACKS) {
    const outs = run.outputs.get(def.id);
    if (!outs) continue;
    for (const [output, key] of Object.entries(def.config)) {
      if (outs[output] !== undefined) values[key] = outs[output];
    }
  }
  const network = run.outputs.get("network");
  if (network) {
    // What `deno task connector` reads when it manages the connector through the SDK.
    values.connectorSubnets = network.PrivateSubnetIds;
    values.connectorSecurityGroups = network.KafkaClientSecurityGroupId;
  }
  if (run.bootstrap) values.bootstrapBrokers = run.bootstrap;
  return values;
}

/**
 * Runs `job` for every stack of `ids` once the stacks it waits for (`waitsFor`, within
 * `ids`) are done, as many at a time as are ready. After a failure no new stack starts; the
 * ones in flight finish (CloudFormation carries on anyway), then the first error is thrown,
 * naming the others.
 */
async function runGraph(
  ids: StackId[],
  waitsFor: (id: StackId) => StackId[],
  job: (id: StackId) => Promise<void>,
): Promise<void> {
  const done = new Set<StackId>();
  const running = new Map<StackId, Promise<void>>();
  const errors: Error[] = [];
  const pending = new Set(ids);
  for (;;) {
    if (!errors.length) {
      for (const id of [...pending]) {
        if (waitsFor(id).every((d) => done.has(d) || !ids.includes(d))) {
          pending.delete(id);
          running.set(
            id,
            job(id).then(
              () => void done.add(id),
              (err) => void errors.push(err as Error),
            ).finally(() => running.delete(id)),
          );
        }
      }
    }
    if (!running.size) break;
    await Promise.race(running.values());
  }
  if (errors.length) {
    const [first, ...rest] = errors;
    if (rest.length) {
      first.message += `; also: ${rest.map((e) => e.message).join("; ")}`;
    }
    throw first;
  }
}

/**
 * Deploys the selected stacks, each as soon as the stacks it needs are up (or, with
 * `dryRun`, plans them: offline, plus change sets where credentials reach AWS), and returns
 * what happened plus the config values to save. The templates' wiring is checked first;
 * nothing is touched when it has problems.
 */
export async function deploy(opts: DeployOptions, deps: DeployDeps): Promise<DeployResult> {
  const run = new Run(opts, deps);
  const load = deps.loadTemplate ?? loadTemplate;
  const templates = new Map<StackId, Template>();
  for (const def of STACKS) templates.set(def.id, await load(def.id));
  const problems = checkWiring(templates, STACKS);
  if (problems.length) {
    throw new Error(
      `Cannot deploy: the templates have ${problems.length} problem${
        problems.length === 1 ? "" : "s"
      }:\n  ${problems.join("\n  ")}`,
    );
  }
  for (const [id, params] of Object.entries(opts.params ?? {})) {
    const t = templates.get(id as StackId);
    for (const name of Object.keys(params ?? {})) {
      if (!t?.Parameters || !(name in t.Parameters)) {
        throw new UsageError(
          `Invalid --param "${id}.${name}": stack "${id}" has no parameter "${name}"`,
        );
      }
    }
  }
  if (opts.params?.network?.VpcCidr !== undefined) {
    try {
      subnetBits(opts.params.network.VpcCidr);
    } catch (err) {
      throw new UsageError(`Invalid --param "network.VpcCidr": ${(err as Error).message}`);
    }
  }
  const graph = stackGraph(templates);
  const selected = selectStacks(opts.only);
  const ids = selected.map((d) => d.id);
  const base = { region: opts.region, prefix: opts.prefix, dryRun: !!opts.dryRun };
  const refusal = regionRefusal(
    opts.region,
    selected.map((d) => ({
      stack: d.id,
      types: neededTypes(templates.get(d.id)!, opts.params?.[d.id]),
    })),
  );
  if (refusal) throw new UsageError(`Cannot deploy to "${opts.region}": ${refusal}`);

  if (opts.dryRun) {
    const plan = await offlinePlan(run, selected, templates, graph);
    const online = await (deps.hasCredentials ?? (() => credentialsResolve(run.cfn)))();
    if (!online) {
      plan.unchecked = OFFLINE_UNCHECKED;
      run.log.line("no AWS credentials: the plan is offline (see what it could not check)");
      const stacks = plan.stacks.map((p): StackResult => ({
        id: p.id,
        stackName: p.stackName,
        action: "planned",
        changes: [],
        outputs: {},
        seconds: 0,
      }));
      return {
        ...base,
        stacks,
        plan,
        config: { region: opts.region, prefix: opts.prefix },
        confirmed: true,
      };
    }
    const results: StackResult[] = [];
    for (const wave of plan.waves) {
      for (
        const r of await Promise.all(
          wave.map((id) => deployOne(run, stackDefOf(id), templates.get(id)!)),
        )
      ) {
        results.push(r);
        run.log.line(`${r.id}: ${r.action}`);
      }
    }
    return {
      ...base,
      stacks: order(results, plan.waves.flat()),
      plan,
      config: configValues(run),
      confirmed: true,
    };
  }

  const results: StackResult[] = [];
  await runGraph(ids, (id) => graph.get(id) ?? [], async (id) => {
    const r = await deployOne(run, stackDefOf(id), templates.get(id)!);
    results.push(r);
    run.setOutputs(id, r.outputs);
    run.log.line(`${id}: ${r.action} in ${elapsed(r.seconds * 1000)}`);
    if (id === "mwaa") await storeDatabricks(run, r.outputs);
  });
  return {
    ...base,
    stacks: order(
      results,
      deployWaves(new Map([...graph].filter(([id]) => ids.includes(id)))).flat(),
    ),
    config: configValues(run),
    confirmed: true,
  };
}

function stackDefOf(id: StackId): StackDef {
  return STACKS.find((s) => s.id === id)!;
}

/**
 * The Airflow connection databricks_default as deploy stores it in Secrets Manager: JSON that
 * Airflow's SecretsManagerBackend reads (host with its scheme, the token as password).
 */
export function databricksConnection(db: { host: string; token: string }): string {
  const host = /^https?:\/\//.test(db.host) ? db.host : `https://${db.host}`;
  return JSON.stringify({ conn_type: "databricks", host, password: db.token });
}

async function storeDatabricks(run: Run, outputs: Record<string, string>): Promise<void> {
  const arn = outputs.DatabricksConnectionSecretArn;
  const db = run.opts.databricks;
  if (!db) {
    run.log.line(
      `mwaa: DATABRICKS_HOST and DATABRICKS_TOKEN are not set, so the Airflow connection databricks_default in ${
        arn ?? "Secrets Manager"
      } has no workspace yet: set both and run deploy --only mwaa`,
    );
    return;
  }
  const host = /^https?:\/\//.test(db.host) ? db.host : `https://${db.host}`;
  try {
    await run.deps.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: databricksConnection(db),
      }),
    );
  } catch (err) {
    throw new Error(`Cannot store the Databricks connection in "${arn}"`, { cause: err });
  }
  run.log.line(`mwaa: stored the Databricks connection (${host}) in ${arn}`);
}

/** Deletes every object version and delete marker in `bucket`; returns how many. */
export async function emptyBucket(s3: S3Client, bucket: string): Promise<number> {
  let removed = 0;
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
        }),
      );
    } catch (err) {
      if ((err as Error).name === "NoSuchBucket") return removed;
      throw new Error(`Cannot list the objects of bucket "${bucket}"`, { cause: err });
    }
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
      .filter((v) => v.Key)
      .map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
    for (let i = 0; i < objects.length; i += 1000) {
      const batch = objects.slice(i, i + 1000);
      const out = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      if (out.Errors?.length) {
        const e = out.Errors[0];
        throw new Error(
          `Cannot empty bucket "${bucket}": deleting "${e.Key}" failed with ${e.Code}: ${e.Message}`,
        );
      }
      removed += batch.length;
    }
    if (!page.IsTruncated) return removed;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
}

/**
 * Deletes the selected stacks after a confirmation (or `yes`), each once the stacks that
 * need it are gone (independent ones together), emptying the buckets they own first
 * (CloudFormation cannot delete a bucket that holds objects, or old versions of them).
 * Returns the config keys to remove (their value is undefined).
 */
export async function destroy(
  opts: DeployOptions & { yes?: boolean },
  deps: DeployDeps,
): Promise<DeployResult> {
  const run = new Run(opts, deps);
  const load = deps.loadTemplate ?? loadTemplate;
  const templates = new Map<StackId, Template>();
  for (const def of STACKS) templates.set(def.id, await load(def.id));
  const graph = stackGraph(templates);
  const deleteOrder = deployWaves(graph).flat().reverse();
  const selected = selectStacks(opts.only);
  const existing: { def: StackDef; stack: Stack }[] = [];
  const results: StackResult[] = [];
  for (const def of selected) {
    const stack = await describeStack(run.cfn, run.name(def.id));
    if (stack) existing.push({ def, stack });
    else {
      results.push({
        id: def.id,
        stackName: run.name(def.id),
        action: "absent",
        changes: [],
        outputs: {},
        seconds: 0,
      });
    }
  }
  existing.sort((a, b) => deleteOrder.indexOf(a.def.id) - deleteOrder.indexOf(b.def.id));
  const buckets = existing.flatMap(({ def, stack }) =>
    def.buckets.map((b) => outputsOf(stack)[b]).filter(Boolean)
  );
  const base = { region: opts.region, prefix: opts.prefix, dryRun: !!opts.dryRun, config: {} };
  if (!existing.length) return { ...base, stacks: results, confirmed: true };

  const names = existing.map(({ def }) => run.name(def.id));
  if (opts.dryRun) {
    for (const { def } of existing) {
      results.push({
        id: def.id,
        stackName: run.name(def.id),
        action: "would-delete",
        changes: [],
        outputs: {},
        seconds: 0,
      });
    }
    return { ...base, stacks: order(results, deleteOrder), confirmed: true };
  }
  const question = `Delete ${names.length} stack${
    names.length === 1 ? "" : "s"
  } in ${opts.region} (${names.join(", ")})${
    buckets.length
      ? `, first deleting every object in ${buckets.map((b) => `s3://${b}`).join(", ")}`
      : ""
  }?`;
  if (!opts.yes) {
    if (!deps.confirm) {
      throw new UsageError(
        `Refusing to delete ${names.join(", ")} without confirmation: pass --yes`,
      );
    }
    if (!(await deps.confirm(question))) {
      return { ...base, stacks: results, confirmed: false };
    }
  }

  const kc = run.deps.clients.kafkaconnect;
  if (kc && existing.some((e) => e.def.id === "connect")) {
    // Its connectors use the network's subnets: they go before any stack does.
    const gone = await removeConnectorResources(kc, opts.prefix, {
      pollMs: run.pollMs,
      signal: run.deps.signal,
      log: (line) => run.log.line(line),
    });
    for (const what of gone) run.log.line(`connect: deleted ${what} (made by deno task connector)`);
  }
  const config: Record<string, string | undefined> = {};
  const byId = new Map(existing.map((e) => [e.def.id, e]));
  const ids = existing.map((e) => e.def.id);
  // A stack goes once every stack that needs it is gone.
  const dependents = (id: StackId) => ids.filter((other) => graph.get(other)?.includes(id));
  await runGraph(ids, dependents, async (id) => {
    const { def, stack } = byId.get(id)!;
    const t0 = run.now();
    const name = run.name(def.id);
    const settled = await run.settle(name, stack, def.id);
    if (settled) {
      for (const output of def.buckets) {
        const bucket = outputsOf(settled)[output];
        if (!bucket) continue;
        const n = await emptyBucket(run.deps.clients.s3, bucket);
        run.log.line(
          `${def.id}: emptied s3://${bucket} (${n} object version${n === 1 ? "" : "s"})`,
        );
      }
      await run.deleteStack(name, def.id);
    }
    run.log.line(`${def.id}: deleted in ${elapsed(run.now() - t0)}`);
    results.push({
      id: def.id,
      stackName: name,
      action: "deleted",
      changes: [],
      outputs: {},
      seconds: (run.now() - t0) / 1000,
    });
    for (const key of Object.values(def.config)) config[key] = undefined;
    if (def.id === "msk") config.bootstrapBrokers = undefined;
    if (def.id === "network") {
      config.connectorSubnets = undefined;
      config.connectorSecurityGroups = undefined;
    }
  });
  return { ...base, stacks: order(results, deleteOrder), config, confirmed: true };
}

/** Results in `sequence` order (the deploy waves, or their reverse for destroy). */
function order(results: StackResult[], sequence: StackId[]): StackResult[] {
  const rank = (id: StackId) => sequence.indexOf(id);
  return [...results].sort((a, b) => rank(a.id) - rank(b.id));
}

/** What `runDeploy` is asked to do. */
export interface DeployJob extends DeployOptions {
  /** Tear the stacks down instead. */
  destroy: boolean;
  /** Destroy without asking. */
  yes: boolean;
  /** Where the outputs are saved (they are not, in a dry run). */
  configPath: string;
}

/**
 * Deploys (or destroys) with clients for `job.region` unless `deps` brings its own, then
 * saves the outputs to `job.configPath`; `saved` says whether it did.
 */
export async function runDeploy(
  job: DeployJob,
  deps: Omit<DeployDeps, "clients"> & { clients?: AwsClients },
): Promise<{ result: DeployResult; saved: boolean }> {
  const region = { region: job.region };
  const clients = deps.clients ?? {
    cfn: new CloudFormationClient(region),
    ec2: new EC2Client(region),
    kafka: new KafkaClient(region),
    s3: new S3Client(region),
    secrets: new SecretsManagerClient(region),
    kafkaconnect: new KafkaConnectClient(region),
  };
  const result = job.destroy
    ? await destroy(job, { ...deps, clients })
    : await deploy(job, { ...deps, clients });
  const saved = !job.dryRun && result.confirmed && Object.keys(result.config).length > 0;
  if (saved) await saveConfig(result.config, job.configPath);
  return { result, saved };
}

/** The result as the lines a person reads. */
export function formatDeployResult(r: DeployResult, configPath: string, saved: boolean): string {
  const plan = r.plan;
  const offline = !!plan?.unchecked.length;
  const lines = [
    `${r.dryRun ? "plan for" : "stacks of"} "${r.prefix}" in ${r.region}${
      offline ? " (offline: no AWS credentials)" : ""
    }:`,
  ];
  if (plan) {
    lines.push(
      `  order: ${
        plan.waves.map((w) => w.join(" + ")).join(", then ")
      } (a first deploy takes about ${plan.estimateMinutes} min)`,
    );
  }
  const width = Math.max(...r.stacks.map((s) => s.stackName.length));
  for (const s of r.stacks) {
    const time = s.seconds >= 1 ? ` (${Math.round(s.seconds)} s)` : "";
    const planned = plan?.stacks.find((p) => p.id === s.id);
    const size = planned
      ? ` (${planned.resources} resources, template ${
        planned.templateBytes.toLocaleString("en-US")
      } bytes${planned.needs.length ? `, after ${planned.needs.join(", ")}` : ""})`
      : "";
    lines.push(`  ${s.stackName.padEnd(width)}  ${s.action}${time}${size}`);
    if (planned) {
      for (const p of planned.params) {
        lines.push(`      ${p.name} ${p.from === undefined ? `= ${p.value}` : `<- ${p.from}`}`);
      }
    }
    if (r.dryRun) { for (const c of s.changes) lines.push(`      ${formatChange(c)}`); }
    if (s.note) lines.push(`      note: ${s.note}`);
  }
  if (offline) {
    lines.push("not checked offline:");
    for (const u of plan!.unchecked) lines.push(`  - ${u}`);
  }
  const keys = Object.entries(r.config);
  if (saved && keys.length) {
    lines.push(`saved to ${configPath}:`);
    for (const [k, v] of keys) lines.push(`  ${k} = ${v ?? "(removed)"}`);
  }
  return lines.join("\n");
}
