/**
 * lib/lake/lake.ts's `isRetriableLakeError`, against the errors the AWS SDK v3 really throws:
 * each case sends a PutObject to a loopback server that misbehaves one way (nothing listening,
 * a reset, a 503, SlowDown, silence, a 403) and hands the caught error to the predicate.
 */
import assert from "node:assert/strict";
import { PutObjectCommand, S3Client } from "../../lib/deps/aws_s3.ts";
import { isRetriableLakeError, S3_TIMEOUTS } from "../../lib/lake/lake.ts";
import { closedPort } from "../_net.ts";

/** The error a PutObject to `endpoint` fails with. */
async function putError(endpoint: string, requestTimeout?: number): Promise<unknown> {
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    requestHandler: { ...S3_TIMEOUTS, ...(requestTimeout ? { requestTimeout } : {}) },
  });
  try {
    await client.send(new PutObjectCommand({ Bucket: "lake", Key: "k", Body: new Uint8Array(4) }));
  } catch (err) {
    return err;
  } finally {
    client.destroy();
  }
  throw new Error(`Cannot test: the PUT to ${endpoint} succeeded`);
}

/** Runs `fn` with an HTTP server on loopback answering every request with `status` and `code`. */
async function withS3Error<T>(
  status: number,
  code: string,
  fn: (endpoint: string) => Promise<T>,
): Promise<T> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
      { status, headers: { "content-type": "application/xml" } },
    );
  });
  try {
    return await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

/** Runs `fn` with a TCP server on loopback that treats each connection with `handle`. */
async function withTcp<T>(
  handle: (conn: Deno.Conn) => Promise<void>,
  fn: (endpoint: string) => Promise<T>,
): Promise<T> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    try {
      for await (const c of listener) {
        conns.push(c);
        handle(c).catch(() => {});
      }
    } catch { /* closed */ }
  })();
  try {
    return await fn(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await serving;
  }
}

Deno.test("a refused connection is retriable: the SDK names it only in code (ECONNREFUSED)", async () => {
  const err = await putError(`http://127.0.0.1:${closedPort()}`) as Record<string, unknown>;
  // The shape that the old check (by name) missed: a plain Error, code ECONNREFUSED.
  assert.equal(err.name, "Error");
  assert.equal(err.code, "ECONNREFUSED");
  assert.equal((err.$metadata as { httpStatusCode?: number }).httpStatusCode, undefined);
  assert.equal(isRetriableLakeError(err), true);
});

Deno.test("a connection reset mid-request is retriable", async () => {
  const err = await withTcp(async (c) => {
    await c.read(new Uint8Array(64));
    c.close();
  }, (endpoint) => putError(endpoint)) as Record<string, unknown>;
  assert.equal(err.code, "ECONNRESET");
  assert.equal(isRetriableLakeError(err), true);
});

Deno.test("a server that accepts and never answers fails within the request timeout, retriably", async () => {
  const t0 = performance.now();
  const err = await withTcp(
    () => new Promise(() => {}),
    (endpoint) => putError(endpoint, 300),
  ) as Record<
    string,
    unknown
  >;
  assert.equal(err.code, "ETIMEDOUT");
  assert.ok(performance.now() - t0 < 10_000, "the request timeout ended the wait");
  assert.equal(isRetriableLakeError(err), true);
});

Deno.test("503 ServiceUnavailable, SlowDown and 500 InternalError are retriable", async () => {
  for (
    const [status, code] of [[503, "ServiceUnavailable"], [503, "SlowDown"], [
      500,
      "InternalError",
    ]] as const
  ) {
    const err = await withS3Error(status, code, (e) => putError(e)) as Record<string, unknown>;
    assert.equal(err.name, code);
    assert.equal(isRetriableLakeError(err), true, code);
  }
});

Deno.test("403 AccessDenied and 404 NoSuchBucket are not retriable", async () => {
  for (const [status, code] of [[403, "AccessDenied"], [404, "NoSuchBucket"]] as const) {
    const err = await withS3Error(status, code, (e) => putError(e));
    assert.equal(isRetriableLakeError(err), false, code);
  }
});

Deno.test("a refused connection nested in a cause is retriable; a full disk and a missing permission are not", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), {
    code: "ECONNREFUSED",
  });
  assert.equal(isRetriableLakeError(new Error("Cannot write", { cause: refused })), true);
  assert.equal(isRetriableLakeError(new Deno.errors.ConnectionRefused("refused")), true);
  assert.equal(isRetriableLakeError(new Error("No space left on device (os error 28)")), false);
  assert.equal(isRetriableLakeError(new Deno.errors.PermissionDenied("denied")), false);
  assert.equal(
    isRetriableLakeError(Object.assign(new Error("getaddrinfo ENOTFOUND s3.invalid"), {
      code: "ENOTFOUND",
    })),
    false,
    "a name that does not resolve fails at once",
  );
});
