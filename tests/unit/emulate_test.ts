/**
 * The emulator against a Confluent v2 REST test server (batching, per-record errors,
 * retries after 503s and dropped connections, 429 + Retry-After, a 40401 stopping the
 * run), the NDJSON target, the key sequences, and the task's exit codes and Ctrl-C.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset } from "../../lib/source/dataset.ts";
import { datasetSource, emulate, keySequence } from "../../lib/ingest/emulator.ts";
import type { EmulateOptions } from "../../lib/ingest/emulator.ts";
import { NdjsonTarget } from "../../lib/ingest/ndjson_target.ts";
import { RetriableError } from "../../lib/shell/errors.ts";
import { parseRetryAfter, RestProducer } from "../../lib/ingest/rest_client.ts";
import type { RestProducerOptions } from "../../lib/ingest/rest_client.ts";
import { withTempDir } from "../_fixtures.ts";
import { startRestV2Server } from "../testdata/emulate/rest_v2_server.ts";
import type { Reply, RestV2Server, SeenRequest } from "../testdata/emulate/rest_v2_server.ts";
import { ORIGINAL_KEYS } from "../_original_keys.ts";

const BASE: EmulateOptions = {
  prefix: "t",
  mode: "sequential",
  seed: 100,
  rate: 0,
  batch: 100,
  concurrency: 4,
};

/** A REST producer with quick retries, so tests of retry paths stay fast. */
function quickProducer(url: string, extra: Partial<RestProducerOptions> = {}) {
  return new RestProducer({ baseUrl: url, baseMs: 5, maxMs: 40, maxAttempts: 12, ...extra });
}

async function withServer<T>(
  decide: ((req: SeenRequest) => Reply) | undefined,
  fn: (srv: RestV2Server) => Promise<T>,
  opts: { topics?: string[] } = {},
): Promise<T> {
  const srv = startRestV2Server(decide, opts);
  try {
    return await fn(srv);
  } finally {
    await srv.close();
  }
}

/** Keys accepted per topic, as numbers, and how often each arrived. */
function tally(srv: RestV2Server, topic: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of srv.accepted.get(topic) ?? []) {
    const k = Number(r.key);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

Deno.test("random mode replays the original emulator's key sequence for seed 100", () => {
  const keys = keySequence("random", 11_001, 100);
  const got = Array.from({ length: 20 }, () => keys.next().value);
  assert.deepEqual(got, ORIGINAL_KEYS);
});

Deno.test("sequential mode writes every key exactly once to the NDJSON file", async () => {
  await withTempDir(async (dir) => {
    const ds = createDataset({ rows: 250 });
    const path = join(dir, "out.ndjson");
    const target = await NdjsonTarget.open(path);
    const res = await emulate({ ...BASE, batch: 64 }, { source: datasetSource(ds), target });
    await target.close();
    assert.equal(res.error, undefined);
    assert.equal(res.postingsRead, 250);
    assert.equal(res.recordsSent, 750);
    assert.equal(res.acknowledged, 750);
    const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 750);
    for (const part of ["pin", "geo", "user"] as const) {
      const mine = lines.filter((l) => l.topic === `t.${part}`);
      assert.deepEqual(mine.map((l) => Number(l.key)).sort((a, b) => a - b), range(250));
      for (const l of mine) assert.deepEqual(l.value, ds.posting(Number(l.key))[part]);
    }
  });
});

Deno.test("the REST target batches records and each posting's three records share its key", async () => {
  await withServer(undefined, async (srv) => {
    const ds = createDataset({ rows: 1000 });
    const res = await emulate(BASE, { source: datasetSource(ds), target: quickProducer(srv.url) });
    assert.equal(res.error, undefined);
    assert.equal(res.acknowledged, 3000);
    assert.equal(res.failed, 0);
    assert.equal(srv.requests.length, 30);
    for (const r of srv.requests) {
      assert.equal(r.contentType, "application/vnd.kafka.json.v2+json");
      assert.equal(r.records.length, 100);
    }
    for (const part of ["pin", "geo", "user"] as const) {
      const got = srv.accepted.get(`t.${part}`)!;
      assert.equal(got.length, 1000);
      for (const r of got) {
        // A JSON number: the proxy's JSON serializer writes it as the bare decimal key.
        assert.equal(typeof r.key, "number");
        assert.deepEqual(r.value, ds.posting(Number(r.key))[part]);
      }
    }
    const keysOf = (t: string) => srv.accepted.get(t)!.map((r) => r.key).sort();
    assert.deepEqual(keysOf("t.pin"), keysOf("t.geo"));
    assert.deepEqual(keysOf("t.pin"), keysOf("t.user"));
  });
});

Deno.test("records answered with retriable error codes are resent alone and arrive once", async () => {
  const firstSeen = new Set<string>();
  // The first request to each topic fails every other record: 50003 (current) or 2 (old).
  const decide = (req: { topic: string; records: unknown[] }): Reply => {
    if (firstSeen.has(req.topic)) return { kind: "accept" };
    firstSeen.add(req.topic);
    return {
      kind: "per-record",
      codes: req.records.map((_, i) => (i % 2 === 0 ? null : i % 4 === 1 ? 50003 : 2)),
    };
  };
  await withServer(decide, async (srv) => {
    const ds = createDataset({ rows: 300 });
    const res = await emulate({ ...BASE, concurrency: 1 }, {
      source: datasetSource(ds),
      target: quickProducer(srv.url),
    });
    assert.equal(res.error, undefined);
    assert.equal(res.acknowledged, 900);
    assert.equal(res.recordsSent, 900);
    assert.equal(res.retries, 3);
    for (const t of ["t.pin", "t.geo", "t.user"]) {
      const counts = tally(srv, t);
      assert.deepEqual([...counts.keys()].sort((a, b) => a - b), range(300));
      assert.ok([...counts.values()].every((c) => c === 1), `${t} has duplicates`);
    }
    // The resend carried only the 50 records that failed, not the whole batch.
    const resends = srv.requests.filter((r) => r.records.length === 50);
    assert.equal(resends.length, 3);
  });
});

Deno.test("injected 503s are retried and nothing is lost or duplicated", async () => {
  const decide = (req: { n: number }): Reply =>
    req.n % 2 === 0
      ? {
        kind: "status",
        status: 503,
        body: { error_code: 50302, message: "Broker not available" },
      }
      : { kind: "accept" };
  await withServer(decide, async (srv) => {
    const ds = createDataset({ rows: 500 });
    const res = await emulate(BASE, { source: datasetSource(ds), target: quickProducer(srv.url) });
    assert.equal(res.error, undefined);
    assert.equal(res.acknowledged, 1500);
    assert.ok(res.retries >= 15, `only ${res.retries} retries`);
    for (const t of ["t.pin", "t.geo", "t.user"]) {
      const counts = tally(srv, t);
      assert.equal(counts.size, 500);
      assert.ok([...counts.values()].every((c) => c === 1));
    }
  });
});

Deno.test("dropped connections lose nothing; only lost answers cause duplicates", async () => {
  const droppedAfterAccept: number[] = [];
  const decide = (req: { n: number; records: unknown[] }): Reply => {
    if (req.n % 5 === 1) return { kind: "drop" };
    if (req.n % 5 === 3) {
      droppedAfterAccept.push(req.records.length);
      return { kind: "accept-then-drop" };
    }
    return { kind: "accept" };
  };
  await withServer(decide, async (srv) => {
    const ds = createDataset({ rows: 600 });
    const res = await emulate(BASE, { source: datasetSource(ds), target: quickProducer(srv.url) });
    assert.equal(res.error, undefined);
    assert.equal(res.acknowledged, 1800);
    assert.equal(res.failed, 0);
    let total = 0;
    for (const t of ["t.pin", "t.geo", "t.user"]) {
      const counts = tally(srv, t);
      assert.deepEqual([...counts.keys()].sort((a, b) => a - b), range(600), `${t} lost records`);
      total += srv.accepted.get(t)!.length;
    }
    // At-least-once: exactly the batches whose answer was lost arrived twice.
    const dupes = droppedAfterAccept.reduce((a, b) => a + b, 0);
    assert.ok(dupes > 0);
    assert.equal(total, 1800 + dupes);
  });
});

Deno.test("a 429 is retried no sooner than its Retry-After", async () => {
  const decide = (req: { n: number }): Reply =>
    req.n === 0
      ? {
        kind: "status",
        status: 429,
        body: { error_code: 42901, message: "Too many requests" },
        headers: { "retry-after": "1" },
      }
      : { kind: "accept" };
  await withServer(decide, async (srv) => {
    const ds = createDataset({ rows: 10 });
    const res = await emulate({ ...BASE, concurrency: 1 }, {
      source: datasetSource(ds),
      target: new RestProducer({ baseUrl: srv.url, baseMs: 5 }),
    });
    assert.equal(res.error, undefined);
    assert.equal(res.acknowledged, 30);
    assert.equal(res.retries, 1);
    const gap = srv.requests[1].at - srv.requests[0].at;
    assert.ok(gap >= 950, `retried after ${gap} ms, asked for 1000 ms`);
  });
});

Deno.test("Retry-After is read as seconds or as an HTTP date", () => {
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter("0.5"), 500);
  const now = Date.parse("Tue, 01 Jan 2030 00:00:00 GMT");
  assert.equal(parseRetryAfter("Tue, 01 Jan 2030 00:00:03 GMT", now), 3000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
});

Deno.test("an unknown topic (40401) stops the run with the topic, key and code named", async () => {
  await withServer(undefined, async (srv) => {
    const ds = createDataset({ rows: 5000 });
    const res = await emulate({ ...BASE, concurrency: 2 }, {
      source: datasetSource(ds),
      target: quickProducer(srv.url),
    });
    assert.ok(res.error, "the run did not fail");
    assert.match(res.error.message, /topic "t\.user"/);
    assert.match(res.error.message, /key "\d+"/);
    assert.match(res.error.message, /40401/);
    assert.ok(res.failed >= 100);
    assert.equal(res.acknowledged + res.failed, res.recordsSent);
    assert.ok(res.postingsRead < 5000, "the run went on after the failure");
    // Nothing was retried: a missing topic does not pass on its own.
    const firstKeys = srv.requests.filter((r) => r.topic === "t.user").map((r) => r.records[0].key);
    assert.equal(new Set(firstKeys).size, firstKeys.length, "a 40401 batch was sent again");
  }, { topics: ["t.pin", "t.geo"] });
});

Deno.test("a record refused with a non-retriable code (40301) stops the run", async () => {
  const decide = (req: { topic: string; records: unknown[] }): Reply =>
    req.topic === "t.geo"
      ? { kind: "per-record", codes: req.records.map((_, i) => (i === 3 ? 40301 : null)) }
      : { kind: "accept" };
  await withServer(decide, async (srv) => {
    const ds = createDataset({ rows: 100 });
    const res = await emulate({ ...BASE, batch: 50, concurrency: 1 }, {
      source: datasetSource(ds),
      target: quickProducer(srv.url),
    });
    assert.ok(res.error);
    assert.match(res.error.message, /Cannot send key "3" to topic "t\.geo"/);
    assert.match(res.error.message, /error_code 40301/);
    assert.equal(res.failed, 1);
    assert.equal(res.acknowledged, res.recordsSent - 1);
  });
});

Deno.test("the API key is sent as x-api-key", async () => {
  await withServer(undefined, async (srv) => {
    const ds = createDataset({ rows: 5 });
    await emulate(BASE, {
      source: datasetSource(ds),
      target: quickProducer(srv.url, { apiKey: "k3y-for-tests" }),
    });
    assert.ok(srv.requests.length > 0);
    for (const r of srv.requests) assert.equal(r.headers["x-api-key"], "k3y-for-tests");
  });
});

Deno.test("rate and duration limit how many postings are sent", async () => {
  await withTempDir(async (dir) => {
    const target = await NdjsonTarget.open(join(dir, "o.ndjson"));
    const res = await emulate({ ...BASE, mode: "random", rate: 40, durationMs: 500 }, {
      source: datasetSource(createDataset({ rows: 100 })),
      target,
    });
    await target.close();
    // 40/s for half a second: about 20 postings, never the unlimited thousands.
    assert.ok(res.postingsRead > 0 && res.postingsRead <= 24, `${res.postingsRead} postings`);
    assert.equal(res.acknowledged, res.postingsRead * 3);
  });
});

Deno.test("a source read that fails retriably is retried; one that fails for good stops the run", async () => {
  const ds = createDataset({ rows: 50 });
  let calls = 0;
  const flaky = {
    rows: 50,
    name: "flaky",
    read: (keys: number[]) => {
      calls++;
      if (calls === 2) throw new RetriableError("connection lost");
      return keys.map((k) => ds.posting(k));
    },
  };
  await withTempDir(async (dir) => {
    const target = await NdjsonTarget.open(join(dir, "a.ndjson"));
    const res = await emulate({ ...BASE, batch: 10 }, { source: flaky, target });
    await target.close();
    assert.equal(res.error, undefined);
    assert.equal(res.retries, 1);
    assert.equal(res.acknowledged, 150);

    const broken = { ...flaky, read: () => Promise.reject(new Error("table is gone")) };
    const target2 = await NdjsonTarget.open(join(dir, "b.ndjson"));
    const res2 = await emulate(BASE, { source: broken, target: target2 });
    await target2.close();
    assert.match(res2.error?.message ?? "", /table is gone/);
    assert.equal(res2.recordsSent, 0);
  });
});
