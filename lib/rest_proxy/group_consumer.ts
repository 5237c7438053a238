/**
 * A poll-model Kafka consumer, what each v2 consumer instance of the REST proxy holds: the
 * semantics of Java's KafkaConsumer that Confluent's proxy exposes. It subscribes to topics or
 * a pattern through group membership (JoinGroup/SyncGroup with the "range" protocol, so it
 * shares a group with Java consumers; heartbeats every 3 s; it rejoins on its own when the
 * group rebalances or a pattern matches new topics), or is assigned partitions by hand;
 * it seeks, reads bounded by bytes and time, commits and reads committed offsets.
 *
 * Positions are the next offset to hand out: records fetched but not yet returned stay in a
 * per-partition buffer and are not counted as consumed, so an auto-commit never covers a
 * record the client did not receive. Offsets committed without a body are these positions.
 * @module
 */
import { Buffer } from "node:buffer";
import { AssignerProtocol } from "../deps/kafkajs.ts";
import type { Kafka } from "../deps/kafkajs.ts";
import { createCluster } from "./kafka_cluster.ts";
import type { KafkaBroker, KafkaCluster } from "./kafka_cluster.ts";

/** A topic and partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A record handed to the client. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** A committed offset. */
export interface CommittedOffset extends TopicPartition {
  offset: number;
  metadata: string;
}

/** How one consumer behaves. */
export interface GroupConsumerOptions {
  groupId: string;
  /** Where to start without a committed offset; "none" fails the read instead. */
  autoOffsetReset: "earliest" | "latest" | "none";
  /** Commit positions every `autoCommitIntervalMs`, before a rebalance and on close. */
  autoCommit: boolean;
  autoCommitIntervalMs?: number;
  /** Group session timeout. Default 30 s. */
  sessionTimeoutMs?: number;
  /** How long the group waits for members to rejoin in a rebalance. Default 30 s. */
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Bytes one fetch may return per partition. Default 1 MiB. */
  partitionFetchBytes?: number;
  log?: (line: string) => void;
}

/** A misuse the Java consumer answers with IllegalStateException (409/40903 on the API). */
export class IllegalStateError extends Error {
  override name = "IllegalStateError";
}

/** No committed offset and `auto.offset.reset` is "none". */
export class NoOffsetError extends Error {
  override name = "NoOffsetError";
}

const tpKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to hand out; undefined until initialized from a commit or the reset policy. */
  position?: number;
  /** Next offset to fetch (position + buffered records). */
  fetchAt?: number;
  buffer: ConsumedRecord[];
}

function protocolType(err: unknown): string {
  return (err as { type?: string })?.type ?? "";
}

/** One consumer instance's Kafka side. */
export class GroupConsumer {
  private readonly cluster: KafkaCluster;
  private mode: "none" | "subscribed" | "assigned" = "none";
  private topicsWanted: string[] = [];
  private pattern?: RegExp;
  private partitions = new Map<string, PartitionState>();
  private memberId = "";
  private generationId = -1;
  private joined = false;
  private joining?: Promise<void>;
  private coordinator?: KafkaBroker;
  private heartbeat?: ReturnType<typeof setInterval>;
  private lastCommit = performance.now();
  private lastPatternCheck = 0;
  /** Bumped whenever the topics wanted change, so a join already under way is redone. */
  private subVersion = 0;
  private closed = false;
  private readonly log: (line: string) => void;

  constructor(kafka: Kafka, private readonly opts: GroupConsumerOptions) {
    this.cluster = createCluster(kafka);
    this.log = opts.log ?? (() => {});
  }

  /** Connects to the cluster (fails when Kafka cannot be reached). */
  async connect(): Promise<void> {
    await this.cluster.connect();
  }

  /** The topics subscribed to (for a pattern, those it matches now). */
  subscription(): string[] {
    return this.mode === "subscribed" ? [...this.topicsWanted].sort() : [];
  }

  /** The partitions assigned, by hand or by the group. */
  assignment(): TopicPartition[] {
    return [...this.partitions.values()]
      .map(({ topic, partition }) => ({ topic, partition }))
      .sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
  }

  /** Subscribes to `topics` or a pattern, replacing any earlier subscription. */
  async subscribe(sub: { topics: string[] } | { pattern: RegExp }): Promise<void> {
    if (this.mode === "assigned") {
      throw new IllegalStateError(
        "Subscription to topics, partitions and pattern are mutually exclusive",
      );
    }
    if ("topics" in sub && sub.topics.length === 0) return await this.unsubscribe();
    this.mode = "subscribed";
    if ("pattern" in sub) {
      this.pattern = sub.pattern;
      this.topicsWanted = await this.matchPattern();
    } else {
      this.pattern = undefined;
      this.topicsWanted = [...new Set(sub.topics)];
    }
    this.subVersion++;
    this.joined = false;
    this.startHeartbeat();
    this.rejoinSoon();
  }

  /** Leaves the group and forgets the subscription or assignment. */
  async unsubscribe(): Promise<void> {
    if (this.mode === "subscribed") {
      await this.commitIfAuto();
      await this.leave();
    }
    this.mode = "none";
    this.pattern = undefined;
    this.topicsWanted = [];
    this.partitions.clear();
  }

  /** Assigns partitions by hand (no group membership; commits go in as a "simple" group). */
  assign(tps: TopicPartition[]): void {
    if (this.mode === "subscribed") {
      throw new IllegalStateError(
        "Subscription to topics, partitions and pattern are mutually exclusive",
      );
    }
    const next = new Map<string, PartitionState>();
    for (const { topic, partition } of tps) {
      const k = tpKey(topic, partition);
      next.set(k, this.partitions.get(k) ?? { topic, partition, buffer: [] });
    }
    this.partitions = next;
    this.mode = tps.length ? "assigned" : "none";
  }

  private stateOf(tp: TopicPartition, what: string): PartitionState {
    const st = this.partitions.get(tpKey(tp.topic, tp.partition));
    if (!st) {
      throw new IllegalStateError(
        `No current assignment for partition ${tp.topic}-${tp.partition} (${what})`,
      );
    }
    return st;
  }

  /** Sets the next offset to read for each partition (all must be assigned). */
  seek(offsets: (TopicPartition & { offset: number })[]): void {
    const states = offsets.map((o) => [this.stateOf(o, "seek"), o.offset] as const);
    for (const [st, offset] of states) this.moveTo(st, offset);
  }

  /** Seeks to the first or next-to-be-written offset of each partition. */
  async seekTo(where: "beginning" | "end", tps: TopicPartition[]): Promise<void> {
    const states = tps.map((tp) => this.stateOf(tp, `seek to ${where}`));
    const offsets = await this.listOffsets(states, where === "beginning");
    for (const st of states) this.moveTo(st, offsets.get(tpKey(st.topic, st.partition))!);
  }

  private moveTo(st: PartitionState, offset: number): void {
    st.position = offset;
    st.fetchAt = offset;
    st.buffer = [];
  }

  /**
   * Reads records: waits for the group to assign partitions, then gathers records until
   * `minBytes` is passed (when given), the next record would pass `maxBytes` (at least one
   * record is returned), or `timeoutMs` passes.
   */
  async poll(
    o: {
      timeoutMs: number;
      maxBytes: number;
      minBytes?: number;
      /** Throws for a record that may not be handed out; it then stays next in line. */
      check?: (r: ConsumedRecord) => void;
    },
  ): Promise<ConsumedRecord[]> {
    if (this.mode === "none") {
      throw new IllegalStateError(
        "Consumer is not subscribed to any topics or assigned any partitions",
      );
    }
    let deadline = performance.now() + o.timeoutMs;
    if (this.mode === "subscribed") {
      await this.checkPattern();
      if (!this.joined) {
        await this.ensureJoined();
        // A read that waited for the group still gets its full time to gather records.
        deadline = Math.max(deadline, performance.now() + o.timeoutMs);
      }
    }
    await this.ensurePositions();
    const out: ConsumedRecord[] = [];
    let bytes = 0;
    let full = false;
    for (;;) {
      // Round robin over the partitions' buffers, so one busy partition cannot starve others.
      let took = true;
      while (took && !full) {
        took = false;
        for (const st of this.partitions.values()) {
          const r = st.buffer[0];
          if (!r) continue;
          const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
          if (out.length > 0 && bytes + size > o.maxBytes) {
            full = true;
            break;
          }
          if (o.check) {
            try {
              o.check(r);
            } catch (err) {
              // Hand out what came before it; the next read reports it.
              if (out.length === 0) throw err;
              full = true;
              break;
            }
          }
          st.buffer.shift();
          st.position = r.offset + 1;
          out.push(r);
          bytes += size;
          took = true;
        }
      }
      if (full || this.closed || !this.isMember()) break;
      if (o.minBytes !== undefined && bytes >= o.minBytes && out.length > 0) break;
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.fetchOnce(Math.max(1, Math.min(left, 500)));
    }
    await this.commitIfDue();
    return out;
  }

  /** Whether records may be handed out: assigned by hand, or a member of a settled group. */
  private isMember(): boolean {
    return this.mode === "assigned" || (this.mode === "subscribed" && this.joined);
  }

  /**
   * Commits `offsets` as given, or without them every partition's position (all records read so
   * far). Returns what was committed.
   */
  async commit(offsets?: (TopicPartition & { offset: number; metadata?: string })[]) {
    const list: (TopicPartition & { offset: number; metadata?: string })[] = offsets ??
      [...this.partitions.values()]
        .filter((st) => st.position !== undefined)
        .map((st) => ({ topic: st.topic, partition: st.partition, offset: st.position! }));
    if (list.length === 0) return [];
    const byTopic = new Map<string, { partition: number; offset: string; metadata?: string }[]>();
    for (const o of list) {
      const arr = byTopic.get(o.topic) ?? [];
      byTopic.set(o.topic, arr);
      arr.push({ partition: o.partition, offset: String(o.offset), metadata: o.metadata ?? "" });
    }
    const member = this.mode === "subscribed" && this.memberId;
    await this.withCoordinator((c) =>
      c.offsetCommit({
        groupId: this.opts.groupId,
        groupGenerationId: member ? this.generationId : -1,
        memberId: member ? this.memberId : "",
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      })
    );
    this.lastCommit = performance.now();
    return list;
  }

  /** The last committed offsets of `tps` (whoever committed them); partitions without one are left out. */
  async committed(tps: TopicPartition[]): Promise<CommittedOffset[]> {
    if (tps.length === 0) return [];
    const byTopic = new Map<string, { partition: number }[]>();
    for (const tp of tps) {
      const arr = byTopic.get(tp.topic) ?? [];
      byTopic.set(tp.topic, arr);
      arr.push({ partition: tp.partition });
    }
    const res = await this.withCoordinator((c) =>
      c.offsetFetch({
        groupId: this.opts.groupId,
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      })
    );
    const out: CommittedOffset[] = [];
    for (const t of res.responses ?? []) {
      for (const p of t.partitions) {
        const offset = Number(p.offset);
        if (offset >= 0) {
          out.push({ topic: t.topic, partition: p.partition, offset, metadata: p.metadata ?? "" });
        }
      }
    }
    return out;
  }

  /** Commits (with auto-commit), leaves the group and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat();
    try {
      await this.joining?.catch(() => {});
      await this.commitIfAuto();
      if (this.mode === "subscribed") await this.leave();
    } finally {
      await this.cluster.disconnect().catch(() => {});
    }
  }

  // --- group membership ---------------------------------------------------------------

  private rejoinSoon(): void {
    this.joined = false;
    if (this.joining || this.closed) return;
    this.joining = this.joinLoop().finally(() => (this.joining = undefined));
    this.joining.catch((err) => this.log(`rest-proxy: group ${this.opts.groupId}: ${err.message}`));
  }

  private async ensureJoined(): Promise<void> {
    const limit = performance.now() + (this.opts.rebalanceTimeoutMs ?? 30_000) + 10_000;
    while (this.mode === "subscribed" && !this.joined && !this.closed) {
      if (!this.joining) this.rejoinSoon();
      await this.joining;
      if (performance.now() > limit) break;
    }
  }

  private async joinLoop(): Promise<void> {
    for (let attempt = 1; this.mode === "subscribed" && !this.closed; attempt++) {
      try {
        const version = this.subVersion;
        await this.joinOnce();
        if (version === this.subVersion) return;
        this.joined = false;
        continue;
      } catch (err) {
        const t = protocolType(err);
        if (t === "UNKNOWN_MEMBER_ID" || t === "FENCED_INSTANCE_ID") this.memberId = "";
        if (t === "NOT_COORDINATOR" || t === "COORDINATOR_NOT_AVAILABLE") {
          this.coordinator = undefined;
        }
        const retriable = t === "REBALANCE_IN_PROGRESS" || t === "UNKNOWN_MEMBER_ID" ||
          t === "ILLEGAL_GENERATION" || (err as { retriable?: boolean }).retriable === true ||
          t === "NOT_COORDINATOR" || t === "COORDINATOR_NOT_AVAILABLE" ||
          t === "COORDINATOR_LOAD_IN_PROGRESS";
        if (!retriable || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * attempt)));
      }
    }
  }

  private async joinOnce(): Promise<void> {
    await this.commitIfAuto().catch(() => {});
    const coordinator = await this.findCoordinator();
    const join = await coordinator.joinGroup({
      groupId: this.opts.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: this.opts.rebalanceTimeoutMs ?? 30_000,
      memberId: this.memberId,
      groupProtocols: [{
        name: "range",
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics: this.topicsWanted,
          userData: Buffer.alloc(0),
        }),
      }],
    });
    this.memberId = join.memberId;
    this.generationId = join.generationId;
    let groupAssignment: { memberId: string; memberAssignment: Buffer }[] = [];
    if (join.leaderId === join.memberId) groupAssignment = await this.assignRange(join.members);
    const sync = await coordinator.syncGroup({
      groupId: this.opts.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupAssignment,
    });
    const decoded = sync.memberAssignment?.length
      ? AssignerProtocol.MemberAssignment.decode(sync.memberAssignment)
      : null;
    const next = new Map<string, PartitionState>();
    for (const [topic, parts] of Object.entries(decoded?.assignment ?? {})) {
      for (const partition of parts as number[]) {
        const k = tpKey(topic, partition);
        // Positions of partitions kept are forgotten too: another member may have moved them.
        next.set(k, { topic, partition, buffer: [] });
      }
    }
    this.partitions = next;
    this.joined = true;
    this.log(
      `rest-proxy: group ${this.opts.groupId} generation ${this.generationId}: ${next.size} partitions`,
    );
  }

  /** The range assignor, as Java's: per topic, consecutive partitions to members in id order. */
  private async assignRange(
    members: { memberId: string; memberMetadata: Buffer }[],
  ): Promise<{ memberId: string; memberAssignment: Buffer }[]> {
    const subs = members.map((m) => ({
      memberId: m.memberId,
      topics: (AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? []) as string[],
    }));
    const topics = [...new Set(subs.flatMap((s) => s.topics))];
    const existing = new Set(await this.listTopics());
    const known = topics.filter((t) => existing.has(t));
    if (known.length) await this.cluster.addMultipleTargetTopics(known);
    const plan = new Map<string, Record<string, number[]>>(subs.map((s) => [s.memberId, {}]));
    for (const topic of known.sort()) {
      const parts = this.cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId)
        .sort((a, b) => a - b);
      const takers = subs.filter((s) => s.topics.includes(topic)).map((s) => s.memberId).sort();
      const per = Math.floor(parts.length / takers.length);
      const extra = parts.length % takers.length;
      let at = 0;
      takers.forEach((m, i) => {
        const n = per + (i < extra ? 1 : 0);
        if (n > 0) plan.get(m)![topic] = parts.slice(at, at + n);
        at += n;
      });
    }
    return [...plan].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  }

  private async leave(): Promise<void> {
    this.stopHeartbeat();
    const memberId = this.memberId;
    this.memberId = "";
    this.generationId = -1;
    this.joined = false;
    this.partitions.clear();
    if (!memberId) return;
    try {
      const c = await this.findCoordinator();
      await c.leaveGroup({ groupId: this.opts.groupId, memberId });
    } catch (err) {
      this.log(`rest-proxy: group ${this.opts.groupId}: leaving failed: ${(err as Error).message}`);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => {
      void this.beat();
    }, this.opts.heartbeatIntervalMs ?? 3000);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private beating = false;
  private async beat(): Promise<void> {
    if (this.beating || this.joining || this.closed || this.mode !== "subscribed") return;
    this.beating = true;
    try {
      await this.checkPattern();
      if (!this.joined || !this.memberId) return;
      const c = await this.findCoordinator();
      await c.heartbeat({
        groupId: this.opts.groupId,
        groupGenerationId: this.generationId,
        memberId: this.memberId,
      });
    } catch (err) {
      const t = protocolType(err);
      if (t === "UNKNOWN_MEMBER_ID") this.memberId = "";
      if (t === "NOT_COORDINATOR" || t === "COORDINATOR_NOT_AVAILABLE") {
        this.coordinator = undefined;
      }
      if (
        t === "REBALANCE_IN_PROGRESS" || t === "UNKNOWN_MEMBER_ID" || t === "ILLEGAL_GENERATION"
      ) {
        // Rejoin at once, so the other members do not wait for this one's next read.
        this.rejoinSoon();
      }
    } finally {
      this.beating = false;
    }
  }

  /** Re-evaluates a pattern subscription every few seconds; new matches mean a rejoin. */
  private async checkPattern(): Promise<void> {
    if (!this.pattern || performance.now() - this.lastPatternCheck < 3000) return;
    this.lastPatternCheck = performance.now();
    const now = await this.matchPattern();
    if (now.join("\u0000") !== [...this.topicsWanted].sort().join("\u0000")) {
      this.topicsWanted = now;
      this.subVersion++;
      this.rejoinSoon();
    }
  }

  private async matchPattern(): Promise<string[]> {
    const all = await this.listTopics();
    this.lastPatternCheck = performance.now();
    // Java matches the whole name (Pattern.matcher(topic).matches()); internal topics are left out.
    return all.filter((t) => !t.startsWith("__") && fullMatch(this.pattern!, t)).sort();
  }

  private async listTopics(): Promise<string[]> {
    const md = await this.cluster.metadata({ topics: [] });
    return (md.topicMetadata ?? []).map((t: { topic: string }) => t.topic);
  }

  private async findCoordinator(): Promise<KafkaBroker> {
    this.coordinator ??= await this.cluster.findGroupCoordinator({ groupId: this.opts.groupId });
    return this.coordinator;
  }

  private async withCoordinator<T>(fn: (c: KafkaBroker) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.findCoordinator());
    } catch (err) {
      const t = protocolType(err);
      if (t !== "NOT_COORDINATOR" && t !== "COORDINATOR_NOT_AVAILABLE") throw err;
      this.coordinator = undefined;
      return await fn(await this.findCoordinator());
    }
  }

  // --- positions and fetching -----------------------------------------------------------

  private async ensurePositions(): Promise<void> {
    const missing = [...this.partitions.values()].filter((st) => st.position === undefined);
    if (!missing.length) return;
    const committed = await this.committed(missing);
    const fromCommit = new Map(committed.map((c) => [tpKey(c.topic, c.partition), c.offset]));
    const reset: PartitionState[] = [];
    for (const st of missing) {
      const o = fromCommit.get(tpKey(st.topic, st.partition));
      if (o !== undefined) this.moveTo(st, o);
      else reset.push(st);
    }
    if (!reset.length) return;
    if (this.opts.autoOffsetReset === "none") {
      const names = reset.map((st) => `${st.topic}-${st.partition}`).join(", ");
      throw new NoOffsetError(`Undefined offset with no reset policy for partitions: ${names}`);
    }
    const offsets = await this.listOffsets(reset, this.opts.autoOffsetReset === "earliest");
    for (const st of reset) this.moveTo(st, offsets.get(tpKey(st.topic, st.partition))!);
  }

  /** The earliest or next-to-be-written offsets of `states`. */
  private async listOffsets(
    states: TopicPartition[],
    earliest: boolean,
  ): Promise<Map<string, number>> {
    const byTopic = new Map<string, { partition: number }[]>();
    for (const st of states) {
      const arr = byTopic.get(st.topic) ?? [];
      byTopic.set(st.topic, arr);
      arr.push({ partition: st.partition });
    }
    await this.cluster.addMultipleTargetTopics([...byTopic.keys()]);
    const res = await this.cluster.fetchTopicsOffset(
      [...byTopic].map(([topic, partitions]) => ({ topic, partitions, fromBeginning: earliest })),
    );
    const out = new Map<string, number>();
    for (const t of res) {
      for (const p of t.partitions) out.set(tpKey(t.topic, p.partition), Number(p.offset));
    }
    for (const st of states) {
      if (!out.has(tpKey(st.topic, st.partition))) {
        throw new IllegalStateError(`Partition ${st.topic}-${st.partition} does not exist`);
      }
    }
    return out;
  }

  /** One fetch round to every leader of a partition with an empty buffer; waits up to `maxWaitMs`. */
  private async fetchOnce(maxWaitMs: number): Promise<void> {
    const wanted = [...this.partitions.values()].filter((st) =>
      st.position !== undefined && st.buffer.length === 0
    );
    if (!wanted.length) {
      await new Promise((r) => setTimeout(r, Math.min(maxWaitMs, 100)));
      return;
    }
    const topics = [...new Set(wanted.map((st) => st.topic))];
    await this.cluster.addMultipleTargetTopics(topics);
    const byLeader = new Map<string, PartitionState[]>();
    for (const topic of topics) {
      const mine = wanted.filter((st) => st.topic === topic);
      const leaders = this.cluster.findLeaderForPartitions(topic, mine.map((st) => st.partition));
      for (const [leader, parts] of Object.entries(leaders)) {
        const arr = byLeader.get(leader) ?? [];
        byLeader.set(leader, arr);
        for (const p of parts) arr.push(mine.find((st) => st.partition === p)!);
      }
    }
    if (byLeader.size === 0) {
      await this.cluster.refreshMetadata().catch(() => {});
      await new Promise((r) => setTimeout(r, Math.min(maxWaitMs, 100)));
      return;
    }
    const fetchBytes = this.opts.partitionFetchBytes ?? 1024 * 1024;
    await Promise.all([...byLeader].map(async ([nodeId, states]) => {
      const byTopic = new Map<string, PartitionState[]>();
      for (const st of states) {
        const arr = byTopic.get(st.topic) ?? [];
        byTopic.set(st.topic, arr);
        arr.push(st);
      }
      try {
        const broker = await this.cluster.findBroker({ nodeId });
        const res = await broker.fetch({
          replicaId: -1,
          isolationLevel: 0,
          maxWaitTime: Math.round(maxWaitMs),
          minBytes: 1,
          maxBytes: fetchBytes * states.length,
          topics: [...byTopic].map(([topic, sts]) => ({
            topic,
            partitions: sts.map((st) => ({
              partition: st.partition,
              fetchOffset: String(st.fetchAt),
              maxBytes: fetchBytes,
            })),
          })),
        });
        for (const t of res.responses ?? []) {
          for (const p of t.partitions) {
            const st = this.partitions.get(tpKey(t.topicName, p.partition));
            if (st) this.take(st, p.messages ?? []);
          }
        }
      } catch (err) {
        const e = err as { name?: string; topic?: string; partition?: number };
        const t = protocolType(err);
        if (e.name === "KafkaJSOffsetOutOfRange" && e.topic !== undefined) {
          const st = this.partitions.get(tpKey(e.topic, Number(e.partition)));
          if (st) {
            this.log(
              `rest-proxy: ${e.topic}-${e.partition}: offset ${st.fetchAt} out of range, resetting`,
            );
            st.position = undefined;
            await this.ensurePositions();
          }
          return;
        }
        if (
          t === "NOT_LEADER_FOR_PARTITION" || t === "UNKNOWN_TOPIC_OR_PARTITION" ||
          t === "LEADER_NOT_AVAILABLE" || e.name === "KafkaJSConnectionError" ||
          e.name === "KafkaJSBrokerNotFound"
        ) {
          await this.cluster.refreshMetadata().catch(() => {});
          await new Promise((r) => setTimeout(r, Math.min(maxWaitMs, 100)));
          return;
        }
        throw err;
      }
    }));
  }

  private take(
    st: PartitionState,
    messages: {
      offset: string;
      key: Buffer | null;
      value: Buffer | null;
      isControlRecord?: boolean;
    }[],
  ): void {
    const from = st.fetchAt!;
    let next = from;
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < from) continue;
      next = Math.max(next, offset + 1);
      if (m.isControlRecord) continue;
      st.buffer.push({
        topic: st.topic,
        partition: st.partition,
        offset,
        key: m.key,
        value: m.value,
      });
    }
    st.fetchAt = next;
  }

  private async commitIfAuto(): Promise<void> {
    if (!this.opts.autoCommit) return;
    // A member commits with its generation, which stays valid while the group rebalances.
    if (this.mode === "subscribed" && !this.memberId) return;
    try {
      await this.commit();
    } catch (err) {
      this.log(
        `rest-proxy: group ${this.opts.groupId}: auto-commit failed: ${(err as Error).message}`,
      );
    }
  }

  private async commitIfDue(): Promise<void> {
    if (performance.now() - this.lastCommit >= (this.opts.autoCommitIntervalMs ?? 5000)) {
      await this.commitIfAuto();
      this.lastCommit = performance.now();
    }
  }
}

/** Whether `re` matches the whole of `s`, as Java's `Matcher.matches()`. */
export function fullMatch(re: RegExp, s: string): boolean {
  const anchored = new RegExp(`^(?:${re.source})$`, re.flags.replace(/[gy]/g, ""));
  return anchored.test(s);
}
