/**
 * The server-side assignors of the consumer group protocol (KIP-848): `uniform` (Kafka's
 * default) and `range`. Each takes the members' subscriptions, the subscribed topics'
 * partition counts and the previous target assignment, and answers the new target
 * assignment: every partition of a subscribed topic to exactly one member subscribed to it.
 *
 * - uniform: balanced and sticky. A member keeps the partitions it had while it stays
 *   subscribed and within its fair share; the others go to the least loaded subscribed
 *   member, then partitions move from the most to the least loaded member until no move
 *   narrows the gap (with one subscription for all: counts differ by at most one).
 * - range: per topic, its partitions in contiguous ranges over the subscribed members in
 *   member id order (the first `partitions % members` get one more), as Kafka's range
 *   assignor co-partitions topics of the same size.
 * Kafka's own implementations may pick different members for a partition; both keep these
 * properties, which is what the tests compare.
 * @module
 */

/** Partitions by topic id. */
export type Assignment = Map<string, Set<number>>;

/** What an assignor works from. */
export interface AssignmentSpec {
  /** Each member's subscribed topic names, by member id. */
  members: Map<string, readonly string[]>;
  /** Each subscribed topic that exists: its id and partition count, by name. */
  topics: Map<string, { id: string; partitions: number }>;
  /** The previous target assignment, by member id (stickiness). */
  previous: Map<string, Assignment>;
}

/** A server-side assignor. */
export type Assignor = (spec: AssignmentSpec) => Map<string, Assignment>;

/** The assignor names served, the default first (Kafka's order). */
export const ASSIGNOR_NAMES = ["uniform", "range"] as const;

/** The assignors by name. */
export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map<string, Assignor>([
  ["uniform", uniformAssignor],
  ["range", rangeAssignor],
]);

const key = (topicId: string, p: number) => `${topicId}:${p}`;

function add(a: Assignment, topicId: string, p: number): void {
  let s = a.get(topicId);
  if (!s) a.set(topicId, s = new Set());
  s.add(p);
}

function remove(a: Assignment, topicId: string, p: number): void {
  const s = a.get(topicId);
  s?.delete(p);
  if (s?.size === 0) a.delete(topicId);
}

/** How many partitions an assignment holds. */
export function countPartitions(a: Assignment | undefined): number {
  let n = 0;
  for (const s of a?.values() ?? []) n += s.size;
  return n;
}

/** The uniform assignor: balanced, sticky. */
export function uniformAssignor(spec: AssignmentSpec): Map<string, Assignment> {
  const memberIds = [...spec.members.keys()].sort();
  const out = new Map<string, Assignment>(memberIds.map((m) => [m, new Map()]));
  const count = new Map<string, number>(memberIds.map((m) => [m, 0]));
  // Every partition with the members that may have it.
  const partitions: { topicId: string; p: number; candidates: string[] }[] = [];
  const topicNames = [...spec.topics.keys()].sort();
  for (const name of topicNames) {
    const t = spec.topics.get(name)!;
    const candidates = memberIds.filter((m) => spec.members.get(m)!.includes(name));
    if (!candidates.length) continue;
    for (let p = 0; p < t.partitions; p++) partitions.push({ topicId: t.id, p, candidates });
  }
  // A member's fair share: what it would get with its subscriptions' partitions split evenly.
  const share = new Map<string, number>(memberIds.map((m) => [m, 0]));
  for (const { candidates } of partitions) {
    for (const m of candidates) share.set(m, share.get(m)! + 1 / candidates.length);
  }
  const owner = new Map<string, string>();
  // Keep what each member had, within its fair share (rounded up).
  for (const m of memberIds) {
    const prev = spec.previous.get(m);
    if (!prev) continue;
    const cap = Math.ceil(share.get(m)! - 1e-9);
    for (const part of partitions) {
      if (count.get(m)! >= cap) break;
      if (!part.candidates.includes(m) || !prev.get(part.topicId)?.has(part.p)) continue;
      if (owner.has(key(part.topicId, part.p))) continue;
      owner.set(key(part.topicId, part.p), m);
      count.set(m, count.get(m)! + 1);
    }
  }
  // The rest to the least loaded candidate (ties: member id order).
  for (const part of partitions) {
    const k = key(part.topicId, part.p);
    if (owner.has(k)) continue;
    let best = part.candidates[0];
    for (const m of part.candidates) if (count.get(m)! < count.get(best)!) best = m;
    owner.set(k, best);
    count.set(best, count.get(best)! + 1);
  }
  // Balance: move a partition from a member to a candidate with two or more fewer.
  for (let moved = true, rounds = 0; moved && rounds < partitions.length + 1; rounds++) {
    moved = false;
    for (const part of partitions) {
      const k = key(part.topicId, part.p);
      const from = owner.get(k)!;
      let to = from;
      for (const m of part.candidates) if (count.get(m)! < count.get(to)!) to = m;
      if (to !== from && count.get(from)! - count.get(to)! >= 2) {
        owner.set(k, to);
        count.set(from, count.get(from)! - 1);
        count.set(to, count.get(to)! + 1);
        moved = true;
      }
    }
  }
  for (const part of partitions) {
    add(out.get(owner.get(key(part.topicId, part.p))!)!, part.topicId, part.p);
  }
  return out;
}

/** The range assignor: per topic, contiguous ranges in member id order. */
export function rangeAssignor(spec: AssignmentSpec): Map<string, Assignment> {
  const memberIds = [...spec.members.keys()].sort();
  const out = new Map<string, Assignment>(memberIds.map((m) => [m, new Map()]));
  for (const [name, t] of spec.topics) {
    const subs = memberIds.filter((m) => spec.members.get(m)!.includes(name));
    if (!subs.length) continue;
    const per = Math.floor(t.partitions / subs.length);
    const extra = t.partitions % subs.length;
    let p = 0;
    subs.forEach((m, i) => {
      const n = per + (i < extra ? 1 : 0);
      for (let j = 0; j < n; j++) add(out.get(m)!, t.id, p++);
    });
  }
  return out;
}

/** A copy of an assignment. */
export function copyAssignment(a: Assignment | undefined): Assignment {
  return new Map([...(a ?? new Map<string, Set<number>>())].map(([t, s]) => [t, new Set(s)]));
}

/** `a` minus `b`. */
export function minus(a: Assignment, b: Assignment | undefined): Assignment {
  const out = copyAssignment(a);
  for (const [t, s] of b ?? []) for (const p of s) remove(out, t, p);
  return out;
}

/** `a` ∩ `b`. */
export function intersect(a: Assignment, b: Assignment | undefined): Assignment {
  const out: Assignment = new Map();
  for (const [t, s] of a) for (const p of s) if (b?.get(t)?.has(p)) add(out, t, p);
  return out;
}

/** `a` ∪ `b`. */
export function union(a: Assignment, b: Assignment): Assignment {
  const out = copyAssignment(a);
  for (const [t, s] of b) for (const p of s) add(out, t, p);
  return out;
}

/** Whether two assignments hold the same partitions. */
export function sameAssignment(a: Assignment, b: Assignment): boolean {
  return countPartitions(a) === countPartitions(b) &&
    countPartitions(intersect(a, b)) === countPartitions(a);
}
