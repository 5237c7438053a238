/**
 * The broker's limits: its share of the process's open-file limit, the connections it takes
 * (in all, per address, and the last slots kept for addresses that hold few), and the one
 * memory budget all connections share.
 *
 * Files. Running out of file descriptors is not an error in Deno but a panic (its stack
 * probe reads /proc/self/maps and asserts), so the broker keeps well inside the limit:
 * segment files are opened on demand up to `maxOpenFiles` (log_store.ts `FileHandles`),
 * connections beyond `maxConnections` are closed as soon as they are accepted, and a
 * reserve is left for everything else in the process (the REST proxy and sink share it in
 * `deno task demo`). Deno itself raises the soft limit to the hard limit when it starts, so
 * the limit read here is already the highest this process can have without privileges.
 *
 * Connections. Kafka's `max.connections.per.ip` (and its overrides) caps what one address
 * holds; on top of it the last eighth of the connection slots is kept for addresses that
 * hold few connections, so one address can never take the last slots: a client arriving
 * from another address is still served while one address hammers the broker.
 *
 * Memory. Everything connections hold beyond their fixed 4 KiB read buffer (the larger read
 * buffers kept between requests, requests being read, Fetch responses being written) is
 * taken from one `MemoryBudget` before it is allocated, and given back when freed.
 * @module
 */
import { lookup } from "node:dns/promises";

/** The process's open-file limit (soft), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** File descriptors the process has open now, or undefined where that cannot be read. */
export function openFileCount(): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return undefined;
  }
}

/** How the broker splits the descriptors it may use. */
export interface FilePlan {
  /** The limit the plan was made for. */
  limit: number;
  /** Segment files open at once. */
  maxOpenFiles: number;
  /** Client connections at once. */
  maxConnections: number;
}

/**
 * Splits the descriptors left under `limit` (after `inUse` and a reserve of an eighth, at
 * least 64, for the rest of the process): a quarter for segment files (8 to 1,024), the
 * rest for connections (at least 8).
 */
export function planFiles(
  limit = openFileLimit() ?? 1024,
  inUse = openFileCount() ?? 32,
): FilePlan {
  const reserve = Math.max(64, Math.floor(limit / 8));
  const free = Math.max(16, limit - inUse - reserve);
  const maxOpenFiles = Math.max(8, Math.min(1024, Math.floor(free / 4)));
  const maxConnections = Math.max(8, Math.min(1_000_000, free - maxOpenFiles));
  return { limit, maxOpenFiles, maxConnections };
}

/** The last connection slots, kept for addresses that hold fewer than `few` connections. */
export interface Headroom {
  /** Slots kept: an eighth of the total, at least 1. */
  slots: number;
  /** Addresses holding fewer connections than this may take them: a quarter of them, 1 to 16. */
  few: number;
}

/** The headroom kept out of `maxConnections`. */
export function connectionHeadroom(maxConnections: number): Headroom {
  const slots = Math.max(1, Math.floor(maxConnections / 8));
  return { slots, few: Math.max(1, Math.min(16, Math.floor(slots / 4))) };
}

/** Kafka's `max.connections.per.ip` default: no limit (Java's Integer.MAX_VALUE). */
export const NO_CONNECTION_LIMIT = 2_147_483_647;

/** What bounds the connections the broker takes, and the flags that set each. */
export interface ConnectionLimitOptions {
  /** Connections at once, from every address together. */
  maxConnections: number;
  /** Where `maxConnections` came from, for refusal lines (e.g. "the open-file limit 1024"). */
  maxConnectionsFrom?: string;
  /** Connections one address may hold (Kafka's max.connections.per.ip; default no limit). */
  maxPerAddress?: number;
  /** Limits for particular addresses (max.connections.per.ip.overrides), by address. */
  overrides?: ReadonlyMap<string, number>;
}

/**
 * Counts the connections the broker holds, by address, and decides whether to take a new
 * one. An address is refused at its own limit (its override, else the per-address one),
 * every address at the total, and an address already holding `few` or more once only the
 * headroom is left.
 */
export class ConnectionLimits {
  /** Connections held now. */
  open = 0;
  readonly headroom: Headroom;
  readonly maxPerAddress: number;
  private byAddress = new Map<string, number>();
  private overrides: ReadonlyMap<string, number>;

  constructor(readonly opts: ConnectionLimitOptions) {
    this.headroom = connectionHeadroom(opts.maxConnections);
    this.maxPerAddress = opts.maxPerAddress ?? NO_CONNECTION_LIMIT;
    this.overrides = new Map(
      [...opts.overrides ?? []].map(([address, n]) => [normalizeAddress(address), n]),
    );
  }

  /** Connections `address` holds now. */
  held(address: string): number {
    return this.byAddress.get(normalizeAddress(address)) ?? 0;
  }

  /** The limit for `address`: its override, else the per-address limit. */
  limitFor(address: string): number {
    return this.overrides.get(normalizeAddress(address)) ?? this.maxPerAddress;
  }

  /**
   * Takes a connection from `address`, or answers which limit refuses it and why (naming
   * the flag that sets it).
   */
  admit(address: string): { kind: string; why: string } | undefined {
    const a = normalizeAddress(address);
    const held = this.byAddress.get(a) ?? 0;
    const override = this.overrides.get(a);
    const total = this.opts.maxConnections;
    if (override !== undefined && held >= override) {
      return {
        kind: "override",
        why: `${a} holds ${held} connections, its limit (--max-connections-per-ip-overrides ` +
          `${a}:${override})`,
      };
    }
    if (override === undefined && held >= this.maxPerAddress) {
      return {
        kind: "per-ip",
        why: `${a} holds ${held} connections, the limit for one address ` +
          `(--max-connections-per-ip ${this.maxPerAddress})`,
      };
    }
    const from = this.opts.maxConnectionsFrom ? `, set from ${this.opts.maxConnectionsFrom}` : "";
    if (this.open >= total) {
      return {
        kind: "total",
        why: `${this.open} connections are open, the most this broker takes ` +
          `(--max-connections ${total}${from})`,
      };
    }
    const { slots, few } = this.headroom;
    if (this.open >= total - slots && held >= few) {
      return {
        kind: "headroom",
        why: `${a} holds ${held} of the ${this.open} open connections, and the last ${slots} ` +
          `of ${total} are kept for addresses holding fewer than ${few} ` +
          `(--max-connections ${total}${from}; --max-connections-per-ip limits one address)`,
      };
    }
    this.open++;
    this.byAddress.set(a, held + 1);
    return undefined;
  }

  /** Gives back a connection `admit` took from `address`. */
  release(address: string): void {
    const a = normalizeAddress(address);
    const held = this.byAddress.get(a) ?? 0;
    if (held <= 0) return;
    this.open--;
    if (held === 1) this.byAddress.delete(a);
    else this.byAddress.set(a, held - 1);
  }
}

/** An address as the limits key it: IPv4-mapped IPv6 as IPv4, brackets off, lower case. */
export function normalizeAddress(address: string): string {
  const a = address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped ? mapped[1] : a;
}

/** Whether `host` is an IPv4 or IPv6 address rather than a name. */
function isAddress(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":");
}

/**
 * Reads Kafka's `max.connections.per.ip.overrides` syntax, `host:count[,host:count…]`
 * (the count after the last colon, so IPv6 addresses need no brackets; 0 refuses the host).
 * Throws a TypeError naming the first entry that does not read.
 */
export function parseConnectionOverrides(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const at = entry.lastIndexOf(":");
    const host = normalizeAddress(entry.slice(0, at).trim());
    const count = entry.slice(at + 1).trim();
    if (at <= 0 || host === "" || !/^\d+$/.test(count)) {
      throw new TypeError(`"${entry}" is not host:count, such as 10.0.0.7:50`);
    }
    if (out.has(host)) throw new TypeError(`"${host}" is given twice`);
    out.set(host, Math.min(Number(count), NO_CONNECTION_LIMIT));
  }
  return out;
}

/** The overrides as Kafka writes them (DescribeConfigs). */
export function formatConnectionOverrides(overrides: ReadonlyMap<string, number>): string {
  return [...overrides].map(([host, n]) => `${host}:${n}`).join(",");
}

/**
 * The overrides by address: host names are looked up (every address they have gets the
 * limit, as Kafka resolves them when it reads its config). Throws naming a host that does
 * not resolve.
 */
export async function resolveConnectionOverrides(
  overrides: ReadonlyMap<string, number>,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [host, n] of overrides) {
    if (isAddress(host)) {
      out.set(normalizeAddress(host), n);
      continue;
    }
    let found: { address: string }[];
    try {
      found = await lookup(host, { all: true });
    } catch (err) {
      throw new Error(`Cannot resolve "${host}" of the connection limit overrides`, {
        cause: err,
      });
    }
    for (const { address } of found) out.set(normalizeAddress(address), n);
  }
  return out;
}

/**
 * Logs the first refusal of each kind from each address in a window (a minute), and once
 * the window is over how many more followed; at most `maxKeys` kinds a window get lines of
 * their own, the rest are counted together. 2,000 refused attempts from one address make
 * two lines a minute, not 2,000.
 */
export class RefusalLog {
  private windowStart = -Infinity;
  private keys = new Map<string, { address: string; more: number; why: string }>();
  private others = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly maxKeys = 10,
    private readonly windowMs = 60_000,
  ) {}

  /**
   * Records a refusal from `address` by the limit `kind`; logs `line` if it is the window's
   * first of them (`why` goes in the count line later).
   */
  refused(address: string, kind: string, line: string, why: string, now = Date.now()): void {
    this.flush(now);
    if (this.windowStart === -Infinity) this.windowStart = now;
    const key = `${address} ${kind}`;
    const seen = this.keys.get(key);
    if (seen) seen.more++;
    else if (this.keys.size < this.maxKeys) {
      this.keys.set(key, { address, more: 0, why });
      this.log(line);
    } else this.others++;
  }

  /** Once the window is over: logs the counts it kept back and starts a new one. */
  flush(now = Date.now()): void {
    if (this.windowStart === -Infinity || now - this.windowStart < this.windowMs) return;
    const secs = Math.round((now - this.windowStart) / 1000);
    for (const { address, more, why } of this.keys.values()) {
      if (more) {
        this.log(
          `… refused ${more} more connections from ${address} in the last ${secs} s: ${why}`,
        );
      }
    }
    if (this.others) {
      this.log(
        `… and ${this.others} refused connections from other addresses in the last ${secs} s`,
      );
    }
    this.keys.clear();
    this.others = 0;
    this.windowStart = -Infinity;
  }
}

/** Something that keeps budget memory it can give back at once when it is not using it. */
export interface Reclaimable {
  /** Gives back what it keeps but is not using (calling `give`). */
  reclaim(): void;
}

/**
 * One memory budget shared by every connection: a buffer larger than a connection's small
 * one is taken from it before it is allocated, and a connection whose frame does not fit
 * waits (unread, so TCP pushes back on its client) until others give memory back. Buffers
 * kept for reuse but idle are offered back (`offer`) and reclaimed as soon as someone waits.
 * 30 clients each sending most of a 99 MiB frame hold at most the budget, not 3 GB.
 */
export class MemoryBudget {
  used = 0;
  private waiting: { n: number; go: () => void }[] = [];
  /** Holders of idle memory, longest idle first, with what each would give back. */
  private idle = new Map<Reclaimable, number>();
  private idleBytes = 0;
  private reclaiming = false;

  constructor(readonly limit: number) {}

  /** Bytes to be had now without waiting: not taken, or held idle (negative when forced past the limit). */
  get free(): number {
    return this.limit - this.used + this.idleBytes;
  }

  /** Takes `n` bytes, waiting for them (first come, first served); false if `signal` aborts first. */
  take(n: number, signal: AbortSignal): Promise<boolean> {
    if (this.waiting.length === 0) {
      if (this.used + n > this.limit) this.reclaim(this.used + n - this.limit);
      if (this.used + n <= this.limit) {
        this.used += n;
        return Promise.resolve(true);
      }
    }
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        n,
        go: () => {
          signal.removeEventListener("abort", abort);
          resolve(true);
        },
      };
      const abort = () => {
        this.waiting = this.waiting.filter((x) => x !== w);
        this.grant();
        resolve(false);
      };
      signal.addEventListener("abort", abort, { once: true });
      this.waiting.push(w);
    });
  }

  /** Charges `n` bytes already allocated (a response built), even past the limit. */
  force(n: number): void {
    this.used += n;
    if (this.used > this.limit) this.reclaim(this.used - this.limit);
  }

  /** Gives back `n` bytes. */
  give(n: number): void {
    this.used -= n;
    if (!this.reclaiming) this.grant();
  }

  /**
   * `holder` keeps `bytes` it is not using: reclaimed at once if someone waits, else when
   * someone would have to (until `withdraw`).
   */
  offer(holder: Reclaimable, bytes: number): void {
    if (this.waiting.length) holder.reclaim();
    else if (!this.idle.has(holder)) {
      this.idle.set(holder, bytes);
      this.idleBytes += bytes;
    }
  }

  /** `holder` uses its memory again (or gave it back). */
  withdraw(holder: Reclaimable): void {
    const bytes = this.idle.get(holder);
    if (bytes === undefined) return;
    this.idle.delete(holder);
    this.idleBytes -= bytes;
  }

  /** Reclaims idle memory, longest idle first, until `n` bytes came back or none is left. */
  private reclaim(n: number): void {
    const target = this.used - n;
    this.reclaiming = true; // the give()s below must not grant waiters half-way
    try {
      for (const h of this.idle.keys()) {
        if (this.used <= target) break;
        this.withdraw(h);
        h.reclaim();
      }
    } finally {
      this.reclaiming = false;
    }
  }

  private grant(): void {
    while (this.waiting.length) {
      const w = this.waiting[0];
      if (this.used + w.n > this.limit) this.reclaim(this.used + w.n - this.limit);
      if (this.used + w.n > this.limit) return;
      this.waiting.shift();
      this.used += w.n;
      w.go();
    }
  }
}
