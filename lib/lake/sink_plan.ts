/**
 * What the sink settles before it consumes: the topics to land, the temp files killed writers
 * left, where each partition starts (`fromBeginning`, `startOffsets`), what `once` drains to,
 * and the refusal of a group whose commits this lake does not hold.
 * @module
 */
import type { Admin } from "../deps/kafkajs.ts";
import { QUARANTINE_DIR, TOPICS_DIR } from "./lake.ts";
import type { Lake } from "./lake.ts";
import type { LakeCallContext, LakeRetry } from "./lake_retry.ts";
import { passingKafkaError } from "./sink_consumer.ts";
import { fmtInt } from "../shell/progress.ts";
import { retry } from "../shell/retry.ts";

/** The part of the sink's options the plan reads. */
export interface PlanOptions {
  lake: Lake;
  topicsRegex: RegExp;
  groupId: string;
  once?: boolean;
  fromBeginning?: boolean;
  startOffsets?: Map<string, number>;
}

/** Where the sink starts. */
export interface SinkPlan {
  /** Matching topics, sorted (empty: nothing to do). */
  topics: string[];
  /** Temp files of killed writers removed from the lake. */
  tempsRemoved?: number;
  /** Partitions (`topic:partition`) that start elsewhere than their commit, and where. */
  seekPlan: Map<string, number>;
  /** With `once`: the end offset to land each partition to (only those with records to land). */
  targets?: Map<string, number>;
  /** With `once`: records to land. */
  lag: number;
}

/** A partition's log start and end. */
interface LogRange {
  topic: string;
  partition: number;
  low: number;
  high: number;
}

/** Looks at the topics, the group and the lake, and says where the sink starts. */
export async function planSink(
  admin: Admin,
  opts: PlanOptions,
  ctx: { signal?: AbortSignal; retry: LakeRetry; log: (line: string) => void },
): Promise<SinkPlan> {
  const plan: SinkPlan = { topics: [], seekPlan: new Map(), lag: 0 };
  plan.topics = await waitForTopics(admin, opts, ctx.signal, ctx.log);
  if (!plan.topics.length) return plan;
  const lakeCtx: LakeCallContext = {
    abandon: () => ctx.signal?.aborted ? "the sink was interrupted" : undefined,
  };
  plan.tempsRemoved = await removeTemps(opts.lake, plan.topics, ctx.retry, lakeCtx);
  if (plan.tempsRemoved) {
    ctx.log(
      `sink: removed ${
        fmtInt(plan.tempsRemoved)
      } temp file(s) that an interrupted write left in ${opts.lake.url}`,
    );
  }
  // On a cluster that just started, the group coordinator may still be loading.
  const settle = <T>(fn: () => Promise<T>) =>
    retry(fn, {
      maxAttempts: 12,
      baseMs: 200,
      maxMs: 2000,
      signal: ctx.signal,
      retriable: passingKafkaError,
    });
  const logs = await settle(() => logOffsets(admin, plan.topics));
  const committed = await settle(() => committedOffsets(admin, opts.groupId, plan.topics));
  if (opts.fromBeginning) {
    ctx.log(`sink: landing ${plan.topics.join(", ")} from the beginning of the log`);
    for (const [id, o] of logs) plan.seekPlan.set(id, o.low);
  } else {
    await refuseUnlandedCommits(opts, logs, committed, (lake, t, p) =>
      ctx.retry.run(
        () => `list the objects of ${t}[${p}] in the lake "${lake.url}"`,
        () => holdsAny(lake, t, p),
        lakeCtx,
      ));
    for (const [id, offset] of opts.startOffsets ?? []) {
      if ((committed.get(id) ?? -1) < 0 && logs.has(id)) plan.seekPlan.set(id, offset);
    }
  }
  if (opts.once) {
    plan.targets = new Map([...logs].map(([tp, o]) => [tp, o.high]));
    for (const [tp, high] of plan.targets) {
      const c = committed.get(tp) ?? -1;
      const from = plan.seekPlan.get(tp) ?? (c >= 0 ? c : logs.get(tp)!.low);
      if (from >= high) plan.targets.delete(tp);
      else plan.lag += high - from;
    }
  }
  return plan;
}

/** The matching topics; a long-running sink waits (saying so) until one exists. */
async function waitForTopics(
  admin: Admin,
  opts: PlanOptions,
  signal: AbortSignal | undefined,
  log: (l: string) => void,
): Promise<string[]> {
  let said = false;
  for (;;) {
    const all = await admin.listTopics();
    const topics = all.filter((t) => !t.startsWith("__") && opts.topicsRegex.test(t)).sort();
    if (topics.length || opts.once || signal?.aborted) return topics;
    if (!said) log(`sink: no topic matches ${opts.topicsRegex}; waiting for one`);
    said = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, 2000);
      signal?.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}

/** Removes killed writers' temp files under the topics' folders; returns how many. */
async function removeTemps(
  lake: Lake,
  topics: string[],
  retry: LakeRetry,
  ctx: LakeCallContext,
): Promise<number> {
  if (!lake.removeTemps) return 0;
  let n = 0;
  for (const t of topics) {
    for (const dir of [TOPICS_DIR, QUARANTINE_DIR]) {
      n += await retry.run(
        () => `remove temp files under "${dir}/${t}/" in the lake "${lake.url}"`,
        () => lake.removeTemps!(`${dir}/${t}/`),
        ctx,
      );
    }
  }
  return n;
}

/** The log start and end offsets of every partition of `topics`, by `topic:partition`. */
async function logOffsets(admin: Admin, topics: string[]): Promise<Map<string, LogRange>> {
  const out = new Map<string, LogRange>();
  for (const t of topics) {
    for (const p of await admin.fetchTopicOffsets(t)) {
      out.set(`${t}:${p.partition}`, {
        topic: t,
        partition: p.partition,
        low: Number(p.low),
        high: Number(p.high),
      });
    }
  }
  return out;
}

/**
 * Refuses to run when the group already committed records of a partition that the lake
 * has no object of at all: those records would never be landed in this lake (a new lake,
 * a mistyped one, or a group shared with another lake).
 */
async function refuseUnlandedCommits(
  opts: PlanOptions,
  logs: Map<string, LogRange>,
  committed: Map<string, number>,
  holds: (lake: Lake, topic: string, partition: number) => Promise<boolean>,
): Promise<void> {
  let records = 0;
  const missing: string[] = [];
  for (const [tp, o] of logs) {
    const c = committed.get(tp) ?? -1;
    if (c <= o.low) continue;
    if (await holds(opts.lake, o.topic, o.partition)) continue;
    records += c - o.low;
    missing.push(`${o.topic}[${o.partition}]`);
  }
  if (!missing.length) return;
  missing.sort((x, y) => x.localeCompare(y, "en", { numeric: true }));
  const shown = missing.length > 4
    ? `${missing.slice(0, 4).join(", ")} and ${missing.length - 4} more`
    : missing.join(", ");
  throw new Error(
    `Cannot land into "${opts.lake.url}" with group "${opts.groupId}": the group already committed ${
      fmtInt(records)
    } records of ${shown}, and this lake holds no object of ${
      missing.length === 1 ? "that partition" : "those partitions"
    }, so they would never be landed here: pass --from-beginning to land every record from the start of the log (or use the lake this group wrote to)`,
  );
}

/** True when the lake has any object (landed or quarantined) of the partition. */
async function holdsAny(lake: Lake, topic: string, partition: number): Promise<boolean> {
  for (const dir of [TOPICS_DIR, QUARANTINE_DIR]) {
    for await (const _ of lake.list(`${dir}/${topic}/partition=${partition}/`)) return true;
  }
  return false;
}

/** The group's committed offset of every partition of `topics` (-1: none). */
async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of await admin.fetchOffsets({ groupId, topics })) {
    for (const p of t.partitions) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
  }
  return out;
}
