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
import { runMain } from "../lib/shell/cli.ts";
import {
  commaList,
  dryRunFlag,
  type FlagTable,
  helpText,
  jsonFlag,
  PREFIX_FLAG,
  readFlags,
  REGION_FLAG,
} from "../lib/shell/flags.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../lib/shell/config.ts";
import { PLUGIN_URL_FLAG } from "../lib/aws/connector_config.ts";
import {
  DEFAULT_DEPLOY_POLL_MS,
  type DeployJob,
  formatDeployResult,
  runDeploy,
} from "../lib/aws/deploy.ts";
import { Progress } from "../lib/shell/progress.ts";
import { registerSecret } from "../lib/shell/redact.ts";
import { regionProblem, STACK_IDS, stackPrefixProblem } from "../lib/aws/stacks.ts";
import type { StackId } from "../lib/aws/stacks.ts";
import { renderLocalPolicies } from "../lib/aws/local_policies.ts";

/** Tearing down is asked for, and confirmed, on the command line of each run. */
const ASKED_PER_RUN = "a teardown is asked for, and confirmed, on the command line of each run";

/** The deploy task's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  region: { ...REGION_FLAG, check: regionProblem },
  prefix: {
    ...PREFIX_FLAG,
    help: "name prefix of stacks, resources and topics: lowercase letters, digits, dashes",
    check: stackPrefixProblem,
  },
  only: {
    type: "list",
    arg: "STACK,…",
    help: "only these stacks (the ones they need must exist); repeatable",
    env: "PINPIPE_DEPLOY_ONLY",
    defaultText: `all: ${STACK_IDS.join(", ")}`,
  },
  param: {
    type: "list",
    arg: "S.NAME=V",
    help: "set parameter NAME of stack S, e.g. msk.ClusterType=serverless, " +
      "mwaa.EnvironmentClass=mw1.small, connect.FlushSize=1, network.VpcCidr=10.8.0.0/20, " +
      "lake.DatabricksExternalId=ID; repeatable. Values stick on later deploys until set again",
    noEnv: "a value may hold commas, and values stick on the stacks, so each is set once",
    defaultText: "the template defaults",
  },
  "plugin-url": PLUGIN_URL_FLAG,
  "dry-run": {
    ...dryRunFlag("the plan"),
    help: "print the plan: order, parameters, template sizes (no credentials needed); with " +
      "credentials also create, print and delete the change sets: nothing changes",
  },
  destroy: {
    type: "boolean",
    help: "delete the stacks, dependents first, emptying their buckets first",
    noEnv: ASKED_PER_RUN,
  },
  yes: { type: "boolean", help: "do not ask before --destroy", noEnv: ASKED_PER_RUN },
  poll: {
    type: "duration",
    help: "how often to poll CloudFormation",
    env: "PINPIPE_DEPLOY_POLL",
    default: DEFAULT_DEPLOY_POLL_MS,
    min: 100,
  },
  config: {
    type: "string",
    arg: "PATH",
    help: "the config file: defaults read from it, outputs saved to it",
    env: "PINPIPE_CONFIG",
    default: DEFAULT_CONFIG_PATH,
  },
  "local-policies": {
    type: "string",
    arg: "DIR",
    help: "deploy nothing: render the IAM policies of the roles that talk to Kafka (client, " +
      "connect) into DIR with local values, for deno task broker --iam-principals",
    env: "PINPIPE_DEPLOY_LOCAL_POLICIES",
    defaultText: "off",
  },
  json: jsonFlag("the result"),
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Deploys (or destroys) pinpipe's AWS stacks with CloudFormation.",
  usage: [
    "deno task deploy [--region REGION] [flags]",
    "deno task deploy --destroy [--yes] [flags]",
  ],
  flags: FLAGS,
  notes: `Secrets (environment only): DATABRICKS_HOST and DATABRICKS_TOKEN become the Airflow
connection databricks_default in Secrets Manager. AWS credentials come from the usual
chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance role).`,
});

/** Everything the task needs, parsed and checked. */
export interface DeployTaskOptions extends DeployJob {
  pollMs: number;
  json: boolean;
  /** Render the Kafka roles' policies here instead of deploying. */
  localPolicies?: string;
}

/** Names retired in the last release, refused with the name to use now. */
export const RETIRED = { PINPIPE_CONNECT_PLUGIN: "PINPIPE_PLUGIN_URL" };

/** Parses flags, environment and config into options; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): DeployTaskOptions {
  const p = readFlags(FLAGS, args, env, cfg, {
    retired: RETIRED,
  });
  const v = p.values;
  const only = commaList(v.only);
  for (const s of only) {
    if (!(STACK_IDS as readonly string[]).includes(s)) {
      p.problem(`Invalid ${p.from("only")} "${s}": expected one of ${STACK_IDS.join(", ")}`);
    }
  }
  const params: Partial<Record<StackId, Record<string, string>>> = {};
  for (const param of v.param) {
    const m = /^([a-z]+)\.([A-Za-z0-9]+)=(.*)$/s.exec(param);
    if (!m || !(STACK_IDS as readonly string[]).includes(m[1])) {
      p.problem(
        `Invalid --param "${param}": expected STACK.NAME=VALUE with STACK one of ${
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
    p.problem("DATABRICKS_HOST and DATABRICKS_TOKEN go together: set both or neither");
  }
  if (v.yes && !v.destroy) p.problem("--yes only goes with --destroy");
  p.done();
  return {
    region: v.region,
    prefix: v.prefix,
    only: only as StackId[],
    params,
    pluginUrl: v.pluginUrl,
    dryRun: v.dryRun,
    destroy: v.destroy,
    yes: v.yes,
    pollMs: v.poll,
    configPath: v.config,
    json: v.json,
    localPolicies: v.localPolicies,
    databricks: host && token ? { host, token } : undefined,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { signal, env }) => {
    // The config file is the one --config names: read it before the flags that default to it.
    const path = readFlags(FLAGS, args, env).values.config;
    const opts = parseOptions(args, env, await loadConfig(env, path));
    if (opts.localPolicies) {
      const roles = await renderLocalPolicies(opts.localPolicies, opts);
      console.log(
        opts.json
          ? JSON.stringify(roles, null, 2)
          : roles.map((r) => `${r.file}: ${r.role} (${r.statements} statements)`).join("\n"),
      );
      return 0;
    }
    const progress = new Progress(opts.destroy ? "destroy" : "deploy");
    const { result, saved } = await runDeploy(opts, {
      log: { line: (t: string) => progress.log(t), status: (t: string) => progress.update(t) },
      signal,
      pollMs: opts.pollMs,
      confirm: Deno.stdin.isTerminal() ? (q: string) => Promise.resolve(confirm(q)) : undefined,
    });
    const n = result.stacks.length;
    progress.done(
      `${n} stack${n === 1 ? "" : "s"} ${
        !result.confirmed ? "left alone" : opts.dryRun ? "planned" : "done"
      } in ${progress.elapsedSec().toFixed(0)} s`,
    );
    console.log(
      opts.json
        ? JSON.stringify(result, null, 2)
        : formatDeployResult(result, opts.configPath, saved),
    );
    if (!result.confirmed) {
      console.error("Not deleted: the confirmation was declined");
      return 1;
    }
    return 0;
  });
}
