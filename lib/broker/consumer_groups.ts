/**
 * The consumer group protocol (KIP-848): groups whose members heartbeat with
 * ConsumerGroupHeartbeat and are assigned partitions by the broker, as Apache Kafka 4's
 * group coordinator does it.
 *
 * - A group has a group epoch (bumped when a member joins or leaves, a subscription or the
 *   assignor changes, or a subscribed topic appears or grows) and a target assignment
 *   computed by the server-side assignor (assignors.ts) at that epoch, the assignment epoch.
 * - Each member has a member epoch and reconciles towards its target incrementally, as
 *   Kafka's CurrentAssignmentBuilder: partitions to give up are revoked first (the member
 *   stays at its epoch, state UNREVOKED_PARTITIONS, until a heartbeat no longer lists them
 *   as owned); then it moves to the assignment epoch and gets the new partitions that are
 *   free — a partition still owned or being revoked by another member is withheld
 *   (UNRELEASED_PARTITIONS) until that member has let it go. So no partition ever has two
 *   owners.
 * - A member not heard from within the session timeout (Kafka's
 *   group.consumer.session.timeout.ms, 45 s) is removed; one that has not revoked within its
 *   rebalance timeout is fenced (removed). Either bumps the group epoch and its partitions
 *   go to the others. A member's stale epoch gets FENCED_MEMBER_EPOCH (a lost response is
 *   forgiven as Kafka forgives it: the previous epoch, owning a subset of its assignment).
 * - Static members (instance id): leaving with epoch -2 keeps the member and its
 *   assignment for the session timeout; a member rejoining with the instance id takes them
 *   over; a second live member with the id gets UNRELEASED_INSTANCE_ID.
 * - OffsetCommit and OffsetFetch from members are checked against the member epoch
 *   (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH; OffsetCommit below v9 UNSUPPORTED_VERSION).
 * Kept across restarts, as Kafka keeps them in its offsets topic: every group with its
 * epochs, target assignment and members (`consumer_groups.json` in the data dir, rewritten
 * whole, temp file and rename, when a heartbeat, a leave or a timeout changes a group; a
 * heartbeat that changes nothing writes nothing). After a restart each member has a
 * session timeout to heartbeat again, and goes on at its epoch. A heartbeat with an epoch
 * for a group never made gets GROUP_ID_NOT_FOUND.
 * - Regex subscriptions (ConsumerGroupHeartbeat v1, Kafka 4): a member subscribes to the
 *   topics whose whole name matches its SubscribedTopicRegex, besides any names it lists;
 *   the regex is resolved against the topics at each heartbeat, so a topic created later
 *   that matches joins the subscription (and bumps the group epoch) at the next one. An
 *   empty regex drops it. Kafka compiles it with RE2/J and this broker with JavaScript's
 *   RegExp: the common syntax (classes, alternation, repetition) is the same; a regex
 *   either refuses gets INVALID_REGULAR_EXPRESSION.
 * - Classic-protocol members inside a consumer group (KIP-848's online upgrade, as Kafka 3.9
 *   admits them): a JoinGroup into a consumer group with members joins it as a member whose
 *   subscription and owned partitions come from its ConsumerProtocolSubscription; it is
 *   reconciled as the others are, its JoinGroup answers its member epoch as the generation
 *   and its first protocol, SyncGroup its assigned partitions (a ConsumerProtocolAssignment
 *   of its subscription's version), Heartbeat REBALANCE_IN_PROGRESS while it must rejoin
 *   (the group epoch moved on, partitions to revoke, or withheld partitions now free);
 *   it must sync within its rebalance timeout after a join, and rejoin within it after
 *   being told to, else it is fenced; its session is its own session timeout; it commits
 *   offsets with its epoch as the generation (ILLEGAL_GENERATION otherwise).
 * Not implemented: rack-aware assignment, static (group.instance.id) classic members inside
 * a consumer group (INCONSISTENT_GROUP_PROTOCOL), and a consumer group turning back into a
 * classic one when its last consumer-protocol member leaves (KIP-848's online downgrade).
 * @module
 */
import {
  type Assignment,
  ASSIGNOR_NAMES,
  ASSIGNORS,
  copyAssignment,
  countPartitions,
  intersect,
  minus,
  sameAssignment,
  union,
} from "./assignors.ts";
import { join } from "node:path";
import { Reader, Writer } from "./codec.ts";
import { ErrorCode } from "./error_codes.ts";
import { readGroupsFile, writeGroupsFile } from "./groups_file.ts";
import type { JoinRequest } from "./groups.ts";

/** Kafka's group.consumer.session.timeout.ms default. */
export const DEFAULT_CONSUMER_SESSION_TIMEOUT_MS = 45_000;
/** Kafka's group.consumer.heartbeat.interval.ms default. */
export const DEFAULT_CONSUMER_HEARTBEAT_INTERVAL_MS = 5_000;

/** A member's reconciliation state, as Kafka names them. */
export type MemberState = "stable" | "unrevoked_partitions" | "unreleased_partitions";

/** Partitions of one topic, by id, as the wire has them. */
export interface TopicPartitions {
  topicId: string;
  partitions: number[];
}

/** A ConsumerGroupHeartbeat request. */
export interface HeartbeatRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: TopicPartitions[] | null;
  clientId: string;
  clientHost: string;
}

/** What a ConsumerGroupHeartbeat answers. */
export interface HeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: TopicPartitions[] } | null;
}

/** One member of a consumer group. */
export interface ConsumerMember {
  id: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  epoch: number;
  previousEpoch: number;
  state: MemberState;
  rebalanceTimeoutMs: number;
  subscribed: string[];
  /** The member's SubscribedTopicRegex, or null. */
  regex?: string | null;
  serverAssignor: string | null;
  /** Partitions the member has (or is being given). */
  assigned: Assignment;
  /** Partitions it must give up before it gets more. */
  revoking: Assignment;
  sessionTimer?: ReturnType<typeof setTimeout>;
  rebalanceTimer?: ReturnType<typeof setTimeout>;
  /** Set for a member speaking the classic protocol (JoinGroup, SyncGroup, Heartbeat). */
  classic?: ClassicMetadata;
  /** A classic member's deadline to sync after a join, or to rejoin when told to. */
  syncTimer?: ReturnType<typeof setTimeout>;
  joinTimer?: ReturnType<typeof setTimeout>;
}

/** What a classic member joined with. */
export interface ClassicMetadata {
  sessionTimeoutMs: number;
  /** Its protocols' names, in its order: the first is the one the group answers. */
  protocols: string[];
  /** Its ConsumerProtocolSubscription version (its assignment's, at most 3, in SyncGroup). */
  version: number;
}

/** A JoinGroup into a consumer group. */
export type ClassicJoinRequest = Omit<JoinRequest, "groupInstanceId" | "requireKnownMemberId"> & {
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
};

/** What a JoinGroup into a consumer group answers. */
export interface ClassicJoinResult {
  error: number;
  memberId: string;
  generationId: number;
  protocolName: string | null;
}

/** One consumer group. */
export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** The target assignment at the assignment epoch, by member id. */
  target = new Map<string, Assignment>();
  /** The subscribed topics (name:id:partitions) the target was computed for. */
  metadata = "";

  constructor(readonly id: string) {}

  /** Kafka's ConsumerGroupState name. */
  get state(): "Empty" | "Assigning" | "Reconciling" | "Stable" {
    if (this.members.size === 0) return "Empty";
    if (this.groupEpoch > this.assignmentEpoch) return "Assigning";
    for (const m of this.members.values()) {
      if (m.epoch === -2) continue;
      if (m.state !== "stable" || m.epoch !== this.assignmentEpoch) return "Reconciling";
    }
    return "Stable";
  }

  /** The assignor the members ask for most (Kafka's choice), else the default. */
  get assignorName(): string {
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      if (m.serverAssignor) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    }
    let best: string = ASSIGNOR_NAMES[0];
    let most = 0;
    for (const [name, n] of votes) {
      if (n > most) [best, most] = [name, n];
    }
    return best;
  }

  /** The epoch of the member owning (or revoking) a partition, -1 when it is free. */
  ownerEpoch(topicId: string, p: number, except?: string): number {
    for (const m of this.members.values()) {
      if (m.id === except) continue;
      if (m.assigned.get(topicId)?.has(p) || m.revoking.get(topicId)?.has(p)) return m.epoch;
    }
    return -1;
  }
}

/** What the coordinator needs from the broker. */
export interface ConsumerGroupOptions {
  /** A topic's id and partition count by name (undefined when it does not exist). */
  topic(name: string): { id: string; partitions: number } | undefined;
  /** A topic's name by id. */
  topicName(id: string): string | undefined;
  /** Every topic's name (what regex subscriptions are matched against). */
  topicNames(): Iterable<string>;
  /**
   * Whether a classic group of this id has members; when it has none, a consumer group
   * may take the id (`dropClassic` forgets the empty classic group).
   */
  classicMembers(groupId: string): number;
  dropClassic(groupId: string): void;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  log?: (line: string) => void;
  /** Where `consumer_groups.json` lives (none: in memory). */
  dataDir?: string;
  /** Whether its rewrites are fsynced (the broker's --fsync always). */
  sync?: boolean;
}

/** The result of reconciling a member one step. */
interface Next {
  state: MemberState;
  epoch: number;
  assigned: Assignment;
  revoking: Assignment;
}

/** Every consumer group of the broker. */
export class ConsumerGroupCoordinator {
  readonly groups = new Map<string, ConsumerGroup>();
  private closed = false;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ConsumerGroupOptions) {
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_CONSUMER_SESSION_TIMEOUT_MS;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_CONSUMER_HEARTBEAT_INTERVAL_MS;
    this.log = opts.log ?? (() => {});
    if (opts.dataDir) this.load();
  }

  private get file(): string | undefined {
    return this.opts.dataDir ? join(this.opts.dataDir, "consumer_groups.json") : undefined;
  }

  /**
   * Reads consumer_groups.json: every group with its epochs, target assignment and members,
   * each member given a session timeout from now to heartbeat again (as Kafka does when a
   * coordinator loads its groups).
   */
  private load(): void {
    const saved = readGroupsFile<SavedGroup>(this.file!, "the consumer groups");
    for (const sg of saved) {
      const g = new ConsumerGroup(sg.id);
      g.groupEpoch = sg.groupEpoch;
      g.assignmentEpoch = sg.assignmentEpoch;
      g.metadata = sg.metadata;
      g.target = new Map(Object.entries(sg.target).map(([m, a]) => [m, fromJson(a)]));
      for (const sm of sg.members) {
        g.members.set(sm.id, {
          ...sm,
          assigned: fromJson(sm.assigned),
          revoking: fromJson(sm.revoking),
        });
      }
      this.groups.set(g.id, g);
      this.saved.set(g.id, JSON.stringify(snapshot(g)));
      for (const m of g.members.values()) {
        this.touch(g, m);
        if (m.state === "unrevoked_partitions") this.startRebalanceTimer(g, m);
      }
    }
  }

  /** Each group as last written to consumer_groups.json. */
  private readonly saved = new Map<string, string>();

  /**
   * Rewrites consumer_groups.json (temp file, rename) when `group` changed since it was
   * last written (or was deleted).
   */
  private persist(group: ConsumerGroup | string): void {
    if (!this.file) return;
    const id = typeof group === "string" ? group : group.id;
    const g = this.groups.get(id);
    const now = g ? JSON.stringify(snapshot(g)) : undefined;
    if (now === this.saved.get(id)) return;
    if (now === undefined) this.saved.delete(id);
    else this.saved.set(id, now);
    writeGroupsFile(this.file, this.saved, this.opts.sync);
  }

  /** Whether `groupId` is a consumer group (with or without members). */
  has(groupId: string): boolean {
    return this.groups.has(groupId);
  }

  /** Forgets an empty consumer group (DeleteGroups, or a classic group taking the id). */
  delete(groupId: string): void {
    const g = this.groups.get(groupId);
    if (g && g.members.size === 0) {
      this.groups.delete(groupId);
      this.persist(groupId);
    }
  }

  /**
   * Handles one ConsumerGroupHeartbeat. About 160 lines on purpose: KIP-848's heartbeat is one
   * ordered sequence (validate, join or leave, update the subscription, recompute the target,
   * reconcile the member, answer), and each step reads what the previous one decided; split,
   * the steps would pass half the group's state between them.
   */
  heartbeat(req: HeartbeatRequest): HeartbeatResult {
    const fail = (errorCode: number, errorMessage: string | null = null): HeartbeatResult => ({
      errorCode,
      errorMessage,
      memberId: null,
      memberEpoch: 0,
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (this.closed) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const bad = invalid(req);
    if (bad) return fail(ErrorCode.INVALID_REQUEST, bad);
    if (req.subscribedTopicRegex) {
      const why = regexError(req.subscribedTopicRegex);
      if (why) return fail(ErrorCode.INVALID_REGULAR_EXPRESSION, why);
    }
    if (req.serverAssignor !== null && !ASSIGNORS.has(req.serverAssignor)) {
      return fail(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${
          ASSIGNOR_NAMES.join(", ")
        }.`,
      );
    }
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (this.opts.classicMembers(req.groupId) > 0) {
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a consumer group.`);
      }
      if (req.memberEpoch !== 0) {
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${req.groupId} not found.`);
      }
      this.opts.dropClassic(req.groupId);
      this.groups.set(req.groupId, group = new ConsumerGroup(req.groupId));
    }
    if (req.memberEpoch === -1 || req.memberEpoch === -2) {
      const left = this.leave(group, req);
      this.persist(group);
      return left;
    }

    let member: ConsumerMember | undefined;
    let isNew = false;
    let replaced = false;
    const memberId = req.memberId || crypto.randomUUID();
    if (req.memberEpoch === 0 && req.instanceId !== null) {
      const prior = [...group.members.values()].find((m) => m.instanceId === req.instanceId);
      if (prior && prior.id !== memberId) {
        if (prior.epoch !== -2) {
          return fail(
            ErrorCode.UNRELEASED_INSTANCE_ID,
            `Static member ${prior.id} with instance id ${req.instanceId} is not released yet.`,
          );
        }
        // The static member comes back: the new member id takes over its assignment.
        this.stopTimers(prior);
        group.members.delete(prior.id);
        member = { ...prior, id: memberId, epoch: prior.previousEpoch };
        group.members.set(memberId, member);
        const t = group.target.get(prior.id);
        group.target.delete(prior.id);
        if (t) group.target.set(memberId, t);
        replaced = true;
        this.log(`consumer group "${group.id}": static member ${req.instanceId} rejoins`);
      }
    }
    member ??= group.members.get(memberId);
    if (!member) {
      if (req.memberEpoch !== 0) {
        return fail(
          ErrorCode.UNKNOWN_MEMBER_ID,
          `Member ${memberId} is not a member of group ${group.id}.`,
        );
      }
      isNew = true;
      member = newMember(memberId, req, req.instanceId, req.rackId);
    } else if (replaced) {
      // Its epoch goes on from the static member it replaces.
    } else if (req.memberEpoch > member.epoch) {
      return fail(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The consumer group member has a greater member epoch (${req.memberEpoch}) than the ` +
          `one known by the group coordinator (${member.epoch}). The member must abandon all ` +
          `its partitions and rejoin.`,
      );
    } else if (req.memberEpoch < member.epoch) {
      if (
        req.memberEpoch !== member.previousEpoch ||
        !isSubset(req.topicPartitions, member.assigned)
      ) {
        return fail(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The consumer group member has a smaller member epoch (${req.memberEpoch}) than the ` +
            `one known by the group coordinator (${member.epoch}). The member must abandon ` +
            `all its partitions and rejoin.`,
        );
      }
    }

    // Apply what the request changes.
    const before = {
      epoch: member.epoch,
      assigned: copyAssignment(member.assigned),
    };
    let bump = isNew;
    if (req.instanceId !== null) member.instanceId = req.instanceId;
    if (req.rackId !== null) member.rackId = req.rackId;
    if (req.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (req.serverAssignor !== null && req.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = req.serverAssignor;
      bump = true;
    }
    if (
      req.subscribedTopicNames !== null &&
      !sameList(req.subscribedTopicNames, member.subscribed)
    ) {
      member.subscribed = [...req.subscribedTopicNames];
      bump = true;
    }
    if (req.subscribedTopicRegex !== null && req.subscribedTopicRegex !== (member.regex ?? "")) {
      member.regex = req.subscribedTopicRegex || null;
      bump = true;
    }
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    if (isNew) {
      group.members.set(member.id, member);
      this.log(`consumer group "${group.id}": member ${member.id} joins`);
    }
    const metadata = this.metadataOf(group);
    if (metadata !== group.metadata) {
      group.metadata = metadata;
      bump = true;
    }
    if (bump) group.groupEpoch++;
    if (group.groupEpoch > group.assignmentEpoch) this.assign(group);

    this.reconcile(group, member, req.topicPartitions);
    this.touch(group, member);
    this.persist(group);

    const isFull = req.memberEpoch === 0 ||
      (req.rebalanceTimeoutMs !== -1 && req.subscribedTopicNames !== null &&
        req.topicPartitions !== null);
    const changed = !sameAssignment(before.assigned, member.assigned);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.id,
      memberEpoch: member.epoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      assignment: isFull || changed ? { topicPartitions: toWire(member.assigned) } : null,
    };
  }

  /**
   * Whether an OffsetCommit of a consumer group may be stored: undefined when `groupId` is
   * no consumer group (the classic coordinator decides), else NONE or the error code.
   */
  checkCommit(
    groupId: string,
    memberId: string,
    memberEpoch: number,
    apiVersion: number,
    transactional = false,
  ): number | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    if (memberEpoch < 0 && g.members.size === 0) return ErrorCode.NONE;
    const m = g.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    // A classic member commits with its generation (its epoch) at any version.
    if (!transactional && !m.classic && apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (memberEpoch === m.epoch) return ErrorCode.NONE;
    return m.classic ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH;
  }

  /**
   * A classic member's JoinGroup into a consumer group with members (Kafka's
   * classicGroupJoinToConsumerGroup): joins or updates the member, recomputes the target
   * when the group epoch moves, reconciles the member with the partitions its subscription
   * says it owns, and answers its epoch as the generation.
   */
  classicJoin(req: ClassicJoinRequest): ClassicJoinResult {
    const fail = (error: number, memberId = req.memberId): ClassicJoinResult => ({
      error,
      memberId,
      generationId: -1,
      protocolName: null,
    });
    const group = this.groups.get(req.groupId);
    if (this.closed || !group) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const memberId = req.memberId || crypto.randomUUID();
    const names = req.protocols.map((p) => p.name);
    if (!supportsClassic(group, req.protocolType, names)) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (req.requireKnownMemberId && !req.memberId) {
      this.log(`consumer group "${group.id}": a classic member joins; its member id ${memberId}`);
      return fail(ErrorCode.MEMBER_ID_REQUIRED, memberId);
    }
    let sub: Subscription;
    try {
      sub = decodeSubscription(req.protocols[0].metadata);
    } catch (err) {
      this.log(
        `consumer group "${group.id}": member ${memberId}'s subscription cannot be read: ` +
          (err as Error).message,
      );
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    let member = group.members.get(memberId);
    const isNew = !member;
    member ??= newMember(memberId, req, null, null);
    let bump = isNew;
    if (sub.rackId !== null) member.rackId = sub.rackId;
    if (req.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    if (!sameList(sub.topics, member.subscribed)) {
      member.subscribed = [...sub.topics];
      bump = true;
    }
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.classic = {
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocols: names,
      version: sub.version,
    };
    if (isNew) {
      group.members.set(member.id, member);
      this.log(`consumer group "${group.id}": classic member ${member.id} joins`);
    }
    const metadata = this.metadataOf(group);
    if (metadata !== group.metadata) {
      group.metadata = metadata;
      bump = true;
    }
    if (bump) group.groupEpoch++;
    if (group.groupEpoch > group.assignmentEpoch) this.assign(group);
    const owned: TopicPartitions[] = [];
    for (const o of sub.owned) {
      const t = this.opts.topic(o.topic);
      if (t) owned.push({ topicId: t.id, partitions: o.partitions });
    }
    this.reconcile(group, member, owned);
    clearTimeout(member.joinTimer);
    member.joinTimer = undefined;
    this.touch(group, member);
    clearTimeout(member.syncTimer);
    member.syncTimer = this.fenceAfter(group, member, "did not sync after joining");
    this.persist(group);
    return {
      error: ErrorCode.NONE,
      memberId: member.id,
      generationId: member.epoch,
      protocolName: names[0],
    };
  }

  /**
   * A classic member's SyncGroup in a consumer group (Kafka's
   * classicGroupSyncToConsumerGroup): answers its assigned partitions as a
   * ConsumerProtocolAssignment.
   */
  classicSync(
    groupId: string,
    memberId: string,
    generationId: number,
    protocolType: string | null,
    protocolName: string | null,
  ): { error: number; assignment: Uint8Array } {
    const empty = new Uint8Array(0);
    const group = this.groups.get(groupId)!;
    const member = group.members.get(memberId);
    const error = this.checkClassic(group, member, generationId);
    if (error !== ErrorCode.NONE) return { error, assignment: empty };
    const m = member!;
    if (
      (protocolType !== null && protocolType !== "consumer") ||
      (protocolName !== null && protocolName !== m.classic!.protocols[0])
    ) {
      return { error: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, assignment: empty };
    }
    if (group.groupEpoch > m.epoch && m.state !== "unrevoked_partitions") {
      this.rejoinWithin(group, m);
      return { error: ErrorCode.REBALANCE_IN_PROGRESS, assignment: empty };
    }
    clearTimeout(m.syncTimer);
    m.syncTimer = undefined;
    this.touch(group, m);
    const topics = toWire(m.assigned).map((tp) => ({
      topic: this.opts.topicName(tp.topicId) ?? "",
      partitions: tp.partitions,
    })).filter((tp) => tp.topic);
    return { error: ErrorCode.NONE, assignment: encodeAssignment(m.classic!.version, topics) };
  }

  /**
   * A classic member's Heartbeat in a consumer group (Kafka's
   * classicGroupHeartbeatToConsumerGroup): REBALANCE_IN_PROGRESS when it must rejoin.
   */
  classicHeartbeat(groupId: string, memberId: string, generationId: number): number {
    const group = this.groups.get(groupId)!;
    const member = group.members.get(memberId);
    const error = this.checkClassic(group, member, generationId);
    if (error !== ErrorCode.NONE) return error;
    const m = member!;
    this.touch(group, m);
    if (
      m.epoch < group.groupEpoch || m.state === "unrevoked_partitions" ||
      (m.state === "unreleased_partitions" && !waitingOnUnreleased(group, m))
    ) {
      this.rejoinWithin(group, m);
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  /** A classic member's LeaveGroup from a consumer group: it is removed at once. */
  classicLeave(groupId: string, memberId: string): number {
    const group = this.groups.get(groupId)!;
    const member = group.members.get(memberId);
    if (!member?.classic) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.remove(group, member, "left the group (LeaveGroup)");
    return ErrorCode.NONE;
  }

  /** A classic member's request checked: known, classic, at its epoch. */
  private checkClassic(
    group: ConsumerGroup,
    member: ConsumerMember | undefined,
    generationId: number,
  ): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!member?.classic) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== member.epoch) return ErrorCode.ILLEGAL_GENERATION;
    return group.members.get(member.id) === member ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** A classic member told to rejoin must within its rebalance timeout (once scheduled). */
  private rejoinWithin(group: ConsumerGroup, member: ConsumerMember): void {
    member.joinTimer ??= this.fenceAfter(group, member, "did not rejoin when asked to");
  }

  /** A timer removing the member after its rebalance timeout. */
  private fenceAfter(group: ConsumerGroup, member: ConsumerMember, why: string) {
    if (this.closed) return undefined;
    return setTimeout(() => {
      member.syncTimer = member.joinTimer = undefined;
      this.remove(
        group,
        member,
        `${why} within its rebalance timeout of ${member.rebalanceTimeoutMs} ms`,
      );
    }, member.rebalanceTimeoutMs);
  }

  /**
   * Whether an OffsetFetch (v9+, with member id and epoch) of a consumer group may be
   * answered: undefined when it is no consumer group, else NONE or the error code.
   */
  checkFetch(groupId: string, memberId: string | null, memberEpoch: number): number | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    if (memberId === null && memberEpoch < 0) return ErrorCode.NONE;
    const m = g.members.get(memberId ?? "");
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    return memberEpoch === m.epoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
  }

  /** A group as ConsumerGroupDescribe reports it, or undefined. */
  describe(groupId: string) {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    const named = (a: Assignment | undefined) => ({
      topicPartitions: toWire(a ?? new Map()).map((tp) => ({
        topicId: tp.topicId,
        topicName: this.opts.topicName(tp.topicId) ?? "",
        partitions: tp.partitions,
      })),
    });
    return {
      groupState: g.state,
      groupEpoch: g.groupEpoch,
      assignmentEpoch: g.assignmentEpoch,
      assignorName: g.assignorName,
      members: [...g.members.values()].map((m) => ({
        memberId: m.id,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.epoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribed,
        // Kafka answers "" for a member without a regex.
        subscribedTopicRegex: m.regex ?? "",
        assignment: named(m.assigned),
        targetAssignment: named(g.target.get(m.id)),
        state: m.state,
        classic: m.classic !== undefined,
      })),
    };
  }

  /** Stops every timer. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) for (const m of g.members.values()) this.stopTimers(m);
  }

  private leave(group: ConsumerGroup, req: HeartbeatRequest): HeartbeatResult {
    const member = group.members.get(req.memberId);
    const done = (epoch: number): HeartbeatResult => ({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: req.memberId,
      memberEpoch: epoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (!member) {
      return {
        ...done(0),
        errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
        errorMessage: `Member ${req.memberId} is not a member of group ${group.id}.`,
        memberId: null,
      };
    }
    if (req.memberEpoch === -2) {
      // A static member leaves for now: it keeps its assignment until its session ends.
      if (member.instanceId !== req.instanceId) {
        return { ...done(0), errorCode: ErrorCode.FENCED_INSTANCE_ID, memberId: null };
      }
      member.previousEpoch = member.epoch;
      member.epoch = -2;
      this.log(`consumer group "${group.id}": static member ${member.instanceId} leaves for now`);
      this.touch(group, member);
      return done(-2);
    }
    this.remove(group, member, "left the group");
    return done(-1);
  }

  /** Removes a member; its partitions go to the others at the next group epoch. */
  private remove(group: ConsumerGroup, member: ConsumerMember, why: string): void {
    this.stopTimers(member);
    if (group.members.get(member.id) !== member) return;
    group.members.delete(member.id);
    group.target.delete(member.id);
    group.groupEpoch++;
    this.log(
      `consumer group "${group.id}": member ${member.id} ${why} (group epoch ${group.groupEpoch})`,
    );
    try {
      this.persist(group);
    } catch (err) {
      // From a timer: said, and written with the group's next change.
      this.log(
        `consumer group "${group.id}": cannot write ${this.file}: ${(err as Error).message}`,
      );
      this.saved.delete(group.id);
    }
  }

  /** The subscribed topics as they are now, so a change bumps the group epoch. */
  private metadataOf(group: ConsumerGroup): string {
    const names = new Set<string>();
    for (const m of group.members.values()) for (const t of this.subscribedOf(m)) names.add(t);
    return [...names].sort().map((n) => {
      const t = this.opts.topic(n);
      return t ? `${n}:${t.id}:${t.partitions}` : "";
    }).filter((s) => s).join(",");
  }

  /** The topics `m` subscribes to: its names, and those its regex matches now. */
  private subscribedOf(m: ConsumerMember): readonly string[] {
    if (!m.regex) return m.subscribed;
    const re = wholeName(m.regex);
    const names = new Set(m.subscribed);
    for (const n of this.opts.topicNames()) if (re.test(n)) names.add(n);
    return [...names].sort();
  }

  /** Computes the target assignment at the group epoch. */
  private assign(group: ConsumerGroup): void {
    const topics = new Map<string, { id: string; partitions: number }>();
    const members = new Map<string, readonly string[]>();
    for (const m of group.members.values()) {
      const subscribed = this.subscribedOf(m);
      members.set(m.id, subscribed);
      for (const n of subscribed) {
        const t = this.opts.topic(n);
        if (t) topics.set(n, t);
      }
    }
    const assignor = ASSIGNORS.get(group.assignorName)!;
    group.target = assignor({ members, topics, previous: group.target });
    group.assignmentEpoch = group.groupEpoch;
    this.log(
      `consumer group "${group.id}": target assignment at epoch ${group.groupEpoch} (${group.assignorName}): ${
        [...group.target].map(([m, a]) => `${m}=${countPartitions(a)}`).join(" ")
      }`,
    );
  }

  /** Moves a member one step towards its target (Kafka's CurrentAssignmentBuilder). */
  private reconcile(
    group: ConsumerGroup,
    member: ConsumerMember,
    owned: TopicPartitions[] | null,
  ): void {
    const target = group.target.get(member.id) ?? new Map();
    const wasState = member.state;
    const wasEpoch = member.epoch;
    let next: Next | undefined;
    switch (member.state) {
      case "stable":
        if (member.epoch !== group.assignmentEpoch) {
          next = nextAssignment(group, member, member.epoch, target, owned);
        }
        break;
      case "unrevoked_partitions":
        if (!ownsAny(owned, member.revoking)) {
          next = nextAssignment(group, member, member.epoch + 1, target, owned);
        }
        break;
      case "unreleased_partitions":
        next = nextAssignment(group, member, member.epoch, target, owned);
        break;
    }
    if (next) {
      if (next.epoch !== member.epoch) member.previousEpoch = member.epoch;
      member.epoch = next.epoch;
      member.state = next.state;
      member.assigned = next.assigned;
      member.revoking = next.revoking;
    }
    if (member.state !== "unrevoked_partitions") {
      clearTimeout(member.rebalanceTimer);
      member.rebalanceTimer = undefined;
    } else if (wasState !== "unrevoked_partitions" || wasEpoch !== member.epoch) {
      this.startRebalanceTimer(group, member);
    }
  }

  /** Fences the member unless it has revoked within its rebalance timeout. */
  private startRebalanceTimer(group: ConsumerGroup, member: ConsumerMember): void {
    clearTimeout(member.rebalanceTimer);
    if (this.closed) return;
    const epoch = member.epoch;
    member.rebalanceTimer = setTimeout(() => {
      member.rebalanceTimer = undefined;
      if (member.state === "unrevoked_partitions" && member.epoch === epoch) {
        this.remove(
          group,
          member,
          `did not revoke its partitions within its rebalance timeout of ${member.rebalanceTimeoutMs} ms`,
        );
      }
    }, member.rebalanceTimeoutMs);
  }

  private touch(group: ConsumerGroup, member: ConsumerMember): void {
    clearTimeout(member.sessionTimer);
    if (this.closed) return;
    // A classic member's session is the one it joined with.
    const timeoutMs = member.classic?.sessionTimeoutMs ?? this.sessionTimeoutMs;
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = undefined;
      this.remove(group, member, `sent no heartbeat in ${timeoutMs} ms`);
    }, timeoutMs);
  }

  private stopTimers(member: ConsumerMember): void {
    clearTimeout(member.sessionTimer);
    clearTimeout(member.rebalanceTimer);
    clearTimeout(member.syncTimer);
    clearTimeout(member.joinTimer);
    member.sessionTimer =
      member.rebalanceTimer =
      member.syncTimer =
      member.joinTimer =
        undefined;
  }
}

/** Kafka's checks of a heartbeat request; answers the INVALID_REQUEST message or undefined. */
function invalid(req: HeartbeatRequest): string | undefined {
  if (!req.groupId) return "GroupId can't be empty.";
  if (req.instanceId === "") return "InstanceId can't be empty.";
  if (req.rackId === "") return "RackId can't be empty.";
  const e = req.memberEpoch;
  if (e > 0 || e === -1) {
    if (!req.memberId) return "MemberId can't be empty.";
  } else if (e === 0) {
    if (req.rebalanceTimeoutMs === -1) {
      return "RebalanceTimeoutMs must be provided in first request.";
    }
    if (req.topicPartitions === null || req.topicPartitions.length > 0) {
      return "TopicPartitions must be empty when (re-)joining.";
    }
    if (req.subscribedTopicNames === null && req.subscribedTopicRegex === null) {
      // Kafka 4's words (3.9 said "SubscribedTopicNames must be set in first request." and
      // refused an empty list too, which Kafka 4 takes: a member subscribed to nothing).
      return "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.";
    }
  } else if (e === -2) {
    if (!req.memberId) return "MemberId can't be empty.";
    if (req.instanceId === null) return "InstanceId can't be null.";
  } else return "MemberEpoch is invalid.";
  return undefined;
}

/** A member joining at epoch 0, with nothing subscribed or assigned yet. */
function newMember(
  id: string,
  req: { clientId: string; clientHost: string; rebalanceTimeoutMs: number },
  instanceId: string | null,
  rackId: string | null,
): ConsumerMember {
  return {
    id,
    instanceId,
    rackId,
    clientId: req.clientId,
    clientHost: req.clientHost,
    epoch: 0,
    previousEpoch: -1,
    state: "stable",
    rebalanceTimeoutMs: req.rebalanceTimeoutMs,
    subscribed: [],
    serverAssignor: null,
    assigned: new Map(),
    revoking: new Map(),
  };
}

/** `regex` made to match a whole topic name, as Kafka's Pattern.matcher(name).matches(). */
function wholeName(regex: string): RegExp {
  return new RegExp(`^(?:${regex})$`, "u");
}

/** Why `regex` is not a valid SubscribedTopicRegex, or undefined. */
function regexError(regex: string): string | undefined {
  try {
    wholeName(regex);
    return undefined;
  } catch (err) {
    return `SubscribedTopicRegex \`${regex}\` is not a valid regular expression: ${
      (err as Error).message
    }.`;
  }
}

/**
 * The member's next state from its assigned partitions towards `target` (Kafka's
 * computeNextAssignment): revoke first; else take the target's free partitions.
 */
function nextAssignment(
  group: ConsumerGroup,
  member: ConsumerMember,
  epoch: number,
  target: Assignment,
  owned: TopicPartitions[] | null,
): Next {
  const assigned = intersect(member.assigned, target);
  const revoking = minus(member.assigned, assigned);
  const pending = minus(target, assigned);
  let unreleased = false;
  for (const [t, s] of [...pending]) {
    for (const p of [...s]) {
      if (group.ownerEpoch(t, p, member.id) !== -1) {
        s.delete(p);
        unreleased = true;
      }
    }
    if (s.size === 0) pending.delete(t);
  }
  if (countPartitions(revoking) > 0 && ownsAny(owned, revoking)) {
    return { state: "unrevoked_partitions", epoch, assigned, revoking };
  }
  return {
    state: unreleased ? "unreleased_partitions" : "stable",
    epoch: group.assignmentEpoch,
    assigned: union(assigned, pending),
    revoking: new Map(),
  };
}

/** Whether the owned partitions (null: unknown, so maybe) include any of `a`. */
function ownsAny(owned: TopicPartitions[] | null, a: Assignment): boolean {
  if (owned === null) return true;
  return owned.some((tp) => tp.partitions.some((p) => a.get(tp.topicId)?.has(p)));
}

/** Whether every owned partition is in `a` (null: nothing said, so yes). */
function isSubset(owned: TopicPartitions[] | null, a: Assignment): boolean {
  if (owned === null) return true;
  return owned.every((tp) => tp.partitions.every((p) => a.get(tp.topicId)?.has(p)));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** An assignment as the wire lists it (topics and partitions in order). */
export function toWire(a: Assignment): TopicPartitions[] {
  return [...a].filter(([, s]) => s.size > 0).sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0)
    .map(([topicId, s]) => ({ topicId, partitions: [...s].sort((x, y) => x - y) }));
}

/** A group as consumer_groups.json keeps it. */
interface SavedGroup {
  id: string;
  groupEpoch: number;
  assignmentEpoch: number;
  metadata: string;
  target: Record<string, Record<string, number[]>>;
  members: (
    & Omit<
      ConsumerMember,
      "assigned" | "revoking" | "sessionTimer" | "rebalanceTimer" | "syncTimer" | "joinTimer"
    >
    & {
      assigned: Record<string, number[]>;
      revoking: Record<string, number[]>;
    }
  )[];
}

function toJson(a: Assignment): Record<string, number[]> {
  return Object.fromEntries(toWire(a).map((tp) => [tp.topicId, tp.partitions]));
}

function fromJson(o: Record<string, number[]>): Assignment {
  return new Map(Object.entries(o ?? {}).map(([t, ps]) => [t, new Set(ps)]));
}

/** What consumer_groups.json keeps of a group (no timers). */
function snapshot(g: ConsumerGroup): SavedGroup {
  return {
    id: g.id,
    groupEpoch: g.groupEpoch,
    assignmentEpoch: g.assignmentEpoch,
    metadata: g.metadata,
    target: Object.fromEntries([...g.target].map(([m, a]) => [m, toJson(a)])),
    members: [...g.members.values()].map((m) => ({
      id: m.id,
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      epoch: m.epoch,
      previousEpoch: m.previousEpoch,
      state: m.state,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      subscribed: m.subscribed,
      regex: m.regex ?? null,
      serverAssignor: m.serverAssignor,
      assigned: toJson(m.assigned),
      revoking: toJson(m.revoking),
      ...(m.classic ? { classic: m.classic } : {}),
    })),
  };
}

/**
 * Whether a classic member may join (Kafka's ConsumerGroup.supportsClassicProtocols): the
 * consumer protocol type, and a protocol every classic member already in supports.
 */
function supportsClassic(group: ConsumerGroup, protocolType: string, names: string[]): boolean {
  if (protocolType !== "consumer" || names.length === 0) return false;
  const classic = [...group.members.values()].filter((m) => m.classic);
  return names.some((n) => classic.every((m) => m.classic!.protocols.includes(n)));
}

/**
 * Whether a member withholding partitions still waits for one (Kafka's
 * waitingOnUnreleasedPartition): a partition of its target another member still owns.
 */
function waitingOnUnreleased(group: ConsumerGroup, member: ConsumerMember): boolean {
  for (const [t, ps] of group.target.get(member.id) ?? new Map<string, Set<number>>()) {
    for (const p of ps) {
      if (!member.assigned.get(t)?.has(p) && group.ownerEpoch(t, p, member.id) !== -1) return true;
    }
  }
  return false;
}

/** A ConsumerProtocolSubscription (versions 0–3; not flexible). */
export interface Subscription {
  version: number;
  topics: string[];
  owned: { topic: string; partitions: number[] }[];
  rackId: string | null;
}

/** Reads a ConsumerProtocolSubscription; throws on bytes that are not one. */
export function decodeSubscription(bytes: Uint8Array): Subscription {
  const r = new Reader(bytes);
  const version = r.int16();
  if (version < 0) throw new Error(`subscription version ${version}`);
  const topics = r.array((r) => r.string());
  r.nullableBytes(); // user data
  const owned = version >= 1
    ? r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32()) }))
    : [];
  if (version >= 2) r.int32(); // generation id
  const rackId = version >= 3 ? r.nullableString() : null;
  return { version, topics, owned, rackId };
}

/** A ConsumerProtocolAssignment (no user data) of `version`, at most 3, as Kafka writes it. */
export function encodeAssignment(
  version: number,
  topics: { topic: string; partitions: number[] }[],
): Uint8Array {
  const w = new Writer();
  w.int16(Math.min(Math.max(version, 0), 3));
  w.array(topics, (w, t) => w.string(t.topic).array(t.partitions, (w, p) => w.int32(p)));
  w.nullableBytes(null);
  return w.toBytes();
}
