/**
 * The DAG files and their upload: the DAG rendered for a prefix differs from the shipped one
 * in its PREFIX line only, requirements.txt matches the deployed Airflow version, `deno
 * task dags` uploads to a versioned DAG bucket on moto skipping unchanged files, `--out`
 * needs no AWS, and the task's options. The DAG on real Airflow, and `--trigger` through
 * an MWAA-like endpoint over the real Airflow CLI, are in tests/dags_airflow_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, run, withTempDir } from "../_fixtures.ts";

const REQUIREMENTS = await Deno.readTextFile(join(ROOT, "dags", "requirements.txt"));

Deno.test("dags --out writes the rendered files and needs no AWS", async () => {
  await withTempDir(async (dir) => {
    const r = await run("deno", ["run", "-A", "tasks/dags.ts", "--out", dir, "--prefix", "demo"], {
      env: { PINPIPE_CONFIG: join(dir, "none.json") },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      join(dir, "dags/demo_dag.py"),
      join(dir, "requirements.txt"),
    ]);
    assert.match(await Deno.readTextFile(join(dir, "dags/demo_dag.py")), /^PREFIX = "demo"$/m);
    assert.equal(await Deno.readTextFile(join(dir, "requirements.txt")), REQUIREMENTS);
  });
});
