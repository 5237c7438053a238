/**
 * The DAG files and their upload: the DAG rendered for a prefix differs from the shipped one
 * in its PREFIX line only, requirements.txt matches the deployed Airflow version, `deno
 * task dags` uploads to a versioned DAG bucket on moto skipping unchanged files, `--out`
 * needs no AWS, and the task's options. The DAG on real Airflow, and `--trigger` through
 * an MWAA-like endpoint over the real Airflow CLI, are in tests/engine/dags_airflow_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DEFAULT_DAG_POLL_MS,
  DEFAULT_DAG_TIMEOUT_MS,
  formatDags,
  renderDag,
} from "../../lib/aws/mwaa.ts";
import { loadTemplate } from "../../lib/aws/stacks.ts";
import { UsageError } from "../../lib/shell/errors.ts";
import { parseOptions } from "../../tasks/dags.ts";
import { ROOT } from "../_fixtures.ts";

const DAG = await Deno.readTextFile(join(ROOT, "dags", "pinpipe_dag.py"));
const REQUIREMENTS = await Deno.readTextFile(join(ROOT, "dags", "requirements.txt"));

Deno.test("a DAG rendered for another prefix differs from the shipped one in its PREFIX line only", () => {
  for (const prefix of ["demo", "my-pipe"]) {
    const rendered = renderDag(DAG, prefix);
    const changed = DAG.split("\n").filter((line, i) => line !== rendered.split("\n")[i]);
    assert.deepEqual(changed, ['PREFIX = "pinpipe"']);
    assert.match(rendered, new RegExp(`^PREFIX = "${prefix}"$`, "m"));
  }
  // Variable names are read with var.value.get('<prefix>_…'): a dash in the prefix would
  // otherwise be a Jinja subtraction (var.value.my - pipe_cluster_id).
  assert.doesNotMatch(DAG, /var\.value\.%s/);
  assert.match(DAG, /var\.value\.get\('%s_%s'\)/);
});

Deno.test("rendering refuses a DAG without exactly one PREFIX line, and a prefix that is not a name", () => {
  assert.throws(() => renderDag("x = 1\n", "demo"), /expected one PREFIX = "…" line, found 0/);
  assert.throws(() => renderDag(DAG, "a'b"), /Cannot render the DAG for prefix "a'b"/);
});

Deno.test("requirements.txt adds the Databricks provider under the constraints of the deployed Airflow", async () => {
  const mwaa = await loadTemplate("mwaa");
  const version = String(mwaa.Parameters!.AirflowVersion.Default);
  const lines = REQUIREMENTS.split("\n").map((l) => l.trim()).filter(Boolean);
  assert.equal(
    lines[0],
    `--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${version}/constraints-3.11.txt"`,
  );
  assert.ok(lines.includes("apache-airflow-providers-databricks"));
});

Deno.test("the dags task reads its settings from flags, environment and config, and reports all problems", () => {
  const config = {
    dagBucket: "cfg-dags",
    region: "eu-west-1",
    mwaaEnvironment: "cfg-env",
    prefix: "cfg",
  };
  const o = parseOptions(["--trigger"], {}, config);
  assert.deepEqual([o.bucket, o.region, o.environment, o.prefix], [
    "cfg-dags",
    "eu-west-1",
    "cfg-env",
    "cfg",
  ]);
  assert.equal(
    parseOptions(
      ["--dag-bucket", "b"],
      { PINPIPE_DAG_BUCKET: "e", AWS_REGION: "us-east-2" },
      config,
    )
      .bucket,
    "b",
  );
  assert.throws(
    () => parseOptions(["--trigger", "--conf", "[1]"], {}, {}),
    (err: Error) =>
      err instanceof UsageError && /^3 problems/.test(err.message) &&
      /Missing --dag-bucket/.test(err.message) &&
      /--trigger needs --environment/.test(err.message) &&
      /Invalid --conf "\[1\]": expected a JSON object/.test(err.message),
  );
});

Deno.test("the dags task reads each flag's variable and the library's defaults", () => {
  const d = parseOptions(["--out", "build"], {});
  assert.deepEqual(
    [d.prefix, d.region, d.timeoutMs, d.pollMs, d.trigger, d.conf, d.out],
    [
      "pinpipe",
      "us-east-1",
      DEFAULT_DAG_TIMEOUT_MS,
      DEFAULT_DAG_POLL_MS,
      false,
      undefined,
      "build",
    ],
  );
  const e = parseOptions([], {
    PINPIPE_DAG_BUCKET: "env-dags",
    PINPIPE_MWAA_ENVIRONMENT: "env-mwaa",
    PINPIPE_DAG_TRIGGER: "1",
    PINPIPE_DAG_CONF: '{"cluster_id": "c-1"}',
    PINPIPE_DAG_TIMEOUT: "30m",
    PINPIPE_DAG_POLL: "500ms",
    PINPIPE_DRY_RUN: "1",
    PINPIPE_JSON: "1",
  });
  assert.deepEqual(
    [e.bucket, e.environment, e.trigger, e.conf, e.timeoutMs, e.pollMs, e.dryRun, e.json],
    ["env-dags", "env-mwaa", true, { cluster_id: "c-1" }, 1_800_000, 500, true, true],
  );
  assert.equal(parseOptions([], { PINPIPE_DAG_OUT: "out" }).out, "out");
});

Deno.test("the dags task refuses bare durations and the old --bucket, all together", () => {
  assert.throws(
    () => parseOptions(["--bucket", "b", "--timeout", "7200"], { PINPIPE_DAG_POLL: "15" }),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^4 problems/);
      assert.match(err.message, /Unknown flag --bucket: it was renamed; use --dag-bucket B/);
      assert.match(err.message, /Invalid --timeout "7200": expected a duration with its unit/);
      assert.match(err.message, /Invalid PINPIPE_DAG_POLL "15": expected a duration with its unit/);
      assert.match(err.message, /Missing --dag-bucket \(or PINPIPE_DAG_BUCKET\)/);
      return true;
    },
  );
});

Deno.test("the dags result reads as one line per file and one for the run", () => {
  const upload = {
    uploaded: [{ key: "dags/p_dag.py", bytes: 10 }],
    unchanged: ["requirements.txt"],
  };
  const result = { prefix: "p", dagId: "p_dag", bucket: "b", upload };
  assert.equal(
    formatDags(result, true),
    "would upload  s3://b/dags/p_dag.py\nunchanged  s3://b/requirements.txt",
  );
  const run = { runId: "r1", dagId: "p_dag", state: "success", seconds: 61.4, unpaused: false };
  assert.equal(
    formatDags({ ...result, run }, false).split("\n").at(-1),
    "run r1 of p_dag: success (61 s)",
  );
  assert.equal(formatDags({ ...result, written: ["a", "b"] }, false), "a\nb");
});
