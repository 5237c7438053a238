/**
 * The DAG files and their upload: the DAG rendered for a prefix differs from the shipped one
 * in its PREFIX line only, requirements.txt matches the deployed Airflow version, `deno
 * task dags` uploads to a versioned DAG bucket on moto skipping unchanged files, `--out`
 * needs no AWS, and the task's options. The DAG on real Airflow, and `--trigger` through
 * an MWAA-like endpoint over the real Airflow CLI, are in tests/dags_airflow_test.ts.
 */
import assert from "node:assert/strict";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "../../lib/deps/aws_s3.ts";
import { dagFiles, uploadDagFiles } from "../../lib/aws/mwaa.ts";
import { envTest } from "../_fixtures.ts";
import { withMoto } from "../_moto.ts";

/** A versioned bucket "dags" on moto, as the mwaa stack makes it, and a client for it. */
function withS3(fn: (s3: S3Client) => Promise<void>) {
  return withMoto(async (moto) => {
    const s3 = new S3Client(moto.client);
    await s3.send(new CreateBucketCommand({ Bucket: "dags" }));
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: "dags",
        VersioningConfiguration: { Status: "Enabled" },
      }),
    );
    await fn(s3);
  });
}

async function objectText(s3: S3Client, key: string) {
  const out = await s3.send(new GetObjectCommand({ Bucket: "dags", Key: key }));
  return await out.Body!.transformToString();
}

await envTest(
  "dags uploads changed files to a versioned bucket on moto and skips the ones whose content is already there",
  ["engines"],
  () =>
    withS3(async (s3) => {
      const files = await dagFiles("demo");
      assert.deepEqual(files.map((f) => f.key), ["dags/demo_dag.py", "requirements.txt"]);
      const first = await uploadDagFiles(s3, "dags", files);
      assert.deepEqual(first.uploaded.map((u) => u.key), ["dags/demo_dag.py", "requirements.txt"]);
      assert.ok(first.uploaded.every((u) => u.versionId), "each upload is a new object version");
      assert.match(await objectText(s3, "dags/demo_dag.py"), /^PREFIX = "demo"$/m);
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: "dags", Key: "requirements.txt" }),
      );
      assert.match(head.Metadata?.sha256 ?? "", /^[0-9a-f]{64}$/);

      const again = await uploadDagFiles(s3, "dags", files);
      assert.deepEqual(again, {
        uploaded: [],
        unchanged: ["dags/demo_dag.py", "requirements.txt"],
      });

      const edited = files.map((f) =>
        f.key.endsWith(".py")
          ? {
            ...f,
            body: new TextEncoder().encode(new TextDecoder().decode(f.body) + "\n# edited\n"),
          }
          : f
      );
      const third = await uploadDagFiles(s3, "dags", edited);
      assert.deepEqual(third.uploaded.map((u) => u.key), ["dags/demo_dag.py"]);
      assert.match(await objectText(s3, "dags/demo_dag.py"), /# edited/);

      // requirements.txt written by deploy's custom resource has no sha256 metadata: the
      // content (MD5 ETag) still says it is the same file.
      await s3.send(
        new PutObjectCommand({ Bucket: "dags", Key: "requirements.txt", Body: files[1].body }),
      );
      const fourth = await uploadDagFiles(s3, "dags", edited);
      assert.deepEqual(fourth.unchanged, ["dags/demo_dag.py", "requirements.txt"]);

      const versions = await s3.send(
        new ListObjectVersionsCommand({ Bucket: "dags", Prefix: "dags/" }),
      );
      assert.equal(versions.Versions?.length, 2, "the edit is a second version, the first kept");

      const dry = await uploadDagFiles(s3, "dags", files, { dryRun: true });
      assert.deepEqual(dry.uploaded.map((u) => u.key), ["dags/demo_dag.py"]);
      assert.match(
        await objectText(s3, "dags/demo_dag.py"),
        /# edited/,
        "a dry run uploads nothing",
      );
    }),
);
