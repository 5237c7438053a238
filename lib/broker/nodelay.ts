/**
 * TCP_NODELAY for the TLS listeners. Deno's TLS connections (`Deno.listenTls`) offer no
 * `setNoDelay`, so Nagle's algorithm stays on: the last, partial segment of a response waits
 * until everything sent before it is acknowledged, and a client's delayed ACK makes that up
 * to 40 ms. A consumer over TLS then fetches at about half the plaintext rate, and a
 * pipelining producer (librdkafka) loses a third.
 *
 * On Linux a connection inherits TCP_NODELAY from the listening socket it was accepted on,
 * so setting it once on the listener is enough. Deno does not expose a listener's file
 * descriptor either: it is found from the listening port (`/proc/net/tcp{,6}` gives the
 * socket's inode, `/proc/self/fd` the descriptor holding it) and the option set with libc's
 * `setsockopt` through Deno's FFI. Where any of that is missing (another OS, no `--allow-ffi`
 * or `--allow-read` of /proc) nothing changes but speed, and the caller is told why.
 * @module
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
/** The state column of /proc/net/tcp for a listening socket. */
const TCP_LISTEN = "0A";

type Libc = Deno.DynamicLibrary<{
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"]; result: "i32" };
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"]; result: "i32" };
}>;

let libc: Libc | undefined;

function openLibc(): Libc {
  libc ??= Deno.dlopen("libc.so.6", {
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  return libc;
}

/** Why `noDelay` cannot work in this process, or undefined when it can. */
function unsupported(): string | undefined {
  if (Deno.build.os !== "linux") return `not on Linux (${Deno.build.os})`;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "no --allow-ffi";
  }
  if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") {
    return "no --allow-read of /proc";
  }
  return undefined;
}

/** The inodes of the sockets whose local port is `port` (and remote port `peer`, if given). */
function inodes(port: number, state: string | undefined, peer?: number): Set<string> {
  const hex = (p: number) => ":" + p.toString(16).toUpperCase().padStart(4, "0");
  const found = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const row of text.split("\n").slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length < 10 || !f[1].endsWith(hex(port))) continue;
      if (state !== undefined && f[3] !== state) continue;
      if (peer !== undefined && !f[2].endsWith(hex(peer))) continue;
      found.add(f[9]);
    }
  }
  return found;
}

/** This process's file descriptor holding one of the sockets `wanted`, or -1. */
function descriptor(wanted: Set<string>): number {
  if (wanted.size === 0) return -1;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
    } catch {
      continue; // closed meanwhile
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && wanted.has(m[1])) return Number(e.name);
  }
  return -1;
}

/**
 * Turns Nagle's algorithm off for every connection the listener on local `port` accepts
 * from now on; undefined when done, else why not (nothing else changes).
 */
export function noDelay(port: number): string | undefined {
  const why = unsupported();
  if (why) return why;
  try {
    const fd = descriptor(inodes(port, TCP_LISTEN));
    if (fd < 0) return `no listening socket on port ${port} in /proc/net/tcp`;
    const rc = openLibc().symbols.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Int32Array([1]), 4);
    return rc === 0 ? undefined : `setsockopt(TCP_NODELAY) on port ${port} failed`;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Whether the connection between local `port` and remote `peer` of this process has
 * TCP_NODELAY on (undefined when that cannot be read here); for tests.
 */
export function hasNoDelay(port: number, peer: number): boolean | undefined {
  if (unsupported()) return undefined;
  const fd = descriptor(inodes(port, undefined, peer));
  if (fd < 0) return undefined;
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (openLibc().symbols.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, value, len) !== 0) {
    return undefined;
  }
  return value[0] !== 0;
}
