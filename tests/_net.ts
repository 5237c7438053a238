/**
 * Loopback stand-ins for a peer that is not there: a server that accepts and never answers
 * (a hung broker), and a port nothing listens on. (Processes: bench/_process.ts.)
 * @module
 */

/** A TCP server on 127.0.0.1 that accepts connections and never answers (a hung broker). */
export function silentServer(): { address: string; accepted(): number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const c of listener) conns.push(c);
    } catch {
      // Closed.
    }
  })();
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted: () => conns.length,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** A loopback port nothing listens on (free when asked). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
