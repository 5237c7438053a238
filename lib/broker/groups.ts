/**
 * The classic consumer-group coordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup),
 * Kafka's state machine: Empty → PreparingRebalance → CompletingRebalance → Stable.
 *
 * - A join moves the group to PreparingRebalance; joins are held until every known member
 *   has rejoined or the rebalance timeout (the largest of the members') fires, which evicts
 *   the stragglers. There is no initial rebalance delay: the first member of an empty group
 *   is answered at once.
 * - The protocol is the one most members prefer among those all members support; a member
 *   sharing none with the group gets INCONSISTENT_GROUP_PROTOCOL.
 * - Only the leader's join response lists the members; followers' syncs wait for the
 *   leader's assignments.
 * - Heartbeats answer REBALANCE_IN_PROGRESS while preparing a rebalance; a member not heard
 *   from within its session timeout is evicted, which starts a rebalance.
 * - KIP-394: a new member whose client says it handles MEMBER_ID_REQUIRED (JoinGroup v4+,
 *   no group.instance.id) is given its id in a MEMBER_ID_REQUIRED answer and joins when it
 *   comes back with it; an id not claimed within the session timeout is forgotten.
 * - Static members (group.instance.id) reuse their member id when they rejoin with an
 *   empty one, and may leave by instance id; nothing else of KIP-345 is implemented.
 * - Kept across restarts, as Kafka keeps a group's metadata in its offsets topic: each
 *   group's last stable generation (protocol, leader, members with their subscriptions and
 *   assignments) in `groups.json` in the data dir, rewritten whole (temp file and rename)
 *   when a generation becomes stable or the group empties. After a restart the group is
 *   Stable at that generation and each member has its session timeout to heartbeat again,
 *   so members go on without a rebalance, as with Kafka.
 * All of it runs on the one JS thread, so there are no locks.
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { ErrorCode } from "./error_codes.ts";
import { readGroupsFile, writeGroupsFile } from "./groups_file.ts";

/** A group's state, as DescribeGroups names it. */
export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead";

/** What a JoinGroup answers. */
export interface JoinResult {
  error: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Uint8Array }[];
}

/** What a SyncGroup answers. */
export interface SyncResult {
  error: number;
  assignment: Uint8Array;
  /** The group's protocol type and chosen protocol (SyncGroup v5+), when known. */
  protocolType?: string | null;
  protocolName?: string | null;
}

/** A JoinGroup request. */
export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Uint8Array }[];
  clientId: string;
  clientHost: string;
  /** The client handles MEMBER_ID_REQUIRED (KIP-394: JoinGroup v4+). */
  requireKnownMemberId?: boolean;
}

interface Member {
  id: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Uint8Array }[];
  assignment: Uint8Array;
  joinWaiter?: (r: JoinResult) => void;
  syncWaiter?: (r: SyncResult) => void;
  sessionTimer?: ReturnType<typeof setTimeout>;
}

/** One consumer group. */
export class Group {
  state: GroupState = "Empty";
  generation = 0;
  protocolType: string | null = null;
  protocol: string | null = null;
  leader: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED and not yet claimed, with their expiry. */
  readonly pending = new Map<string, ReturnType<typeof setTimeout>>();
  rebalanceTimer?: ReturnType<typeof setTimeout>;

  constructor(readonly id: string) {}
}

/** Smallest and largest session timeouts accepted (Kafka's are 6 s and 30 min; tests need less). */
export const MIN_SESSION_TIMEOUT_MS = 100;
/** See MIN_SESSION_TIMEOUT_MS. */
export const MAX_SESSION_TIMEOUT_MS = 30 * 60_000;

const EMPTY = new Uint8Array(0);

/** Where a coordinator keeps its groups: `groups.json` in `dataDir` (fsynced when `sync`). */
export interface GroupStore {
  dataDir: string;
  sync?: boolean;
}

/** A group's stable generation as `groups.json` holds it. */
interface SavedGroup {
  id: string;
  generation: number;
  protocolType: string | null;
  protocol: string | null;
  leader: string | null;
  members: {
    id: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    sessionTimeoutMs: number;
    rebalanceTimeoutMs: number;
    protocols: { name: string; metadata: string }[];
    assignment: string;
  }[];
}

/** Every group on the broker. */
export class GroupCoordinator {
  readonly groups = new Map<string, Group>();
  private closed = false;
  /** Each group as last written to groups.json. */
  private readonly saved = new Map<string, string>();

  constructor(
    private readonly log: (line: string) => void = () => {},
    private readonly store?: GroupStore,
  ) {
    if (store) this.load();
  }

  private get file(): string | undefined {
    return this.store ? join(this.store.dataDir, "groups.json") : undefined;
  }

  /** Reads groups.json: each group Stable at its saved generation, its members' sessions begun. */
  private load(): void {
    const saved = readGroupsFile<SavedGroup>(this.file!, "the classic groups");
    const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));
    for (const sg of saved) {
      const g = new Group(sg.id);
      g.state = "Stable";
      g.generation = sg.generation;
      g.protocolType = sg.protocolType;
      g.protocol = sg.protocol;
      g.leader = sg.leader;
      for (const sm of sg.members) {
        g.members.set(sm.id, {
          ...sm,
          protocols: sm.protocols.map((p) => ({ name: p.name, metadata: bytes(p.metadata) })),
          assignment: bytes(sm.assignment),
        });
      }
      this.groups.set(g.id, g);
      this.saved.set(g.id, JSON.stringify(sg));
      for (const m of g.members.values()) this.touch(g, m);
    }
  }

  /** Writes `group`'s stable generation to groups.json, or drops it once the group is empty. */
  private persist(group: Group): void {
    if (!this.file) return;
    if (group.state === "Stable" && group.members.size > 0) {
      const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
      const sg: SavedGroup = {
        id: group.id,
        generation: group.generation,
        protocolType: group.protocolType,
        protocol: group.protocol,
        leader: group.leader,
        members: [...group.members.values()].map((m) => ({
          id: m.id,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          sessionTimeoutMs: m.sessionTimeoutMs,
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
          protocols: m.protocols.map((p) => ({ name: p.name, metadata: b64(p.metadata) })),
          assignment: b64(m.assignment),
        })),
      };
      this.saved.set(group.id, JSON.stringify(sg));
    } else if (group.state === "Empty") {
      if (!this.saved.delete(group.id)) return;
    } else {
      return; // mid-rebalance: the last stable generation stays
    }
    writeGroupsFile(this.file, this.saved, this.store?.sync);
  }

  /** Handles a JoinGroup; resolves when the rebalance completes (or fails at once). */
  join(req: JoinRequest): Promise<JoinResult> {
    const fail = (error: number): Promise<JoinResult> =>
      Promise.resolve({
        error,
        generationId: -1,
        protocolName: "",
        leader: "",
        memberId: req.memberId,
        members: [],
      });
    if (this.closed) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!req.groupId) return fail(ErrorCode.INVALID_GROUP_ID);
    if (
      req.sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS || req.sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS
    ) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    if (!req.protocolType || req.protocols.length === 0) {
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    let group = this.groups.get(req.groupId);
    if (!group) this.groups.set(req.groupId, group = new Group(req.groupId));

    let member: Member | undefined;
    let claimed = false;
    if (req.memberId && group.pending.has(req.memberId)) {
      clearTimeout(group.pending.get(req.memberId));
      group.pending.delete(req.memberId);
      claimed = true;
    } else if (req.memberId) {
      member = group.members.get(req.memberId);
      if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    } else if (req.groupInstanceId) {
      member = [...group.members.values()].find((m) => m.groupInstanceId === req.groupInstanceId);
    }
    const others = [...group.members.values()].filter((m) => m !== member);
    if (others.length > 0) {
      if (req.protocolType !== group.protocolType) {
        return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      }
      const common = commonProtocols(others);
      if (!req.protocols.some((p) => common.has(p.name))) {
        return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      }
    }
    if (!member && !claimed && req.requireKnownMemberId && !req.groupInstanceId) {
      const id = `${req.clientId || "member"}-${crypto.randomUUID()}`;
      const g = group;
      g.pending.set(
        id,
        setTimeout(() => {
          g.pending.delete(id);
          if (g.members.size === 0 && g.pending.size === 0 && g.state === "Empty") {
            this.groups.delete(g.id);
          }
        }, req.sessionTimeoutMs),
      );
      return Promise.resolve({
        error: ErrorCode.MEMBER_ID_REQUIRED,
        generationId: -1,
        protocolName: "",
        leader: "",
        memberId: id,
        members: [],
      });
    }
    if (!member) {
      member = {
        id: claimed ? req.memberId : `${req.clientId || "member"}-${crypto.randomUUID()}`,
        groupInstanceId: req.groupInstanceId,
        clientId: req.clientId,
        clientHost: req.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        protocols: req.protocols,
        assignment: EMPTY,
      };
      group.members.set(member.id, member);
      this.log(`group "${group.id}": member ${member.id} joins`);
    } else {
      member.sessionTimeoutMs = req.sessionTimeoutMs;
      member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
      member.protocols = req.protocols;
      member.clientId = req.clientId;
      member.clientHost = req.clientHost;
    }
    group.protocolType = req.protocolType;
    this.stopSession(member);
    const g = group;
    const m = member;
    return new Promise<JoinResult>((resolve) => {
      m.joinWaiter?.({
        error: ErrorCode.REBALANCE_IN_PROGRESS,
        generationId: -1,
        protocolName: "",
        leader: "",
        memberId: m.id,
        members: [],
      });
      m.joinWaiter = resolve;
      if (g.state !== "PreparingRebalance") this.prepareRebalance(g, `${m.id} joined`);
      this.maybeCompleteJoin(g);
    });
  }

  /** Handles a SyncGroup; followers wait for the leader's assignments. */
  sync(
    groupId: string,
    generation: number,
    memberId: string,
    assignments: { memberId: string; assignment: Uint8Array }[],
  ): Promise<SyncResult> {
    const fail = (error: number) => Promise.resolve({ error, assignment: EMPTY });
    if (this.closed) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generation !== group.generation) return fail(ErrorCode.ILLEGAL_GENERATION);
    this.touch(group, member);
    switch (group.state) {
      case "PreparingRebalance":
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case "Stable":
        return Promise.resolve({
          error: ErrorCode.NONE,
          assignment: member.assignment,
          protocolType: group.protocolType,
          protocolName: group.protocol,
        });
      case "CompletingRebalance":
        return new Promise<SyncResult>((resolve) => {
          member.syncWaiter?.({ error: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
          member.syncWaiter = resolve;
          if (memberId === group.leader) {
            const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
            for (const m of group.members.values()) m.assignment = byMember.get(m.id) ?? EMPTY;
            group.state = "Stable";
            this.log(`group "${group.id}": generation ${group.generation} is stable`);
            this.persist(group);
            for (const m of group.members.values()) {
              const w = m.syncWaiter;
              m.syncWaiter = undefined;
              w?.({
                error: ErrorCode.NONE,
                assignment: m.assignment,
                protocolType: group.protocolType,
                protocolName: group.protocol,
              });
            }
          }
        });
      default:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  /** Handles a Heartbeat; answers an error code. */
  heartbeat(groupId: string, generation: number, memberId: string): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generation !== group.generation) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(group, member);
    return group.state === "PreparingRebalance" ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /**
   * Handles one member of a LeaveGroup (a static member may give only its instance id);
   * answers an error code.
   */
  leave(groupId: string, memberId: string, groupInstanceId: string | null = null): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    let member = memberId ? group?.members.get(memberId) : undefined;
    if (!memberId && groupInstanceId && group) {
      member = [...group.members.values()].find((m) => m.groupInstanceId === groupInstanceId);
    }
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (groupInstanceId && member.groupInstanceId !== groupInstanceId) {
      return ErrorCode.FENCED_INSTANCE_ID;
    }
    this.removeMember(group, member, "left");
    return ErrorCode.NONE;
  }

  /**
   * Whether an OffsetCommit from this member/generation may be stored: NONE or the error
   * code. Generation -1 with no member id is a "simple" commit, allowed for empty groups.
   */
  checkCommit(groupId: string, generation: number, memberId: string): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(groupId);
    if (generation < 0 && !memberId) {
      return !group || group.members.size === 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
    }
    if (!group) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generation !== group.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === "CompletingRebalance") return ErrorCode.REBALANCE_IN_PROGRESS;
    this.touch(group, member);
    return ErrorCode.NONE;
  }

  /** A group's members as DescribeGroups reports them. */
  describe(groupId: string): {
    state: GroupState;
    protocolType: string;
    protocol: string;
    members: {
      memberId: string;
      groupInstanceId: string | null;
      clientId: string;
      clientHost: string;
      metadata: Uint8Array;
      assignment: Uint8Array;
    }[];
  } | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    const stable = g.state === "Stable";
    return {
      state: g.state,
      protocolType: g.protocolType ?? "",
      protocol: stable ? g.protocol ?? "" : "",
      members: [...g.members.values()].map((m) => ({
        memberId: m.id,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: m.protocols.find((p) => p.name === g.protocol)?.metadata ?? EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /** Stops every timer and answers every held request with COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      clearTimeout(g.rebalanceTimer);
      for (const t of g.pending.values()) clearTimeout(t);
      g.pending.clear();
      for (const m of g.members.values()) {
        this.stopSession(m);
        const jw = m.joinWaiter;
        const sw = m.syncWaiter;
        m.joinWaiter = m.syncWaiter = undefined;
        jw?.({
          error: ErrorCode.COORDINATOR_NOT_AVAILABLE,
          generationId: -1,
          protocolName: "",
          leader: "",
          memberId: m.id,
          members: [],
        });
        sw?.({ error: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
      }
    }
  }

  private prepareRebalance(group: Group, why: string): void {
    if (group.state === "CompletingRebalance") {
      for (const m of group.members.values()) {
        const w = m.syncWaiter;
        m.syncWaiter = undefined;
        w?.({ error: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      }
    }
    for (const m of group.members.values()) m.assignment = EMPTY;
    group.state = "PreparingRebalance";
    this.log(`group "${group.id}": rebalancing (${why})`);
    clearTimeout(group.rebalanceTimer);
    const timeout = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    group.rebalanceTimer = setTimeout(() => {
      group.rebalanceTimer = undefined;
      for (const m of [...group.members.values()]) {
        if (!m.joinWaiter) this.removeMember(group, m, "did not rejoin in time", false);
      }
      this.completeJoin(group);
    }, timeout);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== "PreparingRebalance") return;
    for (const m of group.members.values()) if (!m.joinWaiter) return;
    this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== "PreparingRebalance") return;
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = undefined;
    group.generation++;
    const members = [...group.members.values()];
    if (members.length === 0) {
      group.state = "Empty";
      group.protocol = null;
      group.protocolType = null;
      group.leader = null;
      this.log(`group "${group.id}": empty at generation ${group.generation}`);
      this.persist(group);
      return;
    }
    group.protocol = electProtocol(members);
    if (!group.leader || !group.members.has(group.leader)) group.leader = members[0].id;
    group.state = "CompletingRebalance";
    this.log(
      `group "${group.id}": generation ${group.generation} with ${members.length} member(s), protocol ${group.protocol}`,
    );
    const list = members.map((m) => ({
      memberId: m.id,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === group.protocol)?.metadata ?? EMPTY,
    }));
    for (const m of members) {
      const w = m.joinWaiter;
      m.joinWaiter = undefined;
      this.touch(group, m);
      w?.({
        error: ErrorCode.NONE,
        generationId: group.generation,
        protocolName: group.protocol,
        leader: group.leader,
        memberId: m.id,
        members: m.id === group.leader ? list : [],
      });
    }
  }

  private removeMember(group: Group, member: Member, why: string, rebalance = true): void {
    this.stopSession(member);
    group.members.delete(member.id);
    if (group.leader === member.id) group.leader = null;
    this.log(`group "${group.id}": member ${member.id} ${why}`);
    const jw = member.joinWaiter;
    const sw = member.syncWaiter;
    member.joinWaiter = member.syncWaiter = undefined;
    jw?.({
      error: ErrorCode.UNKNOWN_MEMBER_ID,
      generationId: -1,
      protocolName: "",
      leader: "",
      memberId: member.id,
      members: [],
    });
    sw?.({ error: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (!rebalance) return;
    if (group.state === "Stable" || group.state === "CompletingRebalance") {
      if (group.members.size === 0) {
        group.state = "Empty";
        group.protocol = null;
        group.leader = null;
        group.generation++;
        this.persist(group);
        return;
      }
      this.prepareRebalance(group, `${member.id} ${why}`);
    }
    this.maybeCompleteJoin(group);
  }

  private touch(group: Group, member: Member): void {
    this.stopSession(member);
    if (this.closed || member.joinWaiter) return;
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = undefined;
      if (group.members.get(member.id) === member && !member.joinWaiter) {
        this.removeMember(group, member, `sent no heartbeat in ${member.sessionTimeoutMs} ms`);
      }
    }, member.sessionTimeoutMs);
  }

  private stopSession(member: Member): void {
    if (member.sessionTimer !== undefined) clearTimeout(member.sessionTimer);
    member.sessionTimer = undefined;
  }
}

/** The protocol names every one of `members` supports. */
function commonProtocols(members: Member[]): Set<string> {
  let common: Set<string> | undefined;
  for (const m of members) {
    const names = new Set(m.protocols.map((p) => p.name));
    common = common ? new Set([...common].filter((n) => names.has(n))) : names;
  }
  return common ?? new Set();
}

/** Each member votes for its most preferred common protocol; the most votes wins. */
function electProtocol(members: Member[]): string {
  const common = commonProtocols(members);
  const votes = new Map<string, number>();
  for (const m of members) {
    const choice = m.protocols.find((p) => common.has(p.name))?.name;
    if (choice) votes.set(choice, (votes.get(choice) ?? 0) + 1);
  }
  let best = members[0].protocols[0].name;
  let most = -1;
  for (const [name, n] of votes) {
    if (n > most) {
      best = name;
      most = n;
    }
  }
  return best;
}
