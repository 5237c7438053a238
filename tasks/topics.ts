#!/usr/bin/env -S deno run -A
/**
 * `deno task topics`: creates the pipeline's three topics, `<prefix>.pin`, `<prefix>.geo` and
 * `<prefix>.user`, with the kafkajs admin client, skipping (and reporting) those that exist;
 * `--delete` removes them after a confirmation (or `--yes`). Auth as everywhere else
 * (lib/kafka/kafka_client.ts): none, SCRAM-SHA-512 or MSK IAM. MSK's brokers are private, so
 * against MSK run it inside the VPC (the REST-proxy instance already creates the topics on
 * its first boot).
 *
 * Run: `deno task topics --bootstrap 127.0.0.1:9092`, or from a URL:
 * `deno run -A https://…/tasks/topics.ts --help`.
 * Changes: topics on the cluster. A re-run is safe: existing topics are left as they are.
 * Exit codes: 0 done, 1 failed (or the deletion was declined), 2 bad options, 130 interrupted.
 * @module
 */
import { runMain } from "../lib/shell/cli.ts";
import {
  dryRunFlag,
  type FlagTable,
  helpText,
  jsonFlag,
  PREFIX_FLAG,
  readFlags,
} from "../lib/shell/flags.ts";
import { loadConfig } from "../lib/shell/config.ts";
import { KAFKA_CLIENT_FLAGS, kafkaClientOptions } from "../lib/kafka/kafka_client.ts";
import {
  formatTopics,
  PARTITIONS_FLAG,
  runTopics,
  TOPICS_TIMEOUT_MS,
  type TopicsJob,
} from "../lib/kafka/topics.ts";

export { manageTopics, topicNames } from "../lib/kafka/topics.ts";

/** A confirmation belongs to one run, never to a shell's environment. */
const ASKED_PER_RUN = "a deletion is asked for, and confirmed, on the command line of each run";

/** The topics task's flags: parser, --help and options all come from this table. */
export const FLAGS = {
  prefix: PREFIX_FLAG,
  partitions: PARTITIONS_FLAG,
  replication: {
    type: "int",
    arg: "N|default",
    help: 'replication factor of each new topic; "default" lets the cluster decide, as MSK ' +
      "Serverless needs",
    env: "PINPIPE_REPLICATION",
    keywords: { default: -1 },
    default: -1,
    defaultText: `"default"`,
    min: 1,
    max: 32,
  },
  delete: {
    type: "boolean",
    help: "delete the three topics instead, after asking",
    noEnv: ASKED_PER_RUN,
  },
  yes: { type: "boolean", help: "do not ask before --delete", noEnv: ASKED_PER_RUN },
  "dry-run": dryRunFlag("what would be created or deleted"),
  timeout: {
    type: "duration",
    help: "how long Kafka may take to create the topics (and elect their leaders) or delete them",
    env: "PINPIPE_TOPICS_TIMEOUT",
    default: TOPICS_TIMEOUT_MS,
    min: 100,
  },
  json: jsonFlag("the result"),
  ...KAFKA_CLIENT_FLAGS,
} as const satisfies FlagTable;

export const HELP = helpText({
  about: "Creates (or deletes) the topics <prefix>.pin, <prefix>.geo and <prefix>.user.",
  usage: [
    "deno task topics --bootstrap HOST:PORT [flags]",
    "deno task topics --delete [--yes] --bootstrap HOST:PORT [flags]",
  ],
  flags: FLAGS,
});

/** The task's options, parsed and checked. */
export interface TopicsOptions extends TopicsJob {
  json: boolean;
}

/** Parses flags, environment and config; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  cfg: Record<string, unknown> = {},
): TopicsOptions {
  const p = readFlags(FLAGS, args, env, cfg);
  const v = p.values;
  const kafka = kafkaClientOptions(p, { clientId: "pinpipe-topics" });
  if (v.yes && !v.delete) p.problem("--yes only goes with --delete");
  p.done();
  return {
    kafka,
    prefix: v.prefix,
    partitions: v.partitions,
    replication: v.replication,
    delete: v.delete,
    yes: v.yes,
    dryRun: v.dryRun,
    timeoutMs: v.timeout,
    timeoutFlag: "--timeout or PINPIPE_TOPICS_TIMEOUT",
    json: v.json,
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { env, signal }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const ask = Deno.stdin.isTerminal() ? (q: string) => Promise.resolve(confirm(q)) : undefined;
    const result = await runTopics(opts, { signal, confirm: ask });
    const text = opts.json ? JSON.stringify(result, null, 2) : formatTopics(result);
    if (text) console.log(text);
    if (!result.confirmed) {
      console.error("Not deleted: the confirmation was declined");
      return 1;
    }
    return signal.aborted ? 130 : 0;
  });
}
