/**
 * The DAG and `deno task dags --trigger` on real Apache Airflow 2.10.3 (tests/_airflow.ts):
 * the DAG rendered for `pinpipe` and for `my-pipe` loads into a DagBag without import errors;
 * `airflow dags test` runs it against a fake of the Databricks Jobs API, which records the
 * exact JSON the operator submits; and `--trigger` drives a real Airflow (scheduler
 * included) through a stand-in for MWAA's CLI endpoint that runs every command on the real
 * CLI, with the DAG uploaded to moto's S3 and synced from there: on a paused DAG the first
 * trigger runs the notebook once (not twice), a DAG someone else unpaused meanwhile is fine,
 * and the run id is read from JSON, not from a table that folds long cells.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mockClient } from "../deps/aws_sdk_mock.ts";
import type { AwsStub } from "../deps/aws_sdk_mock.ts";
import {
  CreateCliTokenCommand,
  GetEnvironmentCommand,
  MWAAClient,
} from "../../lib/deps/aws_mwaa.ts";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  S3Client,
} from "../../lib/deps/aws_s3.ts";
import { dagFiles, MwaaCli, parseJsonOutput, runDags, triggerDag } from "../../lib/aws/mwaa.ts";
import type { DagsOptions } from "../../tasks/dags.ts";
import { type Airflow, fakeDatabricks, mwaaEndpoint, newAirflow } from "../_airflow.ts";
import { envTest, waitFor } from "../_fixtures.ts";
import { type Moto, withMoto } from "../_moto.ts";

const TOKEN = "dapi-0123456789abcdef";

/** Writes the DAG rendered for `prefix` into the Airflow home's DAG folder. */
async function installDag(airflow: Airflow, prefix: string): Promise<void> {
  const [dag] = await dagFiles(prefix);
  await Deno.writeFile(join(airflow.dags, `${prefix}_dag.py`), dag.body);
}

/** The variable a DAG reads, as Airflow's environment backend names it. */
const variable = (prefix: string, name: string) =>
  `AIRFLOW_VAR_${`${prefix}_${name}`.toUpperCase()}`;

const DAGBAG = `
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {
        "catchup": d.catchup, "max_active_runs": d.max_active_runs,
        "schedule": str(d.timetable.summary),
        "tasks": [[t.task_id, type(t).__name__, t.retries] for t in d.tasks],
    } for d in bag.dags.values()},
}))
`;

await envTest(
  "the DAG rendered for pinpipe and for my-pipe loads into Airflow's DagBag with no import errors",
  ["engines"],
  async () => {
    const airflow = await newAirflow();
    try {
      for (const prefix of ["pinpipe", "my-pipe"]) await installDag(airflow, prefix);
      const r = await airflow.python(DAGBAG, [airflow.dags]);
      assert.equal(r.code, 0, r.stderr);
      const bag = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.deepEqual(bag.errors, {});
      for (const id of ["pinpipe_dag", "my-pipe_dag"]) {
        assert.deepEqual(bag.dags[id], {
          catchup: false,
          max_active_runs: 1,
          schedule: "0 0 * * *",
          tasks: [["run_transform_notebook", "DatabricksSubmitRunOperator", 2]],
        });
      }
    } finally {
      await airflow.close();
    }
  },
);

for (const prefix of ["pinpipe", "my-pipe"]) {
  await envTest(
    `airflow dags test runs the ${prefix} DAG against a fake Databricks, submitting its notebook, cluster and parameters`,
    ["engines"],
    async () => {
      const databricks = fakeDatabricks();
      const airflow = await newAirflow({
        AIRFLOW_CONN_DATABRICKS_DEFAULT: databricks.connection(TOKEN),
        [variable(prefix, "cluster_id")]: "0101-123456-abcdefgh",
        [variable(prefix, "lake")]: "s3://my-lake",
      });
      try {
        await installDag(airflow, prefix);
        const r = await airflow.cli(["dags", "test", `${prefix}_dag`, "2026-01-02"]);
        assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-2000));
        assert.match(r.stdout + r.stderr, /state=success/);
        assert.deepEqual(databricks.submits(), [{
          notebook_task: {
            notebook_path: `/Shared/${prefix}/transform`,
            base_parameters: { prefix, lake: "s3://my-lake", run_date: "2026-01-02" },
          },
          existing_cluster_id: "0101-123456-abcdefgh",
          run_name: `${prefix} transform 2026-01-02`,
          // The provider sends every number as a string; the Jobs API takes that.
          timeout_seconds: "10800",
        }]);
        assert.ok(databricks.calls.every((c) => c.authorization === `Bearer ${TOKEN}`));
        const gets = databricks.calls.filter((c) => c.path.endsWith("/runs/get"));
        assert.ok(gets.length >= 2, "the operator followed the run to its end");
        assert.ok(gets.every((g) => g.query.run_id === "1001"));

        // A manual run's conf overrides the Variables.
        const conf = await airflow.cli([
          "dags",
          "test",
          `${prefix}_dag`,
          "2026-01-03",
          "-c",
          JSON.stringify({
            cluster_id: "from-conf",
            notebook_path: "/Repos/me/pinpipe/notebooks/transform",
          }),
        ]);
        assert.equal(conf.code, 0, conf.stderr.slice(-2000));
        const second = databricks.submits()[1] as Record<string, Record<string, unknown>>;
        assert.equal(second.existing_cluster_id, "from-conf");
        assert.equal(second.notebook_task.notebook_path, "/Repos/me/pinpipe/notebooks/transform");
      } finally {
        await airflow.close();
        await databricks.close();
      }
    },
  );
}

await envTest(
  "Airflow's own CLI says 'No paused DAGs were found' when unpausing an unpaused DAG, and folds long run ids in its tables",
  ["engines"],
  async () => {
    const airflow = await newAirflow();
    try {
      await installDag(airflow, "pinpipe");
      assert.equal((await airflow.cli(["dags", "reserialize"])).code, 0);
      const first = await airflow.cli(["dags", "unpause", "pinpipe_dag"]);
      assert.match(first.stdout, /pinpipe_dag \| False/);
      const again = await airflow.cli(["dags", "unpause", "pinpipe_dag"]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /^No paused DAGs were found$/m);
      const runId = "pinpipe__20260102T000000Z";
      const table = await airflow.cli(["dags", "trigger", "pinpipe_dag", "-r", runId]);
      assert.equal(table.code, 0, table.stderr);
      assert.equal(table.stdout.includes(runId), false, "a terminal-less table folds the id");
      const json = await airflow.cli([
        "dags",
        "trigger",
        "pinpipe_dag",
        "-r",
        `${runId}_2`,
        "-o",
        "json",
      ]);
      const rows = parseJsonOutput<{ dag_run_id: string }[]>(json)!;
      assert.deepEqual(rows.map((r) => r.dag_run_id), [`${runId}_2`]);
    } finally {
      await airflow.close();
    }
  },
);

/** A mocked MWAA control plane (moto has no MWAA) whose CLI host is `host`. */
function mwaaClient(host: string) {
  const client = new MWAAClient({ region: "us-east-1" });
  // client-mwaa 3.523.0 is built on older @smithy types than aws-sdk-client-mock expects.
  // deno-lint-ignore no-explicit-any
  const mock = mockClient(client as any) as AwsStub<any, any, any>;
  let n = 0;
  // deno-lint-ignore no-explicit-any
  mock.on(CreateCliTokenCommand as any).callsFake(() => ({
    CliToken: `token-${++n}`,
    WebServerHostname: host,
  }));
  // deno-lint-ignore no-explicit-any
  mock.on(GetEnvironmentCommand as any).resolves({ Environment: { Status: "AVAILABLE" } });
  return client;
}

/** Copies `dags/` of the DAG bucket into the Airflow home, as MWAA syncs it. */
function syncFrom(moto: Moto, bucket: string, airflow: Airflow) {
  const s3 = new S3Client(moto.client);
  return async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "dags/" }));
    for (const o of listed.Contents ?? []) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
      const path = join(airflow.dags, o.Key!.slice("dags/".length));
      const body = await got.Body!.transformToByteArray();
      const current = await Deno.readFile(path).catch(() => undefined);
      if (!current || current.join() !== body.join()) await Deno.writeFile(path, body);
    }
  };
}

async function dagBucket(moto: Moto): Promise<string> {
  const s3 = new S3Client(moto.client);
  await s3.send(new CreateBucketCommand({ Bucket: "pinpipe-mwaa-dags" }));
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: "pinpipe-mwaa-dags",
      VersioningConfiguration: { Status: "Enabled" },
    }),
  );
  return "pinpipe-mwaa-dags";
}

const OPTS: DagsOptions = {
  prefix: "pinpipe",
  bucket: "pinpipe-mwaa-dags",
  region: "us-east-1",
  environment: "pinpipe-mwaa",
  trigger: true,
  conf: { cluster_id: "0101-123456-fromconf" },
  timeoutMs: 240_000,
  pollMs: 500,
  dryRun: false,
  json: false,
};

await envTest(
  "dags --trigger on a paused DAG uploads it, runs the notebook once (not twice) and follows the run; a second trigger runs it again",
  ["engines"],
  () =>
    withMoto(async (moto) => {
      const databricks = fakeDatabricks();
      const airflow = await newAirflow({
        AIRFLOW_CONN_DATABRICKS_DEFAULT: databricks.connection(TOKEN),
        [variable("pinpipe", "cluster_id")]: "0101-123456-variable",
      });
      const bucket = await dagBucket(moto);
      const endpoint = mwaaEndpoint(airflow, { beforeEach: syncFrom(moto, bucket, airflow) });
      const scheduler = airflow.startScheduler();
      const lines: string[] = [];
      try {
        const mwaa = mwaaClient(endpoint.host);
        const cli = new MwaaCli(mwaa, "pinpipe-mwaa", {
          cliUrl: (h) => `http://${h}/aws_mwaa/cli`,
        });
        const s3 = new S3Client(moto.client);
        const result = await runDags(OPTS, { s3, mwaa, cli, log: (l) => lines.push(l) });
        assert.deepEqual(result.upload!.uploaded.map((u) => u.key), [
          "dags/pinpipe_dag.py",
          "requirements.txt",
        ]);
        assert.ok(result.upload!.uploaded.every((u) => u.versionId), "a versioned bucket");
        const run = result.run!;
        assert.equal(run.state, "success", lines.join("\n") + scheduler.log().slice(-3000));
        assert.equal(run.unpaused, true);
        assert.match(run.runId, /^pinpipe__\d{8}T\d{6}Z$/);
        // The commands, in order: the run id and the date of the next scheduled run, then
        // the unpause.
        const cmds = endpoint.commands;
        const next = cmds.indexOf("dags next-execution pinpipe_dag");
        const trigger = cmds.findIndex((c) => c.startsWith("dags trigger pinpipe_dag"));
        const unpause = cmds.indexOf("dags unpause pinpipe_dag");
        assert.ok(next >= 0 && next < trigger && trigger < unpause, cmds.join("\n"));
        assert.match(
          cmds[trigger],
          new RegExp(
            `^dags trigger pinpipe_dag -r ${run.runId} -e \\d{4}-\\d{2}-\\d{2}T00:00:00\\+00:00 -c '\\{"cluster_id":"0101-123456-fromconf"\\}' -o json$`,
          ),
        );
        assert.deepEqual(databricks.submits().map((s) => s.existing_cluster_id), [
          "0101-123456-fromconf",
        ]);

        // The scheduler moves past the slot the manual run took without making a run of its
        // own: once next-execution has moved on, there is still one run.
        const slot = run.logicalDate!;
        await waitFor(
          "the scheduler to move past the first slot",
          async () => {
            const r = await airflow.cli(["dags", "next-execution", "pinpipe_dag"]);
            const last = r.stdout.trim().split("\n").at(-1)!;
            return /^\d{4}-/.test(last) && new Date(last) > new Date(slot.replace(" ", "T"));
          },
          180_000,
          1000,
        );
        const runs = parseJsonOutput<{ run_id: string }[]>(
          await airflow.cli(["dags", "list-runs", "-d", "pinpipe_dag", "-o", "json"]),
        )!;
        assert.deepEqual(runs.map((r) => r.run_id), [run.runId]);
        assert.equal(databricks.submits().length, 1, "the notebook ran once");

        // The DAG is unpaused now: a second trigger is a plain manual run, no unpause.
        endpoint.commands.length = 0;
        const second = await triggerDag(cli, {
          dagId: "pinpipe_dag",
          runId: "pinpipe__second_run_with_a_long_id_that_a_table_folds",
          pollMs: 500,
          timeoutMs: 240_000,
        });
        assert.equal(second.state, "success");
        assert.equal(second.unpaused, false);
        assert.equal(endpoint.commands.some((c) => /unpause|next-execution/.test(c)), false);
        assert.equal(databricks.submits().length, 2);
        assert.equal(databricks.submits()[1].existing_cluster_id, "0101-123456-variable");
      } finally {
        await scheduler.stop();
        await endpoint.close();
        await airflow.close();
        await databricks.close();
      }
    }),
);

await envTest(
  "a DAG someone unpaused meanwhile still triggers: Airflow's 'No paused DAGs were found' is not a failure",
  ["engines"],
  async () => {
    const airflow = await newAirflow();
    const endpoint = mwaaEndpoint(airflow);
    try {
      await installDag(airflow, "pinpipe");
      assert.equal((await airflow.cli(["dags", "reserialize"])).code, 0);
      const mwaa = mwaaClient(endpoint.host);
      const inner = new MwaaCli(mwaa, "pinpipe-mwaa", {
        cliUrl: (h) => `http://${h}/aws_mwaa/cli`,
      });
      // Someone unpauses the DAG in the UI between our look at it and our unpause.
      const cli = Object.assign(Object.create(inner), {
        async run(command: string) {
          if (command.startsWith("dags trigger")) {
            await airflow.cli(["dags", "unpause", "pinpipe_dag"]);
          }
          return await inner.run(command);
        },
      }) as MwaaCli;
      const lines: string[] = [];
      // Nothing runs the task (no scheduler): follow it only until it is listed, then stop.
      const ac = new AbortController();
      const followed = triggerDag(cli, {
        dagId: "pinpipe_dag",
        pollMs: 200,
        log: (l) => {
          lines.push(l);
          if (/: queued$/.test(l)) ac.abort(new Error("seen queued"));
        },
        signal: ac.signal,
      });
      await assert.rejects(followed, /seen queued/);
      assert.ok(lines.some((l) => /^unpaused pinpipe_dag/.test(l)), lines.join("\n"));
      assert.ok(lines.some((l) => /^triggered pinpipe_dag run pinpipe__/.test(l)));
    } finally {
      await endpoint.close();
      await airflow.close();
    }
  },
);

await envTest(
  "an Airflow error on stderr becomes the error message, and a busy endpoint is retried",
  ["engines"],
  async () => {
    const airflow = await newAirflow();
    const endpoint = mwaaEndpoint(airflow, { failFirst: [503] });
    try {
      await installDag(airflow, "pinpipe");
      assert.equal((await airflow.cli(["dags", "reserialize"])).code, 0);
      assert.equal((await airflow.cli(["dags", "unpause", "pinpipe_dag"])).code, 0);
      assert.equal((await airflow.cli(["dags", "trigger", "pinpipe_dag", "-r", "taken"])).code, 0);
      const cli = new MwaaCli(mwaaClient(endpoint.host), "pinpipe-mwaa", {
        cliUrl: (h) => `http://${h}/aws_mwaa/cli`,
      });
      await assert.rejects(
        triggerDag(cli, { dagId: "pinpipe_dag", pollMs: 1, runId: "taken" }),
        (err: Error) =>
          /^Cannot trigger "pinpipe_dag": .*(DagRunAlreadyExists|already exists)/.test(err.message),
      );
      assert.equal(endpoint.commands[0], "dags list -o json", "the 503 was retried");
    } finally {
      await endpoint.close();
      await airflow.close();
    }
  },
);

await envTest(
  "a DAG Airflow never loads is reported with where to look",
  ["engines"],
  async () => {
    const airflow = await newAirflow();
    const endpoint = mwaaEndpoint(airflow);
    try {
      const cli = new MwaaCli(mwaaClient(endpoint.host), "pinpipe-mwaa", {
        cliUrl: (h) => `http://${h}/aws_mwaa/cli`,
      });
      await assert.rejects(
        triggerDag(cli, { dagId: "pinpipe_dag", pollMs: 1, dagWaitMs: 50 }),
        /Cannot trigger "pinpipe_dag": MWAA has not loaded it after 0 s \(look for import errors in the Airflow UI\)/,
      );
    } finally {
      await endpoint.close();
      await airflow.close();
    }
  },
);
