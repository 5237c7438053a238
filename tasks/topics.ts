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
import { Options, parseFlags, runMain } from "../lib/shell/cli.ts";
import { loadConfig } from "../lib/shell/config.ts";
import {
  checkKafkaReachable,
  createKafka,
  KAFKA_FLAGS,
  KAFKA_HELP,
  kafkaAnswered,
  readKafkaOptions,
} from "../lib/kafka/kafka_client.ts";
import type { KafkaClientOptions } from "../lib/kafka/kafka_client.ts";
import {
  manageTopics,
  type ManageTopicsOptions,
  TOPICS_TIMEOUT_MS,
  type TopicsResult,
} from "../lib/kafka/topics.ts";

export { manageTopics, topicNames } from "../lib/kafka/topics.ts";

export const HELP = `Creates (or deletes) the topics <prefix>.pin, <prefix>.geo and <prefix>.user.

Usage: deno task topics --bootstrap HOST:PORT [flags]
       deno task topics --delete [--yes] --bootstrap HOST:PORT [flags]

  --prefix P                 topic prefix (PINPIPE_PREFIX, config prefix; default pinpipe)
  --partitions N             partitions of each new topic (PINPIPE_PARTITIONS; default 3)
  --replication N|default    replication factor of each new topic; "default" lets the
                             cluster decide, as MSK Serverless needs (PINPIPE_REPLICATION;
                             default: default)
  --delete                   delete the three topics instead (asks first)
  --yes                      do not ask before --delete
  --dry-run                  say what would be created or deleted, change nothing
  --timeout D                how long Kafka may take to create the topics (and elect their
                             leaders) or delete them (PINPIPE_TOPICS_TIMEOUT; default 30s)
  --json                     print the result as JSON
${KAFKA_HELP}
  --help                     this text
`;

const FLAGS = {
  ...KAFKA_FLAGS,
  prefix: { type: "string" },
  partitions: { type: "string" },
  replication: { type: "string" },
  delete: { type: "boolean" },
  yes: { type: "boolean" },
  "dry-run": { type: "boolean" },
  timeout: { type: "string" },
  json: { type: "boolean" },
} as const;

/** The task's options, parsed and checked. */
export interface TopicsOptions extends ManageTopicsOptions {
  kafka: KafkaClientOptions;
  json: boolean;
}

/** Parses flags, environment and config; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  config: Record<string, unknown>,
): TopicsOptions {
  const o = new Options(parseFlags(args, FLAGS).values, env, config);
  const kafka = readKafkaOptions(o);
  const prefix = o.prefix();
  const partitions = o.int("partitions", {
    env: "PINPIPE_PARTITIONS",
    default: 3,
    min: 1,
    max: 10_000,
  });
  const rep = o.string("replication", { env: "PINPIPE_REPLICATION", default: "default" })!;
  let replication = -1;
  if (rep !== "default") {
    replication = Number(rep);
    if (!Number.isInteger(replication) || replication < 1 || replication > 32) {
      o.problem(`Invalid --replication "${rep}": expected a whole number from 1 to 32, or default`);
    }
  }
  const opts: TopicsOptions = {
    kafka: { ...kafka, clientId: "pinpipe-topics" },
    prefix,
    partitions,
    replication,
    delete: o.bool("delete"),
    yes: o.bool("yes"),
    dryRun: o.bool("dry-run"),
    timeoutMs: o.duration("timeout", {
      env: "PINPIPE_TOPICS_TIMEOUT",
      default: TOPICS_TIMEOUT_MS,
      min: 100,
    }),
    timeoutFlag: "--timeout or PINPIPE_TOPICS_TIMEOUT",
    json: o.bool("json"),
  };
  if (opts.yes && !opts.delete) o.problem("--yes only goes with --delete");
  o.done();
  return opts;
}

/**
 * `work`, or the signal's reason as soon as it aborts: Ctrl-C does not wait for a slow or
 * silent cluster. What was sent is done or not at all (a topic is created whole), and a
 * re-run converges, so abandoning the request is safe.
 */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

if (import.meta.main) {
  await runMain(HELP, async (args, { env, signal }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const where = `Kafka at "${opts.kafka.bootstrap}" (${opts.kafka.bootstrapFrom})`;
    const result = await unlessAborted(
      (async (): Promise<TopicsResult> => {
        await checkKafkaReachable(opts.kafka);
        const admin = createKafka(opts.kafka).admin({ retry: { retries: 3 } });
        try {
          await kafkaAnswered(admin.connect(), "the admin client", opts.kafka);
        } catch (err) {
          if (/did not answer/.test((err as Error).message)) throw err;
          throw new Error(`Cannot connect to ${where}`, { cause: err });
        }
        try {
          return await manageTopics(opts, {
            admin,
            where: `the broker at ${opts.kafka.bootstrap}`,
            confirm: Deno.stdin.isTerminal() ? (q) => Promise.resolve(confirm(q)) : undefined,
          });
        } finally {
          await admin.disconnect();
        }
      })(),
      signal,
    );
    if (opts.json) console.log(JSON.stringify(result, null, 2));
    else {
      for (const t of result.topics) {
        const parts = t.partitions !== undefined
          ? ` (${t.partitions} partition${t.partitions === 1 ? "" : "s"})`
          : "";
        console.log(`${t.action.padEnd(12)} ${t.topic}${parts}${t.note ? `: ${t.note}` : ""}`);
      }
    }
    if (!result.confirmed) {
      console.error("Not deleted: the confirmation was declined");
      return 1;
    }
    return signal.aborted ? 130 : 0;
  });
}
