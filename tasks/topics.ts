#!/usr/bin/env -S deno run -A
/**
 * `deno task topics`: creates the pipeline's three topics, `<prefix>.pin`, `<prefix>.geo` and
 * `<prefix>.user`, with the kafkajs admin client, skipping (and reporting) those that exist;
 * `--delete` removes them after a confirmation (or `--yes`). Auth as everywhere else
 * (lib/kafka_client.ts): none, SCRAM-SHA-512 or MSK IAM. MSK's brokers are private, so
 * against MSK run it inside the VPC (the REST-proxy instance already creates the topics on
 * its first boot).
 *
 * Run: `deno task topics --bootstrap 127.0.0.1:9092`, or from a URL:
 * `deno run -A https://…/tasks/topics.ts --help`.
 * Changes: topics on the cluster. A re-run is safe: existing topics are left as they are.
 * Exit codes: 0 done, 1 failed (or the deletion was declined), 2 bad options, 130 interrupted.
 * @module
 */
import { Options, parseFlags, runMain } from "../lib/cli.ts";
import { loadConfig } from "../lib/config.ts";
import type { Admin } from "../lib/deps/kafkajs.ts";
import { createKafka, KAFKA_FLAGS, KAFKA_HELP, readKafkaOptions } from "../lib/kafka_client.ts";
import type { KafkaClientOptions } from "../lib/kafka_client.ts";
import { UsageError } from "../lib/errors.ts";

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
  json: { type: "boolean" },
} as const;

/** The task's options, parsed and checked. */
export interface TopicsOptions {
  kafka: KafkaClientOptions;
  prefix: string;
  partitions: number;
  /** -1: the cluster's default. */
  replication: number;
  delete: boolean;
  yes: boolean;
  dryRun: boolean;
  json: boolean;
}

/** The topics of `prefix`, in the order pin, geo, user. */
export function topicNames(prefix: string): string[] {
  return ["pin", "geo", "user"].map((t) => `${prefix}.${t}`);
}

/** Parses flags, environment and config; throws one UsageError listing every problem. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined>,
  config: Record<string, unknown>,
): TopicsOptions {
  const o = new Options(parseFlags(args, FLAGS).values, env, config);
  const kafka = readKafkaOptions(o);
  const prefix = o.string("prefix", {
    env: "PINPIPE_PREFIX",
    config: "prefix",
    default: "pinpipe",
  })!;
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/.test(prefix)) {
    o.problem(
      `Invalid prefix "${prefix}": Kafka topic names take letters, digits, ".", "_" and "-"`,
    );
  }
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
    json: o.bool("json"),
  };
  if (opts.yes && !opts.delete) o.problem("--yes only goes with --delete");
  o.done();
  return opts;
}

/** What happened to one topic. */
export interface TopicResult {
  topic: string;
  action: "created" | "exists" | "deleted" | "absent" | "would-create" | "would-delete";
  partitions?: number;
  note?: string;
}

/** The task's result. */
export interface TopicsResult {
  topics: TopicResult[];
  /** False when --delete was declined. */
  confirmed: boolean;
}

/** Dependencies of `manageTopics`. */
export interface TopicsDeps {
  /** A connected kafkajs admin client. */
  admin: Admin;
  /** Asks a yes/no question (--delete); absent means nobody can answer. */
  confirm?: (question: string) => Promise<boolean>;
  /** Where the cluster is, for messages. */
  where?: string;
}

/** The broker's error codes inside a kafkajs error (an aggregate lists one per topic). */
function brokerErrors(err: unknown): string {
  const list = (err as { errors?: { type?: string }[] }).errors;
  const types = [
    ...new Set(
      (Array.isArray(list) ? list : [err]).map((e) => (e as { type?: string }).type).filter(
        Boolean,
      ),
    ),
  ];
  return types.length ? types.join(", ") : "an error";
}

/** Creates the missing topics (or, with `delete`, deletes the existing ones). */
export async function manageTopics(
  opts: Pick<TopicsOptions, "prefix" | "partitions" | "replication" | "delete" | "yes" | "dryRun">,
  deps: TopicsDeps,
): Promise<TopicsResult> {
  const { admin } = deps;
  const where = deps.where ?? "the cluster";
  const wanted = topicNames(opts.prefix);
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } catch (err) {
    throw new Error(`Cannot list the topics of ${where}`, { cause: err });
  }
  const partitionsOf = async (topics: string[]) => {
    if (!topics.length) return new Map<string, number>();
    const meta = await admin.fetchTopicMetadata({ topics });
    return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  };

  if (opts.delete) {
    const present = wanted.filter((t) => existing.has(t));
    const absent: TopicResult[] = wanted.filter((t) => !existing.has(t)).map((topic) => ({
      topic,
      action: "absent",
    }));
    if (!present.length) return { topics: absent, confirmed: true };
    if (opts.dryRun) {
      return {
        topics: [
          ...present.map((topic): TopicResult => ({ topic, action: "would-delete" })),
          ...absent,
        ],
        confirmed: true,
      };
    }
    if (!opts.yes) {
      if (!deps.confirm) {
        throw new UsageError(
          `Refusing to delete ${
            present.map((t) => `"${t}"`).join(", ")
          } without confirmation: pass --yes`,
        );
      }
      const ok = await deps.confirm(
        `Delete ${present.join(", ")} and every record in them from ${where}?`,
      );
      if (!ok) return { topics: [], confirmed: false };
    }
    try {
      await admin.deleteTopics({ topics: present, timeout: 30_000 });
    } catch (err) {
      throw new Error(
        `Cannot delete topics ${present.map((t) => `"${t}"`).join(", ")} on ${where}`,
        { cause: err },
      );
    }
    return {
      topics: [...present.map((topic): TopicResult => ({ topic, action: "deleted" })), ...absent],
      confirmed: true,
    };
  }

  const missing = wanted.filter((t) => !existing.has(t));
  const have = await partitionsOf(wanted.filter((t) => existing.has(t)));
  if (missing.length && !opts.dryRun) {
    try {
      await admin.createTopics({
        topics: missing.map((topic) => ({
          topic,
          numPartitions: opts.partitions,
          replicationFactor: opts.replication,
        })),
        waitForLeaders: true,
      });
    } catch (err) {
      // Someone else may have created one in the meantime; anything else is an error.
      const again = new Set(await admin.listTopics().catch(() => [] as string[]));
      if (!missing.every((t) => again.has(t))) {
        throw new Error(
          `Cannot create topics ${missing.map((t) => `"${t}"`).join(", ")}: ${where} answered ${
            brokerErrors(err)
          }`,
          { cause: err },
        );
      }
    }
  }
  const made = opts.dryRun ? new Map<string, number>() : await partitionsOf(missing);
  return {
    confirmed: true,
    topics: wanted.map((topic): TopicResult => {
      if (existing.has(topic)) {
        const n = have.get(topic);
        return {
          topic,
          action: "exists",
          partitions: n,
          note: n !== undefined && n !== opts.partitions
            ? `has ${n} partition${n === 1 ? "" : "s"}, not ${opts.partitions}: left as it is`
            : undefined,
        };
      }
      return opts.dryRun
        ? { topic, action: "would-create", partitions: opts.partitions }
        : { topic, action: "created", partitions: made.get(topic) };
    }),
  };
}

if (import.meta.main) {
  await runMain(HELP, async (args, { env }) => {
    const opts = parseOptions(args, env, await loadConfig(env));
    const admin = createKafka(opts.kafka).admin({ retry: { retries: 3 } });
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`Cannot connect to Kafka at "${opts.kafka.bootstrap}"`, { cause: err });
    }
    let result: TopicsResult;
    try {
      result = await manageTopics(opts, {
        admin,
        where: `the broker at ${opts.kafka.bootstrap}`,
        confirm: Deno.stdin.isTerminal() ? (q) => Promise.resolve(confirm(q)) : undefined,
      });
    } finally {
      await admin.disconnect();
    }
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
    return 0;
  });
}
