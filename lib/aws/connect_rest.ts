/**
 * Registers a connector on a self-managed Kafka Connect cluster through its REST API
 * (reference/aws-kafka.md §3): first one `GET /` with a short deadline, so a wrong or
 * unreachable URL is one clear error at once and not a minute of retries; then
 * `PUT /connectors/<name>/config` (201 created, 200 updated: an idempotent upsert), retried
 * only while the workers rebalance (409), time out (5xx) or drop the connection, then
 * `GET /connectors/<name>/status` until the connector and all its tasks are RUNNING, with the
 * worker's stack trace in the error when one is FAILED. A 4xx other than 409 is final.
 * @module
 */
import { RetriableError } from "../shell/errors.ts";
import { redact } from "../shell/redact.ts";
import { delay, retry } from "../shell/retry.ts";

/** The exact HTTP request that registers the connector (also what `--dry-run` prints). */
export interface ConnectRequest {
  method: "PUT";
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** `PUT <base>/connectors/<name>/config` with the flat config map as its body. */
export function connectRequest(
  baseUrl: string,
  name: string,
  config: Record<string, string>,
): ConnectRequest {
  return {
    method: "PUT",
    url: `${baseUrl.replace(/\/+$/, "")}/connectors/${encodeURIComponent(name)}/config`,
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify(config, null, 2),
  };
}

/** One task (or the connector) in a status answer. */
export interface ConnectState {
  id?: number;
  state: string;
  worker_id?: string;
  trace?: string;
}

/** The body of `GET /connectors/<name>/status`. */
export interface ConnectStatus {
  name: string;
  connector: ConnectState;
  tasks: ConnectState[];
  type?: string;
}

/** How `registerConnector` talks and waits. */
export interface RegisterOptions {
  baseUrl: string;
  name: string;
  config: Record<string, string>;
  /** Give up waiting for RUNNING after this long. Default 120 s. */
  timeoutMs?: number;
  /** Time between status polls. Default 1 s. */
  pollMs?: number;
  /** Attempts at the PUT (409/5xx/network are retried). Default 10. */
  maxAttempts?: number;
  /** How long the first contact may take before the URL counts as unreachable. Default 5 s. */
  connectTimeoutMs?: number;
  /** How the user gave the URL, for the error when it is unreachable. Default `--connect-url`. */
  urlSource?: string;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Called with each status seen and each retry, for progress lines. */
  onProgress?: (line: string) => void;
}

/** What `registerConnector` did. */
export interface RegisterResult {
  name: string;
  /** True when the PUT answered 201 (the connector did not exist). */
  created: boolean;
  status: ConnectStatus;
}

/** Why a request got no answer, in a few words. */
function noAnswer(err: unknown, timeoutMs: number): string {
  const text = `${(err as Error)?.message ?? err} ${
    ((err as Error)?.cause as Error)?.message ?? ""
  }`;
  if ((err as Error)?.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
  if (/refused/i.test(text)) return "connection refused";
  if (/dns error|lookup|not known|resolve/i.test(text)) return "the host name does not resolve";
  if (/unreachable/i.test(text)) return "the network is unreachable";
  return redact((err as Error)?.message ?? String(err));
}

/**
 * One `GET <base>/` that must answer (any status) within `connectTimeoutMs`: an unreachable
 * URL is a permanent error naming the flag it came from, not a reason to retry.
 */
export async function probeConnect(opts: RegisterOptions, f: typeof fetch = fetch): Promise<void> {
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
    : AbortSignal.timeout(timeoutMs);
  const url = `${opts.baseUrl.replace(/\/+$/, "")}/`;
  try {
    const res = await f(url, { headers: { Accept: "application/json" }, signal });
    await res.body?.cancel();
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new Error(
      `Cannot reach Kafka Connect at ${opts.urlSource ?? "--connect-url"} "${
        redact(opts.baseUrl)
      }": ${noAnswer(err, timeoutMs)}`,
      { cause: err },
    );
  }
}

/** Upserts the connector and waits until it and every task run. */
export async function registerConnector(opts: RegisterOptions): Promise<RegisterResult> {
  const f = opts.fetch ?? fetch;
  await probeConnect(opts, f);
  const req = connectRequest(opts.baseUrl, opts.name, opts.config);
  const created = await retry(async () => {
    let res: Response;
    try {
      res = await f(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: opts.signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new RetriableError(`Cannot reach Kafka Connect at "${redact(opts.baseUrl)}"`, {
        cause: err,
      });
    }
    const text = await res.text();
    if (res.status === 201 || res.status === 200) return res.status === 201;
    const message = `Cannot register connector "${opts.name}": Kafka Connect answered ${
      describeAnswer(res.status, text)
    }`;
    if (res.status === 409 || res.status >= 500) throw new RetriableError(message);
    throw new Error(message);
  }, {
    maxAttempts: opts.maxAttempts ?? 10,
    baseMs: 250,
    maxMs: 5000,
    signal: opts.signal,
    onRetry: (err, attempt, wait) =>
      opts.onProgress?.(`retry ${attempt} in ${wait} ms: ${(err as Error).message}`),
  });
  const status = await waitRunning(opts, f);
  return { name: opts.name, created, status };
}

async function waitRunning(opts: RegisterOptions, f: typeof fetch): Promise<ConnectStatus> {
  const url = `${opts.baseUrl.replace(/\/+$/, "")}/connectors/${
    encodeURIComponent(opts.name)
  }/status`;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let last = "no status yet";
  for (;;) {
    let status: ConnectStatus | undefined;
    try {
      const res = await f(url, { headers: { Accept: "application/json" }, signal: opts.signal });
      const text = await res.text();
      if (res.ok) status = JSON.parse(text) as ConnectStatus;
      else last = describeAnswer(res.status, text);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      last = `no answer (${(err as Error).message})`;
    }
    if (status) {
      const failed = [status.connector, ...(status.tasks ?? [])].find((s) => s.state === "FAILED");
      if (failed) {
        const what = failed === status.connector ? "the connector" : `task ${failed.id}`;
        throw new Error(
          `Connector "${opts.name}" failed: ${what} is FAILED${
            failed.worker_id ? ` on worker ${failed.worker_id}` : ""
          }${failed.trace ? `:\n${failed.trace}` : ""}`,
        );
      }
      const tasks = status.tasks ?? [];
      last = `connector ${status.connector.state}, tasks ${
        tasks.length ? tasks.map((t) => `${t.id}:${t.state}`).join(" ") : "none yet"
      }`;
      if (
        status.connector.state === "RUNNING" && tasks.length > 0 &&
        tasks.every((t) => t.state === "RUNNING")
      ) {
        return status;
      }
    }
    opts.onProgress?.(last);
    if (Date.now() > deadline) {
      throw new RetriableError(
        `Connector "${opts.name}" is not running after ${opts.timeoutMs ?? 120_000} ms: ${last}`,
      );
    }
    await delay(opts.pollMs ?? 1000, opts.signal);
  }
}

/** `409 "message"` from a Kafka Connect error body, or the status and raw text. */
function describeAnswer(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { message?: string };
    if (body.message) return `${status} "${body.message}"`;
  } catch {
    // Not JSON: show the start of the text.
  }
  return `${status}${text ? ` "${text.slice(0, 200)}"` : ""}`;
}
