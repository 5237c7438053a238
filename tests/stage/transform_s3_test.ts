/**
 * The transform over a lake on S3 (s3rver): the objects are fetched through lib/lake/lake.ts and
 * give the same tables, counts and answers as the same lake on disk, from the library and
 * from the task with --s3-endpoint.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataset } from "../../lib/source/dataset.ts";
import { FileLake, type Lake, objectKey, S3Lake } from "../../lib/lake/lake.ts";
import { transform } from "../../lib/analytics/transform.ts";
import { writeLake } from "../../bench/_write_lake.ts";
import { run, withS3rver, withTempDir } from "../_fixtures.ts";

const T = { sanitizeOps: false, sanitizeResources: false };

/** The same postings into any lake: flush size 40, a replay, and one malformed object. */
async function fill(lake: Lake): Promise<void> {
  const data = createDataset({ rows: 600, seed: 7 });
  const w = await writeLake(lake, data.postings(), { flushSize: 40 });
  await writeLake(lake, data.postings(0, 10), { flushSize: 1, startOffset: w.nextOffset });
  await lake.put(
    objectKey("pinpipe.user", 1, 0),
    new TextEncoder().encode(`${JSON.stringify(data.posting(3).user)}\nnot json at all\n`),
  );
}

Deno.test({
  ...T,
  name:
    "transform reads an S3 lake through lib/lake/lake.ts and answers as for the same lake on disk",
  fn: () =>
    withTempDir(async (dir) => {
      await withS3rver(["lake"], async ({ client, endpoint }) => {
        await fill(new S3Lake(client, "lake", "landing"));
        const disk = new FileLake(join(dir, "disk"));
        await fill(disk);

        const fromS3 = await transform({
          lake: "s3://lake/landing",
          prefix: "pinpipe",
          out: join(dir, "out-s3"),
          s3: { client },
        });
        const fromDisk = await transform({
          lake: disk.url,
          prefix: "pinpipe",
          out: join(dir, "out-disk"),
        });
        assert.equal(fromS3.lake, "s3://lake/landing");
        assert.equal(fromS3.objects, fromDisk.objects);
        assert.equal(fromS3.bytes, fromDisk.bytes);
        assert.deepEqual(fromS3.tables, fromDisk.tables);
        assert.deepEqual(fromS3.answers.map((a) => a.rows), fromDisk.answers.map((a) => a.rows));
        assert.equal(fromS3.tables.pin.duplicates, 10);
        assert.deepEqual(fromS3.quarantine, [{
          table: "user",
          key: "topics/pinpipe.user/partition=1/pinpipe.user+1+0000000000.json",
          line: 2,
          reason: "not valid JSON",
          text: "not json at all",
        }]);
        // Posting 3's user appears twice (partition 1 too): an exact duplicate.
        assert.equal(fromS3.tables.user.duplicates, 11);

        // The task, pointed at the same server with --s3-endpoint and keys from the environment.
        const out = join(dir, "out-task");
        const r = await run("deno", [
          "run",
          "-A",
          "tasks/transform.ts",
          "--lake",
          "s3://lake/landing",
          "--s3-endpoint",
          endpoint,
          "--out",
          out,
          "--json",
          "--no-report",
        ], {
          env: {
            AWS_ACCESS_KEY_ID: "S3RVER",
            AWS_SECRET_ACCESS_KEY: "S3RVER",
            AWS_REGION: "us-east-1",
          },
        });
        assert.equal(r.code, 0, r.stderr);
        const summary = JSON.parse(r.stdout);
        assert.equal(summary.records, fromDisk.records);
        assert.deepEqual(
          summary.answers.map((a: { rows: unknown }) => a.rows),
          fromDisk.answers.map((a) => a.rows),
        );
      });
    }),
});
