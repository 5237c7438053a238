#!/usr/bin/env -S deno run -A
/**
 * `deno task deploy`: puts the whole AWS side of pinpipe up with CloudFormation, one stack
 * per template in infra/ (network, lake, msk, client, connect, api, mwaa), each as soon as
 * the stacks it needs are up (network and lake together, then msk beside mwaa, …), through
 * change sets: a new stack is created, an existing one updated, and "no changes" is success. Between stacks it asks MSK for the bootstrap brokers, uploads the S3
 * sink plugin to the lake bucket, and after mwaa stores the Databricks connection (from
 * DATABRICKS_HOST and DATABRICKS_TOKEN) in Secrets Manager. Stack events are shown as they
 * happen; a failure names the resource that failed and why. All outputs (API invoke URL,
 * buckets, cluster ARN, bootstrap brokers, MWAA webserver …) go to `.pinpipe/aws.json`, which
 * the other tasks read as defaults.
 *
 * Run: `deno task deploy --region us-east-1 [--dry-run]`, or from a URL:
 * `deno run -A https://…/tasks/deploy.ts --help`. `--dry-run` needs no AWS credentials: it
 * prints the order, each stack's parameters and template size, and what it could not check
 * offline (with credentials it also shows the change sets). `--destroy` deletes the stacks,
 * dependents first (after a confirmation, or `--yes`), emptying their buckets first.
 * Changes: AWS resources in your account (they cost money by the hour: see README).
 * A re-run is safe: unchanged stacks are left alone and `--param` values stick.
 * Exit codes: 0 done, 1 failed (or destroy declined), 2 bad options, 130 interrupted.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import { DEFAULT_CONFIG_PATH, loadConfig, saveConfig } from "../lib/shell/config.ts";
import { S3_SINK_PLUGIN } from "../lib/aws/connector_config.ts";
import { deploy, destroy, formatChange } from "../lib/aws/deploy.ts";
import type { DeployOptions, DeployResult } from "../lib/aws/deploy.ts";
import { CloudFormationClient } from "../lib/deps/aws_cloudformation.ts";
import { KafkaClient } from "../lib/deps/aws_kafka.ts";
import { S3Client } from "../lib/deps/aws_s3.ts";
import { SecretsManagerClient } from "../lib/deps/aws_secrets_manager.ts";
import { Progress } from "../lib/shell/progress.ts";
import { registerSecret } from "../lib/shell/redact.ts";
import { STACK_IDS } from "../lib/aws/stacks.ts";
import type { StackId } from "../lib/aws/stacks.ts";

export const HELP = `Deploys (or destroys) pinpipe's AWS stacks with CloudFormation.

Usage: deno task deploy --region REGION [flags]
       deno task deploy --destroy [--yes] [flags]

  --region R           AWS region (AWS_REGION or AWS_DEFAULT_REGION, config region; required)
  --prefix P           name prefix of stacks, resources and topics: lowercase letters,
                       digits, dashes (PINPIPE_PREFIX, config prefix; default pinpipe)
  --only STACK[,…]     only these stacks (the ones they need must exist); repeatable
                       (PINPIPE_DEPLOY_ONLY; default all: ${STACK_IDS.join(", ")})
  --param S.NAME=V     set parameter NAME of stack S, e.g. msk.ClusterType=serverless,
                       mwaa.EnvironmentClass=mw1.small, connect.FlushSize=1,
                       network.VpcCidr=10.8.0.0/20, lake.DatabricksExternalId=ID;
                       repeatable. Values stick on later deploys until set again
                       (default: the template defaults)
  --plugin-url URL     S3 sink plugin zip (URL or local path) uploaded to the lake bucket
                       when missing (PINPIPE_CONNECT_PLUGIN; default Confluent Hub's
                       ${S3_SINK_PLUGIN.file})
  --dry-run            print the plan: order, parameters, template sizes (no credentials
                       needed); with credentials also create, print and delete the change
                       sets: nothing changes
  --destroy            delete the stacks, dependents first, emptying their buckets first
  --yes                do not ask before --destroy
  --poll DUR           how often to poll CloudFormation (PINPIPE_DEPLOY_POLL; default 10s)
  --config PATH        where outputs are saved (PINPIPE_CONFIG; default ${DEFAULT_CONFIG_PATH})
  --json               print the result as JSON
  --help               this text

Secrets (environment only): DATABRICKS_HOST and DATABRICKS_TOKEN become the Airflow
connection databricks_default in Secrets Manager. AWS credentials come from the usual
chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance role).
`;

const FLAGS = {
  region: { type: "string" },
  prefix: { type: "string" },
  only: { type: "string", multiple: true },
  param: { type: "string", multiple: true },
  "plugin-url": { type: "string" },
  "dry-run": { type: "boolean" },
  destroy: { type: "boolean" },
  yes: { type: "boolean" },
  poll: { type: "string" },
  config: { type: "string" },
  json: { type: "boolean" },
} as const;

/** Everything the task needs, parsed and checked. */
export interface DeployTaskOptions extends DeployOptions {
  destroy: boolean;
  yes: boolean;
  pollMs: number;
  configPath: string;
  json: boolean;
}

/** Parses flags, environment and config into options; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  config: Record<string, unknown>,
): DeployTaskOptions {
  const { values } = parseFlags(args, FLAGS);
  const o = new Options(values, env, config);
  const region = o.string("region", { env: "AWS_REGION" }) ??
    o.string("region", { env: "AWS_DEFAULT_REGION", config: "region" }) ?? "";
  if (!region) o.problem("Missing --region (or AWS_REGION): which AWS region?");
  else if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    o.problem(`Invalid region "${region}": expected a region such as us-east-1`);
  }
  const prefix = o.string("prefix", {
    env: "PINPIPE_PREFIX",
    config: "prefix",
    default: "pinpipe",
  })!;
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(prefix)) {
    o.problem(
      `Invalid prefix "${prefix}": stack, bucket and cluster names need 1-20 lowercase letters, digits or dashes, starting with a letter`,
    );
  }
  const only = o.list("only", { env: "PINPIPE_DEPLOY_ONLY" }).flatMap((s) => s.split(","))
    .map((s) => s.trim()).filter(Boolean);
  for (const s of only) {
    if (!(STACK_IDS as readonly string[]).includes(s)) {
      o.problem(`Invalid --only "${s}": expected one of ${STACK_IDS.join(", ")}`);
    }
  }
  const params: Partial<Record<StackId, Record<string, string>>> = {};
  for (const p of o.list("param")) {
    const m = /^([a-z]+)\.([A-Za-z0-9]+)=(.*)$/s.exec(p);
    if (!m || !(STACK_IDS as readonly string[]).includes(m[1])) {
      o.problem(
        `Invalid --param "${p}": expected STACK.NAME=VALUE with STACK one of ${
          STACK_IDS.join(", ")
        }`,
      );
      continue;
    }
    (params[m[1] as StackId] ??= {})[m[2]] = m[3];
  }
  const host = env.DATABRICKS_HOST;
  const token = env.DATABRICKS_TOKEN;
  registerSecret(token);
  if (!!host !== !!token) {
    o.problem("DATABRICKS_HOST and DATABRICKS_TOKEN go together: set both or neither");
  }
  const opts: DeployTaskOptions = {
    region,
    prefix,
    only: only as StackId[],
    params,
    pluginUrl: o.string("plugin-url", { env: "PINPIPE_CONNECT_PLUGIN" }),
    dryRun: o.bool("dry-run"),
    destroy: o.bool("destroy"),
    yes: o.bool("yes"),
    pollMs: o.duration("poll", { env: "PINPIPE_DEPLOY_POLL", default: 10_000, min: 100 }),
    configPath: o.string("config", { env: "PINPIPE_CONFIG", default: DEFAULT_CONFIG_PATH })!,
    json: o.bool("json"),
    databricks: host && token ? { host, token } : undefined,
  };
  if (opts.yes && !opts.destroy) o.problem("--yes only goes with --destroy");
  o.done();
  return opts;
}

const fmtInt = (n: number) => n.toLocaleString("en-US");

/** The result as the lines a person reads. */
export function formatResult(r: DeployResult, configPath: string, saved: boolean): string {
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
      ? ` (${planned.resources} resources, template ${fmtInt(planned.templateBytes)} bytes${
        planned.needs.length ? `, after ${planned.needs.join(", ")}` : ""
      })`
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

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    const config = await loadConfig(env);
    const opts = parseOptions(args, env, config);
    const clientConfig = { region: opts.region };
    const progress = new Progress(opts.destroy ? "destroy" : "deploy");
    const deps = {
      clients: {
        cfn: new CloudFormationClient(clientConfig),
        kafka: new KafkaClient(clientConfig),
        s3: new S3Client(clientConfig),
        secrets: new SecretsManagerClient(clientConfig),
      },
      log: { line: (t: string) => progress.log(t), status: (t: string) => progress.update(t) },
      signal,
      pollMs: opts.pollMs,
      confirm: Deno.stdin.isTerminal() ? (q: string) => Promise.resolve(confirm(q)) : undefined,
    };
    const result = opts.destroy ? await destroy(opts, deps) : await deploy(opts, deps);
    const save = !opts.dryRun && result.confirmed && Object.keys(result.config).length > 0;
    if (save) await saveConfig(result.config, opts.configPath);
    const n = result.stacks.length;
    progress.done(
      `${n} stack${n === 1 ? "" : "s"} ${
        !result.confirmed ? "left alone" : opts.dryRun ? "planned" : "done"
      } in ${progress.elapsedSec().toFixed(0)} s`,
    );
    console.log(
      opts.json ? JSON.stringify(result, null, 2) : formatResult(result, opts.configPath, save),
    );
    if (!result.confirmed) {
      console.error("Not deleted: the confirmation was declined");
      return 1;
    }
    return 0;
  });
}
