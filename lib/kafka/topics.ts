/**
 * The pipeline's three topics, `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`: their names,
 * and creating the missing ones (or deleting them) with a kafkajs admin client. Used by
 * `deno task topics` (`runTopics`) and by the demo.
 * @module
 */
import type { Admin } from "../deps/kafkajs.ts";
import { UsageError } from "../shell/errors.ts";
import type { FlagDef } from "../shell/flags.ts";
import {
  checkKafkaReachable,
  createKafka,
  kafkaAnswered,
  type KafkaClientOptions,
} from "./kafka_client.ts";

/** Partitions of each topic the pipeline creates, unless told otherwise. */
export const DEFAULT_PARTITIONS = 3;

/** `--partitions N`, shared by topics and the demo. */
export const PARTITIONS_FLAG = {
  type: "int",
  help: "partitions of each new topic",
  env: "PINPIPE_PARTITIONS",
  default: DEFAULT_PARTITIONS,
  min: 1,
  max: 10_000,
} as const satisfies FlagDef;

/** The three topics of `prefix`, by table. */
export function topicsFor(prefix: string): { pin: string; geo: string; user: string } {
  return { pin: `${prefix}.pin`, geo: `${prefix}.geo`, user: `${prefix}.user` };
}

/** The topics of `prefix`, in the order pin, geo, user. */
export function topicNames(prefix: string): string[] {
  return Object.values(topicsFor(prefix));
}

/** What `manageTopics` is asked to do. */
export interface ManageTopicsOptions {
  prefix: string;
  partitions: number;
  /** -1: the cluster's default. */
  replication: number;
  delete: boolean;
  yes: boolean;
  dryRun: boolean;
  /**
   * How long Kafka may take to create (and elect leaders for) or delete the topics.
   * Default TOPICS_TIMEOUT_MS.
   */
  timeoutMs?: number;
  /** What lengthens that wait, named when it runs out (`--timeout or PINPIPE_TOPICS_TIMEOUT`). */
  timeoutFlag?: string;
}

/** How long Kafka may take to create or delete the topics by default: 30 s. */
export const TOPICS_TIMEOUT_MS = 30_000;

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

/** For a failure that was a wait running out: what it waited for and what lengthens it. */
function timeoutNote(err: unknown, what: string, opts: ManageTopicsOptions): string {
  const text = [err, ...((err as { errors?: unknown[] }).errors ?? [])]
    .map((e) => `${(e as Error)?.message ?? ""} ${(e as { type?: string })?.type ?? ""}`)
    .join(" ");
  if (!/timed? ?out|TIMED_OUT/i.test(text)) return "";
  const sec = (opts.timeoutMs ?? TOPICS_TIMEOUT_MS) / 1000;
  return ` (Kafka was given ${sec} s ${what}${
    opts.timeoutFlag ? `; ${opts.timeoutFlag} gives it longer` : ""
  })`;
}

/** Creates the missing topics (or, with `delete`, deletes the existing ones). */
export async function manageTopics(
  opts: ManageTopicsOptions,
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
      await admin.deleteTopics({ topics: present, timeout: opts.timeoutMs ?? TOPICS_TIMEOUT_MS });
    } catch (err) {
      throw new Error(
        `Cannot delete topics ${present.map((t) => `"${t}"`).join(", ")} on ${where}${
          timeoutNote(err, "to delete them", opts)
        }`,
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
        timeout: opts.timeoutMs ?? TOPICS_TIMEOUT_MS,
      });
    } catch (err) {
      // Someone else may have created one in the meantime; anything else is an error.
      const again = new Set(await admin.listTopics().catch(() => [] as string[]));
      if (!missing.every((t) => again.has(t))) {
        throw new Error(
          `Cannot create topics ${missing.map((t) => `"${t}"`).join(", ")}: ${where} answered ${
            brokerErrors(err)
          }${timeoutNote(err, "to create them and elect their leaders", opts)}`,
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

/** What `runTopics` is asked to do: the topics, and the cluster to do it on. */
export interface TopicsJob extends ManageTopicsOptions {
  kafka: KafkaClientOptions;
}

/**
 * `work`, or the signal's reason as soon as it aborts: Ctrl-C does not wait for a slow or
 * silent cluster. What was sent is done or not at all (a topic is created whole), and a
 * re-run converges, so abandoning the request is safe.
 */
function unlessAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

/**
 * Connects an admin client to `opts.kafka` (failing within seconds when nothing listens
 * there) and creates or deletes the topics; returns at once when `signal` aborts.
 */
export function runTopics(
  opts: TopicsJob,
  deps: { signal?: AbortSignal; confirm?: TopicsDeps["confirm"] } = {},
): Promise<TopicsResult> {
  const where = `Kafka at "${opts.kafka.bootstrap}" (${opts.kafka.bootstrapFrom})`;
  return unlessAborted(
    (async () => {
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
          confirm: deps.confirm,
        });
      } finally {
        await admin.disconnect();
      }
    })(),
    deps.signal,
  );
}

/** The result as lines a person reads: one per topic. */
export function formatTopics(result: TopicsResult): string {
  return result.topics.map((t) => {
    const parts = t.partitions !== undefined
      ? ` (${t.partitions} partition${t.partitions === 1 ? "" : "s"})`
      : "";
    return `${t.action.padEnd(12)} ${t.topic}${parts}${t.note ? `: ${t.note}` : ""}`;
  }).join("\n");
}
