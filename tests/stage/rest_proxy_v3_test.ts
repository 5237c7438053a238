/**
 * The v3 API of the local REST proxy: clusters and topics, the records API with JSON, BINARY
 * and STRING data and headers, its streaming form (results arrive while the body is still
 * being sent), per-record errors, and the emulator producing through it (`--rest-api v3`).
 */
import assert from "node:assert/strict";
import { createDataset } from "../../lib/source/dataset.ts";
import { datasetSource, emulate } from "../../lib/ingest/emulator.ts";
import { RestProducer } from "../../lib/ingest/rest_client.ts";
import { run } from "../_fixtures.ts";
import { consume, T, text, withProxy } from "../_rest_proxy.ts";

Deno.test({
  ...T,
  name: "the emulator produces through the v3 records API with the same keys and values as v2",
  fn: () =>
    withProxy(
      async ({ proxy, kafka }) => {
        const ds = createDataset({ rows: 200 });
        const res = await emulate(
          { prefix: "r", mode: "sequential", seed: 100, rate: 0, batch: 50, concurrency: 4 },
          {
            source: datasetSource(ds),
            target: new RestProducer({ baseUrl: proxy.url, api: "v3" }),
          },
        );
        assert.equal(res.error, undefined);
        assert.equal(res.acknowledged, 600);
        const held = await consume(kafka, "r.geo", 200);
        for (const h of held) {
          assert.match(text(h.key)!, /^(0|[1-9]\d*)$/);
          assert.equal(text(h.value), JSON.stringify(ds.posting(Number(text(h.key))).geo));
        }

        const cli = await run("deno", [
          "run",
          "-A",
          "tasks/emulate.ts",
          "--rest-url",
          proxy.url,
          "--rest-api",
          "v3",
          "--prefix",
          "r",
          "--postings",
          "20",
          "--json",
        ]);
        assert.equal(cli.code, 0, cli.stderr);
        assert.equal(JSON.parse(cli.stdout).acknowledged, 60);
      },
      {},
      { topics: { "r.pin": 2, "r.geo": 2, "r.user": 2 } },
    ),
});
