/**
 * lib/shell/retry.ts: capped exponential backoff with full jitter, retrying only what is
 * retriable, honouring Retry-After, and stopping when told. The waits are read from
 * `onRetry` (the delays retry chose), never measured.
 * @module
 */
import assert from "node:assert/strict";
import { backoffMs, delay, retry } from "../../lib/shell/retry.ts";

/** An error as the tasks throw them: retriable, optionally with a server's Retry-After. */
function failure(message: string, retriable: boolean, retryAfterMs?: number): Error {
  return Object.assign(new Error(message), { retriable, retryAfterMs });
}

Deno.test("backoff doubles from the base up to the cap, jittered within its upper half", () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => backoffMs(a, 100, 500, low)), [
    50,
    100,
    200,
    250,
    250,
  ]);
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => backoffMs(a, 100, 500, high)), [
    100,
    200,
    400,
    500,
    500,
  ]);
  for (let i = 0; i < 200; i++) {
    const ms = backoffMs(3, 100, 5000);
    assert.ok(ms >= 200 && ms <= 400, `attempt 3 waits ${ms}, within 200..400`);
  }
});

Deno.test("retriable failures are retried with the backoff, and the result comes back", async () => {
  const waits: [number, number][] = [];
  let calls = 0;
  const got = await retry(async (attempt) => {
    calls++;
    if (attempt < 3) throw failure(`try ${attempt}`, true);
    return await Promise.resolve("done");
  }, {
    baseMs: 1,
    maxMs: 4,
    random: () => 1,
    onRetry: (_e, attempt, ms) => waits.push([attempt, ms]),
  });
  assert.equal(got, "done");
  assert.equal(calls, 3);
  assert.deepEqual(waits, [[1, 1], [2, 2]]);
});

Deno.test("a failure that is not retriable is thrown at once", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(failure("403 AccessDenied", false));
    }, { baseMs: 1 }),
    /403 AccessDenied/,
  );
  assert.equal(calls, 1);
});

Deno.test("after maxAttempts the last failure is thrown", async () => {
  let calls = 0;
  await assert.rejects(
    retry((attempt) => {
      calls++;
      return Promise.reject(failure(`refused, try ${attempt}`, true));
    }, { maxAttempts: 4, baseMs: 1, maxMs: 1 }),
    /refused, try 4/,
  );
  assert.equal(calls, 4);
});

Deno.test("a server's Retry-After is waited when longer than the backoff, capped at maxMs", async () => {
  const waits: number[] = [];
  let calls = 0;
  await retry(() => {
    calls++;
    if (calls === 1) return Promise.reject(failure("429", true, 7));
    if (calls === 2) return Promise.reject(failure("429", true, 60_000));
    return Promise.resolve();
  }, { baseMs: 1, maxMs: 9, random: () => 0, onRetry: (_e, _a, ms) => waits.push(ms) });
  assert.deepEqual(waits, [7, 9]);
});

Deno.test("a caller's predicate decides what is retried", async () => {
  let calls = 0;
  await retry(() => {
    calls++;
    return calls < 2 ? Promise.reject(new Error("ECONNRESET")) : Promise.resolve();
  }, { baseMs: 1, retriable: (e) => /ECONNRESET/.test(String(e)) });
  assert.equal(calls, 2);
});

Deno.test("an abort stops the wait with the signal's reason and retries no more", async () => {
  const ac = new AbortController();
  let calls = 0;
  const running = retry(() => {
    calls++;
    return Promise.reject(failure("unavailable", true));
  }, {
    baseMs: 60_000,
    maxMs: 60_000,
    signal: ac.signal,
    onRetry: () => ac.abort(new Error("stopped by the user")),
  });
  await assert.rejects(running, /stopped by the user/);
  assert.equal(calls, 1);
  await assert.rejects(delay(10, ac.signal), /stopped by the user/);
});
