/**
 * The CloudFormation driver behind `deno task deploy`: brings the stacks of lib/stacks.ts up
 * in order through change sets (create or update; "no changes" is success), wires each
 * stack's outputs into the next stacks' parameters, fills in what CloudFormation cannot
 * (the MSK bootstrap brokers, the connector plugin zip in the lake bucket, the Databricks
 * connection secret), follows stack events as progress, reports a failure by the resource
 * that failed and why, and tears everything down again in reverse order.
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
} from "./deps/aws_cloudformation.ts";
import type { Change, Parameter, Stack, StackEvent } from "./deps/aws_cloudformation.ts";
import { KafkaClient } from "./deps/aws_kafka.ts";
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "./deps/aws_s3.ts";
import { PutSecretValueCommand, SecretsManagerClient } from "./deps/aws_secrets_manager.ts";
import { getIamBootstrap } from "./bootstrap_brokers.ts";
import { S3_SINK_PLUGIN } from "./connector_config.ts";
import { validateStacks } from "./cfn_validate.ts";
import { UsageError } from "./errors.ts";
import { delay } from "./retry.ts";
import { loadRequirements, loadTemplate, renderTemplate, stackName, STACKS } from "./stacks.ts";
import type { StackDef, StackId, Template } from "./stacks.ts";

/** The AWS clients deploy talks to (tests pass mocked ones). */
export interface AwsClients {
  cfn: CloudFormationClient;
  kafka: KafkaClient;
  s3: S3Client;
  secrets: SecretsManagerClient;
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
  /** Milliseconds between polls of CloudFormation. Default 10 s. */
  pollMs?: number;
  now?: () => number;
}

/** What `deploy` is asked to do. */
export interface DeployOptions {
  region: string;
  prefix: string;
  /** Stacks to deploy (default all), always in dependency order. */
  only?: StackId[];
  /** Validate, create change sets, print them, delete them: change nothing. */
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
  /** created, updated, unchanged, deleted, absent (nothing to delete), or would-* in a dry run. */
  action:
    | "created"
    | "updated"
    | "unchanged"
    | "deleted"
    | "absent"
    | "would-create"
    | "would-update"
    | "would-delete";
  changes: ChangeLine[];
  outputs: Record<string, string>;
  seconds: number;
  note?: string;
}

/** The result of `deploy` or `destroy`. */
export interface DeployResult {
  region: string;
  prefix: string;
  dryRun: boolean;
  stacks: StackResult[];
  /** Values saved (or, in a dry run, that would be saved) to the config file. */
  config: Record<string, string | undefined>;
  /** False when destroy was declined. */
  confirmed: boolean;
}

const DEFAULT_POLL_MS = 10_000;
const TEMPLATE_BODY_LIMIT = 51_200;
const NO_CHANGES = /didn't contain changes|No updates are to be performed|no changes/i;
const CANCELLED = /cancelled|The following resource\(s\) failed/i;

/** Stacks of `only` (or all) in deploy order. */
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

/** Everything one run shares. */
class Run {
  readonly log: DeployLog;
  readonly pollMs: number;
  readonly now: () => number;
  readonly outputs = new Map<StackId, Record<string, string>>();
  /** The SASL/IAM bootstrap brokers, once asked for. */
  bootstrap?: string;

  constructor(readonly opts: DeployOptions, readonly deps: DeployDeps) {
    this.log = deps.log ?? { line: () => {} };
    this.pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
    this.now = deps.now ?? (() => Date.now());
  }

  get cfn() {
    return this.deps.clients.cfn;
  }

  name(id: StackId): string {
    return stackName(this.opts.prefix, id);
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
  async outputsFor(id: StackId): Promise<Record<string, string> | undefined> {
    if (!this.outputs.has(id)) {
      const stack = await describeStack(this.cfn, this.name(id));
      if (
        !stack || /^(REVIEW_IN_PROGRESS|ROLLBACK_COMPLETE|DELETE_)/.test(stack.StackStatus ?? "")
      ) {
        return undefined;
      }
      this.outputs.set(id, outputsOf(stack));
    }
    return this.outputs.get(id);
  }

  async bootstrapBrokers(): Promise<string | undefined> {
    if (this.bootstrap) return this.bootstrap;
    const msk = await this.outputsFor("msk");
    if (!msk?.ClusterArn) return undefined;
    this.bootstrap = await getIamBootstrap(this.deps.clients.kafka, msk.ClusterArn);
    this.log.line(`msk: bootstrap brokers (SASL/IAM) ${this.bootstrap}`);
    return this.bootstrap;
  }

  /** The plugin zip's key in the lake bucket, uploading it first when it is not there. */
  async pluginKey(): Promise<string | undefined> {
    const lake = await this.outputsFor("lake");
    if (!lake?.BucketName) return undefined;
    const source = this.opts.pluginUrl ?? S3_SINK_PLUGIN.url;
    const file = source.split(/[\\/]/).pop() || S3_SINK_PLUGIN.file;
    const key = `plugins/${file}`;
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
    const bytes = await this.readPlugin(source);
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

  private async readPlugin(source: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    if (/^https?:\/\//.test(source)) {
      const res = await (this.deps.fetch ?? fetch)(source, { signal: this.deps.signal });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`Cannot download the connector plugin "${source}": HTTP ${res.status}`);
      }
      bytes = new Uint8Array(await res.arrayBuffer());
    } else {
      bytes = await (this.deps.readFile ?? Deno.readFile)(source);
    }
    if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
      throw new Error(`Cannot use the connector plugin "${source}": it is not a zip file`);
    }
    return bytes;
  }

  /** Parameter values for `def`, or the names of the stacks whose outputs are still missing. */
  async parameters(
    def: StackDef,
    template: Template,
  ): Promise<{ values: Record<string, string>; missing: string[] }> {
    const values: Record<string, string> = {};
    const missing: string[] = [];
    for (const [name, src] of Object.entries(def.params)) {
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
      } else if (src.from === "bootstrap") {
        value = await this.bootstrapBrokers();
        if (value === undefined) missing.push("msk");
      } else if (src.from === "plugin") {
        value = await this.pluginKey();
        if (value === undefined) missing.push("lake");
      } else if (src.from === "requirements") {
        value = await (this.deps.loadRequirements ?? loadRequirements)();
      }
      if (value !== undefined) values[name] = value;
    }
    const overrides = this.opts.params?.[def.id] ?? {};
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
    return { values, missing: [...new Set(missing)] };
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
      this.log.status?.(`${label}: ${status} (${elapsed(this.now() - started)})`);
      if (!status.endsWith("_IN_PROGRESS")) {
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
    await this.cfn.send(new DeleteStackCommand({ StackName: name }));
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

async function deployOne(run: Run, def: StackDef, template: Template): Promise<StackResult> {
  const { cfn } = run;
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

  let existing = await run.settle(name, await describeStack(cfn, name), label);
  const { values, missing } = await run.parameters(def, template);
  if (missing.length) {
    if (!run.opts.dryRun) {
      throw new Error(
        `Cannot deploy stack "${name}": it needs outputs of ${
          missing.map((m) => `"${run.name(m as StackId)}"`).join(", ")
        }, which ${missing.length === 1 ? "does" : "do"} not exist yet: deploy ${
          missing.join(", ")
        } first`,
      );
    }
    // A dry run without the upstream stacks cannot make a change set: list the template.
    const changes = Object.entries(template.Resources ?? {}).map(([id, r]) => ({
      action: "Add",
      logicalId: id,
      type: String(r.Type),
    }));
    return result(existing ? "would-update" : "would-create", {
      changes,
      note: `the change set needs ${
        missing.join(", ")
      } to exist first; these are the template's resources`,
    });
  }

  const failedCreate = /^(ROLLBACK_COMPLETE|ROLLBACK_FAILED)$/.test(existing?.StackStatus ?? "");
  if (failedCreate) {
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
  const rendered = await renderTemplate(template);
  const body = JSON.stringify(rendered);
  if (body.length > TEMPLATE_BODY_LIMIT) {
    throw new Error(
      `Cannot deploy stack "${name}": its template is ${body.length} bytes (limit ${TEMPLATE_BODY_LIMIT})`,
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
  const changeSetName = `pinpipe-${
    new Date(run.now()).toISOString().replace(/[^0-9]/g, "").slice(0, 14)
  }`;
  try {
    await cfn.send(
      new CreateChangeSetCommand({
        StackName: name,
        ChangeSetName: changeSetName,
        ChangeSetType: create ? "CREATE" : "UPDATE",
        TemplateBody: body,
        Parameters: parameters,
        Capabilities: ["CAPABILITY_IAM"],
        Tags: [{ Key: "pinpipe:prefix", Value: run.opts.prefix }],
        Description: `pinpipe deploy of ${def.id}`,
      }),
    );
  } catch (err) {
    throw new Error(`Cannot create a change set for stack "${name}"`, { cause: err });
  }

  let changes: ChangeLine[] = [];
  for (;;) {
    const cs = await cfn.send(
      new DescribeChangeSetCommand({ StackName: name, ChangeSetName: changeSetName }),
    );
    const status = cs.Status ?? "";
    if (status === "CREATE_COMPLETE") {
      changes = await changeSetChanges(cfn, name, changeSetName, cs.Changes, cs.NextToken);
      break;
    }
    if (status === "FAILED") {
      await cfn.send(new DeleteChangeSetCommand({ StackName: name, ChangeSetName: changeSetName }));
      if (!create && NO_CHANGES.test(cs.StatusReason ?? "")) {
        run.log.line(`${label}: no changes`);
        return result("unchanged", { outputs: outputsOf(existing) });
      }
      throw new Error(`Cannot plan stack "${name}": ${cs.StatusReason ?? "the change set failed"}`);
    }
    run.log.status?.(`${label}: change set ${status}`);
    await run.pause(`change set "${changeSetName}" of stack "${name}"`);
  }

  if (run.opts.dryRun) {
    await cfn.send(new DeleteChangeSetCommand({ StackName: name, ChangeSetName: changeSetName }));
    // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS behind.
    if (create) await cfn.send(new DeleteStackCommand({ StackName: name }));
    return result(create ? "would-create" : "would-update", { changes });
  }

  run.log.line(
    `${label}: ${create ? "creating" : "updating"} ${name} (${changes.length} change${
      changes.length === 1 ? "" : "s"
    })`,
  );
  if (!create) { for (const c of changes) run.log.line(`${label}:   ${formatChange(c)}`); }
  const marker = await run.eventMarker(name);
  await cfn.send(new ExecuteChangeSetCommand({ StackName: name, ChangeSetName: changeSetName }));
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
  return result(create ? "created" : "updated", { changes, outputs: outputsOf(final) });
}

/** The config values the stacks' outputs give (keys per lib/config.ts). */
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
 * Deploys the selected stacks in order (or, with `dryRun`, shows their change sets) and
 * returns what happened plus the config values to save. Templates are validated offline
 * first; nothing is touched when they have problems.
 */
export async function deploy(opts: DeployOptions, deps: DeployDeps): Promise<DeployResult> {
  const run = new Run(opts, deps);
  const load = deps.loadTemplate ?? loadTemplate;
  const templates = new Map<StackId, Template>();
  for (const def of STACKS) templates.set(def.id, await load(def.id));
  const problems = validateStacks(templates, STACKS);
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

  const results: StackResult[] = [];
  for (const def of selectStacks(opts.only)) {
    const r = await deployOne(run, def, templates.get(def.id)!);
    results.push(r);
    if (!opts.dryRun) run.outputs.set(def.id, r.outputs);
    const done = opts.dryRun ? r.action : `${r.action} in ${elapsed(r.seconds * 1000)}`;
    run.log.line(`${def.id}: ${done}`);
    if (def.id === "mwaa" && !opts.dryRun) await storeDatabricks(run, r.outputs);
  }
  return {
    region: opts.region,
    prefix: opts.prefix,
    dryRun: !!opts.dryRun,
    stacks: results,
    config: configValues(run),
    confirmed: true,
  };
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
        SecretString: JSON.stringify({ conn_type: "databricks", host, password: db.token }),
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
 * Deletes the selected stacks in reverse order after a confirmation (or `yes`), emptying the
 * buckets they own first (CloudFormation cannot delete a bucket that holds objects).
 * Returns the config keys to remove (their value is undefined).
 */
export async function destroy(
  opts: DeployOptions & { yes?: boolean },
  deps: DeployDeps,
): Promise<DeployResult> {
  const run = new Run(opts, deps);
  const selected = selectStacks(opts.only).reverse();
  const existing: { def: StackDef; stack: Stack }[] = [];
  const results: StackResult[] = [];
  for (const def of selected) {
    const stack = await describeStack(run.cfn, run.name(def.id));
    if (stack) existing.push({ def, stack });
    else {results.push({
        id: def.id,
        stackName: run.name(def.id),
        action: "absent",
        changes: [],
        outputs: {},
        seconds: 0,
      });}
  }
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
    return { ...base, stacks: order(results), confirmed: true };
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

  const config: Record<string, string | undefined> = {};
  for (const { def, stack } of existing) {
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
  }
  return { ...base, stacks: order(results), config, confirmed: true };
}

/** Results in the order the stacks were handled (reverse deploy order for destroy). */
function order(results: StackResult[]): StackResult[] {
  const rank = (id: StackId) => -STACKS.findIndex((s) => s.id === id);
  return [...results].sort((a, b) => rank(a.id) - rank(b.id));
}
