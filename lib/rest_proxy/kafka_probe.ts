/**
 * A quick first look at Kafka before a server starts on it: a TCP connection to each bootstrap
 * address, so an unreachable cluster is one clear error within seconds (naming the addresses
 * and the socket's answer) instead of a client's minute of retries ending in `ECONNREFUSED`.
 * @module
 */

/** Resolves when one of `bootstrap`'s `host:port` addresses accepts a TCP connection. */
export async function probeKafka(bootstrap: string, timeoutMs = 5000): Promise<void> {
  const addrs = bootstrap.split(",").map((s) => s.trim()).filter(Boolean);
  const why: string[] = [];
  for (const addr of addrs) {
    const i = addr.lastIndexOf(":");
    const hostname = addr.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(addr.slice(i + 1));
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const conn = await Deno.connect({ hostname, port, signal } as Deno.ConnectOptions);
      conn.close();
      return;
    } catch (err) {
      const reason = describeSocketError(err, timeoutMs);
      why.push(addrs.length > 1 ? `${addr}: ${reason}` : reason);
    }
  }
  throw new Error(why.join("; "));
}

/** A socket error in words, with the code people search for kept in brackets. */
export function describeSocketError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") {
    return `no answer within ${timeoutMs} ms`;
  }
  const m = e?.message ?? String(err);
  if (e?.name === "ConnectionRefused" || /ECONNREFUSED|Connection refused/i.test(m)) {
    return "connection refused (ECONNREFUSED): nothing listens there";
  }
  if (/failed to lookup|Name or service not known|ENOTFOUND|EAI_AGAIN/i.test(m)) {
    return "the host name does not resolve (ENOTFOUND)";
  }
  if (/unreachable|EHOSTUNREACH|ENETUNREACH/i.test(m)) return "the host is unreachable";
  return m;
}
