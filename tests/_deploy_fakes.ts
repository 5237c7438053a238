/**
 * The fake AWS control plane of the deploy tests (unit, stage and engine layers): a small
 * stateful CloudFormation (stacks, change sets, events, outputs made from the real templates'
 * Outputs) behind aws-sdk-client-mock, the account's zones, and the constants the tests share.
 * @module
 */
import assert from "node:assert/strict";
import { mockClient } from "./deps/aws_sdk_mock.ts";
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
} from "../lib/deps/aws_cloudformation.ts";
import type { StackEvent } from "../lib/deps/aws_cloudformation.ts";
import { GetBootstrapBrokersCommand, KafkaClient } from "../lib/deps/aws_kafka.ts";
import { DescribeAvailabilityZonesCommand, EC2Client } from "../lib/deps/aws_ec2.ts";
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "../lib/deps/aws_s3.ts";
import { PutSecretValueCommand, SecretsManagerClient } from "../lib/deps/aws_secrets_manager.ts";
import type { DeployDeps, DeployOptions } from "../lib/aws/deploy.ts";
import { loadTemplate, STACK_IDS, stackGraph } from "../lib/aws/stacks.ts";
import type { StackId, Template } from "../lib/aws/stacks.ts";

export const REGION = "us-east-1";
export const BROKERS = "b-1.pinpipe.example:9098,b-2.pinpipe.example:9098";
export const ZIP = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4]);
/** An account's zones: names in another order than IDs, use1-az3 first by name. */
export const ZONES = [
  ["us-east-1a", "use1-az3"],
  ["us-east-1b", "use1-az5"],
  ["us-east-1c", "use1-az2"],
  ["us-east-1d", "use1-az1"],
  ["us-east-1-bos-1a", "use1-bos1-az1", "local-zone"],
].map(([ZoneName, ZoneId, ZoneType = "availability-zone"]) => ({
  ZoneName,
  ZoneId,
  ZoneType,
  State: "available" as const,
}));

export const templates = new Map<StackId, Template>();
for (const id of STACK_IDS) templates.set(id, await loadTemplate(id));
export const GRAPH = stackGraph(templates);

export interface FakeStack {
  name: string;
  id: StackId;
  status: string;
  params: Record<string, string>;
  body?: string;
  outputs: Record<string, string>;
  events: StackEvent[];
  pending?: { final: string; polls: number; failure?: Failure };
}

export interface Failure {
  logicalId: string;
  type: string;
  reason: string;
}

export interface ChangeSet {
  type: "CREATE" | "UPDATE";
  body: string;
  params: Record<string, string>;
  polls: number;
  noChange: boolean;
}

/**
 * A stateful stand-in for CloudFormation: stacks move through *_IN_PROGRESS to their final
 * status over a couple of polls, with events; outputs are "<Output>-of-<stack name>".
 */
export class FakeCloud {
  readonly stacks = new Map<string, FakeStack>();
  readonly changeSets = new Map<string, ChangeSet>();
  readonly failures = new Map<string, Failure>();
  readonly cfn = new CloudFormationClient({ region: REGION });
  readonly kafka = new KafkaClient({ region: REGION });
  readonly ec2 = new EC2Client({ region: REGION });
  readonly ec2Mock = mockClient(this.ec2);
  readonly s3 = new S3Client({ region: REGION });
  readonly secrets = new SecretsManagerClient({ region: REGION });
  readonly cfnMock = mockClient(this.cfn);
  readonly kafkaMock = mockClient(this.kafka);
  readonly s3Mock = mockClient(this.s3);
  readonly secretsMock = mockClient(this.secrets);
  readonly objects = new Map<string, Uint8Array>();
  /** What happened, in order: `plan:<id>` (change set made), `done:<id>`, `deleted:<id>`. */
  readonly timeline: string[] = [];
  /** Output values to give instead of `<Output>-of-<stack>`, by `stack.Output`. */
  readonly realOutputs: Record<string, string> = {};
  private seq = 0;

  constructor() {
    const notFound = (name: string) =>
      Object.assign(new Error(`Stack with id ${name} does not exist`), { name: "ValidationError" });
    this.cfnMock.on(DescribeStacksCommand).callsFake((input) => {
      const s = this.stacks.get(input.StackName!);
      if (!s) throw notFound(input.StackName!);
      this.advance(s);
      if (s.status === "DELETE_COMPLETE") {
        this.stacks.delete(s.name);
        throw notFound(s.name);
      }
      return {
        Stacks: [{
          StackName: s.name,
          StackId: `arn:aws:cloudformation:${REGION}:123456789012:stack/${s.name}/1`,
          StackStatus: s.status,
          CreationTime: new Date(),
          Parameters: Object.entries(s.params).map(([k, v]) => ({
            ParameterKey: k,
            ParameterValue: v,
          })),
          Outputs: Object.entries(s.outputs).map(([k, v]) => ({ OutputKey: k, OutputValue: v })),
        }],
      };
    });
    this.cfnMock.on(DescribeStackEventsCommand).callsFake((input) => {
      const s = this.stacks.get(input.StackName!);
      if (!s) throw notFound(input.StackName!);
      return { StackEvents: [...s.events].reverse() };
    });
    this.cfnMock.on(CreateChangeSetCommand).callsFake((input) => {
      const name = input.StackName!;
      const id = name.slice(name.indexOf("-") + 1) as StackId;
      let s = this.stacks.get(name);
      if (input.ChangeSetType === "CREATE") {
        if (s && s.status !== "REVIEW_IN_PROGRESS") {
          throw Object.assign(new Error(`Stack [${name}] already exists`), {
            name: "AlreadyExistsException",
          });
        }
        s ??= { name, id, status: "REVIEW_IN_PROGRESS", params: {}, outputs: {}, events: [] };
        this.stacks.set(name, s);
      } else if (!s) throw notFound(name);
      const params: Record<string, string> = {};
      for (const p of input.Parameters ?? []) {
        params[p.ParameterKey!] = p.UsePreviousValue
          ? s.params[p.ParameterKey!]
          : p.ParameterValue!;
      }
      const noChange = input.ChangeSetType === "UPDATE" && s.body === input.TemplateBody &&
        JSON.stringify(sorted(params)) === JSON.stringify(sorted(s.params));
      this.changeSets.set(`${name}/${input.ChangeSetName}`, {
        type: input.ChangeSetType as "CREATE" | "UPDATE",
        body: input.TemplateBody!,
        params,
        polls: 1,
        noChange,
      });
      this.timeline.push(`plan:${id}`);
      return { Id: `cs-${++this.seq}`, StackId: name };
    });
    this.cfnMock.on(DescribeChangeSetCommand).callsFake((input) => {
      const cs = this.changeSets.get(`${input.StackName}/${input.ChangeSetName}`);
      if (!cs) {
        throw Object.assign(new Error("ChangeSet not found"), {
          name: "ChangeSetNotFoundException",
        });
      }
      if (cs.polls-- > 0) return { Status: "CREATE_PENDING" };
      if (cs.noChange) {
        return {
          Status: "FAILED",
          StatusReason:
            "The submitted information didn't contain changes. Submit different information to create a change set.",
        };
      }
      const resources = JSON.parse(cs.body).Resources as Record<string, { Type: string }>;
      return {
        Status: "CREATE_COMPLETE",
        Changes: Object.entries(resources).map(([logicalId, r]) => ({
          Type: "Resource",
          ResourceChange: {
            Action: cs.type === "CREATE" ? "Add" : "Modify",
            LogicalResourceId: logicalId,
            ResourceType: r.Type,
            Replacement: cs.type === "CREATE" ? undefined : "False",
          },
        })),
      };
    });
    this.cfnMock.on(DeleteChangeSetCommand).callsFake((input) => {
      this.changeSets.delete(`${input.StackName}/${input.ChangeSetName}`);
      return {};
    });
    this.cfnMock.on(ExecuteChangeSetCommand).callsFake((input) => {
      const key = `${input.StackName}/${input.ChangeSetName}`;
      const cs = this.changeSets.get(key)!;
      const s = this.stacks.get(input.StackName!)!;
      this.changeSets.delete(key);
      const create = cs.type === "CREATE";
      s.status = create ? "CREATE_IN_PROGRESS" : "UPDATE_IN_PROGRESS";
      s.body = cs.body;
      s.params = cs.params;
      this.event(s, s.name, "AWS::CloudFormation::Stack", s.status, "User Initiated");
      const failure = this.failures.get(s.name);
      s.pending = {
        final: failure
          ? create ? "ROLLBACK_COMPLETE" : "UPDATE_ROLLBACK_COMPLETE"
          : create
          ? "CREATE_COMPLETE"
          : "UPDATE_COMPLETE",
        polls: 1,
        failure,
      };
      return {};
    });
    this.cfnMock.on(DeleteStackCommand).callsFake((input) => {
      const s = this.stacks.get(input.StackName!);
      if (!s) return {};
      s.status = "DELETE_IN_PROGRESS";
      this.event(s, s.name, "AWS::CloudFormation::Stack", s.status, "User Initiated");
      s.pending = { final: "DELETE_COMPLETE", polls: 1 };
      return {};
    });
    // This account's us-east-1a is use1-az3, where MSK takes no client subnets.
    this.ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({ AvailabilityZones: ZONES });
    this.kafkaMock.on(GetBootstrapBrokersCommand).resolves({
      BootstrapBrokerStringSaslIam: BROKERS,
    });
    this.s3Mock.on(HeadObjectCommand).callsFake((input) => {
      if (this.objects.has(`${input.Bucket}/${input.Key}`)) return {};
      throw Object.assign(new Error("NotFound"), {
        name: "NotFound",
        $metadata: { httpStatusCode: 404 },
      });
    });
    this.s3Mock.on(PutObjectCommand).callsFake((input) => {
      this.objects.set(`${input.Bucket}/${input.Key}`, input.Body as Uint8Array);
      return {};
    });
    this.s3Mock.on(ListObjectVersionsCommand).callsFake((input) => ({
      Versions: [...this.objects.keys()].filter((k) => k.startsWith(`${input.Bucket}/`))
        .map((k) => ({ Key: k.slice(input.Bucket!.length + 1), VersionId: "v1" })),
      IsTruncated: false,
    }));
    this.s3Mock.on(DeleteObjectsCommand).callsFake((input) => {
      for (const o of input.Delete?.Objects ?? []) this.objects.delete(`${input.Bucket}/${o.Key}`);
      return {};
    });
    this.secretsMock.on(PutSecretValueCommand).resolves({});
  }

  /** An existing, complete stack for `id`, as an earlier deploy would have left it. */
  existing(
    id: StackId,
    params: Record<string, string> = {},
    status = "CREATE_COMPLETE",
  ): FakeStack {
    const name = `pinpipe-${id}`;
    const s: FakeStack = {
      name,
      id,
      status,
      params,
      body: "{}",
      outputs: status === "ROLLBACK_COMPLETE" ? {} : outputsOf(id, name),
      events: [],
    };
    this.stacks.set(name, s);
    return s;
  }

  private event(s: FakeStack, logicalId: string, type: string, status: string, reason?: string) {
    s.events.push({
      StackId: s.name,
      StackName: s.name,
      EventId: `e${++this.seq}`,
      LogicalResourceId: logicalId,
      PhysicalResourceId: logicalId === s.name ? s.name : `phys-${logicalId}`,
      ResourceType: type,
      ResourceStatus: status as StackEvent["ResourceStatus"],
      ResourceStatusReason: reason,
      Timestamp: new Date(),
    });
  }

  private advance(s: FakeStack) {
    const p = s.pending;
    if (!p) return;
    if (p.polls-- > 0) {
      const first = Object.entries(JSON.parse(s.body ?? "{}").Resources ?? {})[0] as
        | [string, { Type: string }]
        | undefined;
      if (first && s.status !== "DELETE_IN_PROGRESS") {
        this.event(s, first[0], first[1].Type, s.status.replace("ROLLBACK_", ""));
      }
      return;
    }
    if (p.failure) {
      const f = p.failure;
      const verb = s.status.startsWith("CREATE") ? "CREATE" : "UPDATE";
      this.event(s, f.logicalId, f.type, `${verb}_FAILED`, f.reason);
      this.event(s, "Other", "AWS::IAM::Role", `${verb}_FAILED`, "Resource creation cancelled");
      this.event(
        s,
        s.name,
        "AWS::CloudFormation::Stack",
        verb === "CREATE" ? "ROLLBACK_IN_PROGRESS" : "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [Other, " + f.logicalId + "].",
      );
    }
    s.status = p.final;
    s.pending = undefined;
    this.timeline.push(`${s.status === "DELETE_COMPLETE" ? "deleted" : "done"}:${s.id}`);
    this.event(s, s.name, "AWS::CloudFormation::Stack", s.status);
    if (/^(CREATE|UPDATE)_COMPLETE$/.test(s.status)) {
      s.outputs = outputsOf(s.id, s.name);
      for (const key of Object.keys(s.outputs)) {
        s.outputs[key] = this.realOutputs[`${s.id}.${key}`] ?? s.outputs[key];
      }
    }
  }

  deps(extra: Partial<DeployDeps> = {}): DeployDeps & { lines: string[] } {
    const lines: string[] = [];
    return {
      clients: {
        cfn: this.cfn,
        ec2: this.ec2,
        kafka: this.kafka,
        s3: this.s3,
        secrets: this.secrets,
      },
      log: { line: (t) => lines.push(t) },
      hasCredentials: () => Promise.resolve(true),
      pollMs: 1,
      fetch: (() => Promise.resolve(new Response(ZIP))) as typeof fetch,
      loadRequirements: () => Promise.resolve("apache-airflow-providers-databricks\n"),
      lines,
      ...extra,
    };
  }

  /** CreateChangeSet inputs, in order. */
  changeSetCalls() {
    return this.cfnMock.commandCalls(CreateChangeSetCommand).map((c) => c.args[0].input);
  }

  paramsOf(stack: StackId): Record<string, string | undefined> {
    const call = this.changeSetCalls().find((c) => c.StackName === `pinpipe-${stack}`);
    assert.ok(call, `no change set for ${stack}`);
    return Object.fromEntries(
      (call.Parameters ?? []).map((
        p,
      ) => [p.ParameterKey!, p.UsePreviousValue ? "(previous)" : p.ParameterValue]),
    );
  }
}

export function sorted(o: Record<string, string>) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

export function outputsOf(id: StackId, name: string): Record<string, string> {
  const outs: Record<string, string> = {};
  for (const key of Object.keys(templates.get(id)!.Outputs ?? {})) outs[key] = `${key}-of-${name}`;
  return outs;
}

export const OPTS: DeployOptions = { region: REGION, prefix: "pinpipe" };
