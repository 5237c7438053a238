/**
 * The Airflow side: the DAG compiles and declares what MWAA needs (checked by python3 on
 * the file itself, and by running it against a stub of the Airflow API), requirements.txt
 * matches the deployed Airflow version, `deno task dags` uploads to s3rver skipping
 * unchanged files, and triggers and follows a run through a local stand-in for MWAA's
 * /aws_mwaa/cli endpoint (tokens from a mocked CreateCliToken).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mockClient } from "../lib/deps/aws_sdk_mock.ts";
import type { AwsStub } from "../lib/deps/aws_sdk_mock.ts";
import { CreateCliTokenCommand, GetEnvironmentCommand, MWAAClient } from "../lib/deps/aws_mwaa.ts";
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "../lib/deps/aws_s3.ts";
import { dagFiles, MwaaCli, renderDag, runDags, triggerDag, uploadDagFiles } from "../lib/mwaa.ts";
import { loadTemplate } from "../lib/stacks.ts";
import { UsageError } from "../lib/errors.ts";
import { parseOptions } from "../tasks/dags.ts";
import type { DagsOptions } from "../tasks/dags.ts";
import { envTest, ROOT, run, withS3rver, withTempDir } from "./_fixtures.ts";

const DAG = await Deno.readTextFile(join(ROOT, "dags", "pinpipe_dag.py"));
const REQUIREMENTS = await Deno.readTextFile(join(ROOT, "dags", "requirements.txt"));

/** Facts python3's ast reads off a DAG file (no Airflow needed). */
const INSPECT = `
import ast, json, sys
src = open(sys.argv[1]).read()
tree = ast.parse(src)
env = {}
for node in tree.body:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        try: env[node.targets[0].id] = ast.literal_eval(node.value)
        except Exception: pass
facts = {"imports": [], "dag": {}, "operators": []}
for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom):
        facts["imports"] += ["%s.%s" % (node.module, a.name) for a in node.names]
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DAG":
        for kw in node.keywords:
            try: facts["dag"][kw.arg] = ast.literal_eval(kw.value)
            except Exception: facts["dag"][kw.arg] = ast.unparse(kw.value)
    if isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Operator"):
        facts["operators"].append({"class": node.func.id, "args": sorted(k.arg for k in node.keywords)})
facts["prefix"] = env.get("PREFIX")
print(json.dumps(facts))
`;

/** A minimal Airflow API: enough to execute the DAG file and capture what it builds. */
const STUB = {
  "airflow/__init__.py": `
import json
class DAG:
    current = None
    created = []
    def __init__(self, dag_id, **kw):
        self.dag_id, self.kw, self.tasks = dag_id, kw, []
        DAG.created.append(self)
    def __enter__(self):
        DAG.current = self
        return self
    def __exit__(self, *a):
        DAG.current = None
`,
  "airflow/providers/__init__.py": "",
  "airflow/providers/databricks/__init__.py": "",
  "airflow/providers/databricks/operators/__init__.py": "",
  "airflow/providers/databricks/operators/databricks.py": `
from airflow import DAG
class DatabricksSubmitRunOperator:
    def __init__(self, task_id, **kw):
        self.task_id, self.kw = task_id, kw
        DAG.current.tasks.append(self)
`,
  "run_dag.py": `
import json, runpy, sys
from datetime import timedelta
from airflow import DAG
runpy.run_path(sys.argv[1])
dag = DAG.created[0]
out = {"dag_id": dag.dag_id, "schedule": dag.kw.get("schedule"), "catchup": dag.kw.get("catchup"),
       "retries": dag.kw["default_args"]["retries"],
       "retry_delay_s": dag.kw["default_args"]["retry_delay"].total_seconds(),
       "tasks": [{"task_id": t.task_id, "class": type(t).__name__, "kw": t.kw} for t in dag.tasks]}
try:
    import jinja2
    class Var:
        def __init__(self, values): self.values = values
        def __getattr__(self, name):
            if name not in self.values: raise KeyError("Variable %s does not exist" % name)
            return self.values[name]
        def get(self, name, default=None): return self.values.get(name, default)
    def render(value, ctx):
        if isinstance(value, str): return jinja2.Template(value).render(**ctx)
        if isinstance(value, dict): return {k: render(v, ctx) for k, v in value.items()}
        return value
    kw = dag.tasks[0].kw
    variables = Var(json.loads(sys.argv[2]))
    out["rendered"] = render({"cluster": kw["existing_cluster_id"], "notebook": kw["notebook_task"]},
                             {"var": {"value": variables}, "ds": "2026-01-02",
                              "dag_run": type("R", (), {"conf": json.loads(sys.argv[3])})()})
except ImportError:
    out["rendered"] = None
print(json.dumps(out, default=str))
`,
};

async function runStub(dagPath: string, variables: object, conf: object | null) {
  return await withTempDir(async (dir) => {
    for (const [path, text] of Object.entries(STUB)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    const r = await run("python3", [
      join(dir, "run_dag.py"),
      dagPath,
      JSON.stringify(variables),
      JSON.stringify(conf),
    ], {
      env: { PYTHONPATH: dir, PYTHONDONTWRITEBYTECODE: "1" },
    });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  });
}

await envTest(
  "the DAG compiles and declares its id, a daily schedule, no catchup and the Databricks operator",
  ["python3"],
  async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, "pinpipe_dag.py");
      await Deno.writeTextFile(file, DAG);
      const compiled = await run("python3", ["-m", "py_compile", file]);
      assert.equal(compiled.code, 0, compiled.stderr);
      const facts = JSON.parse((await run("python3", ["-c", INSPECT, file])).stdout);
      assert.equal(facts.prefix, "pinpipe");
      assert.ok(
        facts.imports.includes(
          "airflow.providers.databricks.operators.databricks.DatabricksSubmitRunOperator",
        ),
      );
      assert.equal(facts.dag.dag_id, "'%s_dag' % PREFIX");
      assert.equal(facts.dag.schedule, "@daily");
      assert.equal(facts.dag.catchup, false);
      assert.deepEqual(facts.operators.map((o: { class: string }) => o.class), [
        "DatabricksSubmitRunOperator",
      ]);
      const args = facts.operators[0].args as string[];
      for (const a of ["databricks_conn_id", "existing_cluster_id", "notebook_task", "task_id"]) {
        assert.ok(args.includes(a), a);
      }
    });
  },
);

await envTest(
  "the DAG builds against Airflow's API and takes its cluster and notebook from Variables or the run's conf",
  ["python3"],
  async () => {
    const out = await runStub(join(ROOT, "dags", "pinpipe_dag.py"), {
      pinpipe_cluster_id: "0101-000000-abcd",
      pinpipe_lake: "s3://lake-bucket",
    }, {});
    assert.equal(out.dag_id, "pinpipe_dag");
    assert.equal(out.schedule, "@daily");
    assert.equal(out.catchup, false);
    assert.ok(out.retries >= 1);
    assert.ok(out.retry_delay_s >= 60);
    assert.equal(out.tasks.length, 1);
    assert.equal(out.tasks[0].class, "DatabricksSubmitRunOperator");
    assert.equal(out.tasks[0].kw.databricks_conn_id, "databricks_default");
    // No cluster id or notebook path is written into the DAG.
    assert.doesNotMatch(JSON.stringify(out.tasks[0].kw), /\d{4}-\d{6}-[a-z0-9]{8}/);
    if (out.rendered === null) {
      console.warn("*** jinja2 missing: the DAG's templates were not rendered ***");
      return;
    }
    assert.deepEqual(out.rendered, {
      cluster: "0101-000000-abcd",
      notebook: {
        notebook_path: "/Shared/pinpipe/transform",
        base_parameters: { prefix: "pinpipe", lake: "s3://lake-bucket", run_date: "2026-01-02" },
      },
    });
    const manual = await runStub(
      join(ROOT, "dags", "pinpipe_dag.py"),
      { pinpipe_cluster_id: "x" },
      {
        cluster_id: "from-conf",
        notebook_path: "/Repos/me/transform",
      },
    );
    assert.equal(manual.rendered.cluster, "from-conf");
    assert.equal(manual.rendered.notebook.notebook_path, "/Repos/me/transform");
  },
);

await envTest(
  "a DAG rendered for another prefix compiles and is that prefix's DAG",
  ["python3"],
  async () => {
    const demo = renderDag(DAG, "demo");
    const changed = DAG.split("\n").filter((line, i) => line !== demo.split("\n")[i]);
    assert.deepEqual(changed, ['PREFIX = "pinpipe"']);
    await withTempDir(async (dir) => {
      const file = join(dir, "demo_dag.py");
      await Deno.writeTextFile(file, demo);
      const out = await runStub(file, { demo_cluster_id: "c" }, null);
      assert.equal(out.dag_id, "demo_dag");
      if (out.rendered) assert.equal(out.rendered.notebook.notebook_path, "/Shared/demo/transform");
    });
  },
);

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

/** s3rver with a bucket "dags", and a client for it. */
function withS3(fn: (s3: S3Client) => Promise<void>) {
  return withS3rver(["dags"], ({ client }) => fn(client));
}

async function objectText(s3: S3Client, key: string) {
  const out = await s3.send(new GetObjectCommand({ Bucket: "dags", Key: key }));
  return await out.Body!.transformToString();
}

Deno.test({
  name: "dags uploads changed files and skips the ones whose content is already in the bucket",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withS3(async (s3) => {
      const files = await dagFiles("demo");
      assert.deepEqual(files.map((f) => f.key), ["dags/demo_dag.py", "requirements.txt"]);
      const first = await uploadDagFiles(s3, "dags", files);
      assert.deepEqual(first.uploaded.map((u) => u.key), ["dags/demo_dag.py", "requirements.txt"]);
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

      const dry = await uploadDagFiles(s3, "dags", files, { dryRun: true });
      assert.deepEqual(dry.uploaded.map((u) => u.key), ["dags/demo_dag.py"]);
      assert.match(
        await objectText(s3, "dags/demo_dag.py"),
        /# edited/,
        "a dry run uploads nothing",
      );
    }),
});

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

/** A stand-in for MWAA's /aws_mwaa/cli: runs the few Airflow commands dags uses. */
function fakeAirflow(
  opts: {
    states: string[];
    dagVisibleAfter?: number;
    failStatus?: number[];
    triggerError?: string;
  },
) {
  const commands: string[] = [];
  const auth: (string | null)[] = [];
  const runs: { dag_id: string; run_id: string; state: string }[] = [];
  let lists = 0;
  let polls = 0;
  const failures = [...(opts.failStatus ?? [])];
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, async (req) => {
    const cmd = await req.text();
    const status = failures.shift();
    if (status) return new Response("busy", { status });
    commands.push(cmd);
    auth.push(req.headers.get("authorization"));
    assert.equal(req.headers.get("content-type"), "text/plain");
    let stdout = "";
    let stderr = "";
    const [, verb, id] = /^dags (\S+) ?(\S*)/.exec(cmd) ?? [];
    if (cmd === "dags list -o json") {
      lists++;
      const visible = lists > (opts.dagVisibleAfter ?? 0);
      stdout = JSON.stringify(
        visible
          ? [{
            dag_id: "pinpipe_dag",
            fileloc: "/usr/local/airflow/dags/pinpipe_dag.py",
            is_paused: "True",
          }]
          : [],
      );
    } else if (verb === "unpause") {
      stdout = `Dag: ${id}, paused: False\n`;
    } else if (verb === "trigger") {
      if (opts.triggerError) {
        stderr = `Traceback (most recent call last):\n  ...\n${opts.triggerError}\n`;
      } else {
        const runId = /-r (\S+)/.exec(cmd)![1];
        runs.push({ dag_id: id, run_id: runId, state: "queued" });
        stdout =
          `[2026-01-02T00:00:00.000+0000] {__init__.py:42} INFO - Created <DagRun ${id} @ 2026-01-02: ${runId}, state:queued>\n`;
      }
    } else if (verb === "list-runs") {
      for (const r of runs) r.state = opts.states[Math.min(polls, opts.states.length - 1)];
      polls++;
      stdout = "[2026-01-02] {logging.py:1} INFO - listing\n" +
        JSON.stringify(runs.map((r) => ({ ...r, execution_date: "2026-01-02" })));
    } else {
      stderr = `airflow: invalid command ${cmd}`;
    }
    return Response.json({ stdout: btoa(stdout), stderr: btoa(stderr) });
  });
  return {
    host: `127.0.0.1:${server.addr.port}`,
    commands,
    auth,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

/**
 * A mocked MWAA client. client-mwaa 3.523.0 is built on older @smithy types than
 * aws-sdk-client-mock 4.1.0 expects, so the mock is typed loosely; at run time it is the same.
 */
function mwaaMock(host: string, statuses = ["AVAILABLE"]) {
  const client = new MWAAClient({ region: "us-east-1" });
  // deno-lint-ignore no-explicit-any
  const mock = mockClient(client as any) as AwsStub<any, any, any>;
  let n = 0;
  // deno-lint-ignore no-explicit-any
  mock.on(CreateCliTokenCommand as any).callsFake(() => ({
    CliToken: `token-${++n}`,
    WebServerHostname: host,
  }));
  let s = 0;
  // deno-lint-ignore no-explicit-any
  mock.on(GetEnvironmentCommand as any).callsFake(() => ({
    Environment: { Status: statuses[Math.min(s++, statuses.length - 1)] },
  }));
  /** The CreateCliToken inputs sent so far. */
  const tokenCalls = () =>
    // deno-lint-ignore no-explicit-any
    mock.commandCalls(CreateCliTokenCommand as any).map((c) => c.args[0].input as { Name: string });
  return { client, tokenCalls };
}

const TRIGGER_OPTS: DagsOptions = {
  prefix: "pinpipe",
  bucket: "dags",
  region: "us-east-1",
  environment: "pinpipe-mwaa",
  trigger: true,
  timeoutMs: 60_000,
  pollMs: 1,
  dryRun: false,
  json: false,
};

Deno.test({
  name: "dags --trigger waits for the DAG, unpauses it, triggers a run and follows it to success",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withS3(async (s3) => {
      const airflow = fakeAirflow({
        states: ["queued", "running", "running", "success"],
        dagVisibleAfter: 2,
      });
      const { client, tokenCalls } = mwaaMock(airflow.host, ["UPDATING", "AVAILABLE"]);
      const lines: string[] = [];
      try {
        const cli = new MwaaCli(client, "pinpipe-mwaa", {
          cliUrl: (h) => `http://${h}/aws_mwaa/cli`,
        });
        const result = await runDags({ ...TRIGGER_OPTS, conf: { cluster_id: "c-1" } }, {
          s3,
          mwaa: client,
          cli,
          log: (l) => lines.push(l),
        });
        assert.equal(result.upload!.uploaded.length, 2);
        assert.equal(result.run!.state, "success");
        assert.match(result.run!.runId, /^pinpipe__\d{8}T\d{6}Z$/);
        const runId = result.run!.runId;
        assert.deepEqual(airflow.commands.slice(0, 6), [
          "dags list -o json",
          "dags list -o json",
          "dags list -o json",
          "dags unpause pinpipe_dag",
          `dags trigger pinpipe_dag -r ${runId} -c '{"cluster_id":"c-1"}'`,
          "dags list-runs -d pinpipe_dag -o json",
        ]);
        assert.equal(airflow.commands.filter((c) => c.startsWith("dags list-runs")).length, 4);
        // A fresh token for every command, sent as a bearer token.
        const tokens = tokenCalls();
        assert.equal(tokens.length, airflow.commands.length);
        assert.ok(tokens.every((t) => t.Name === "pinpipe-mwaa"));
        assert.deepEqual(airflow.auth, airflow.commands.map((_, i) => `Bearer token-${i + 1}`));
        assert.ok(
          lines.includes("environment pinpipe-mwaa is UPDATING; waiting"),
          lines.join("\n"),
        );
        assert.ok(lines.includes(`pinpipe_dag ${runId}: running`));
        assert.ok(lines.includes(`pinpipe_dag ${runId}: success`));
      } finally {
        await airflow.close();
      }
    }),
});

Deno.test("a failed DAG run comes back as failed", async () => {
  const airflow = fakeAirflow({ states: ["running", "failed"] });
  const { client } = mwaaMock(airflow.host);
  try {
    const cli = new MwaaCli(client, "pinpipe-mwaa", { cliUrl: (h) => `http://${h}/aws_mwaa/cli` });
    const r = await triggerDag(cli, { dagId: "pinpipe_dag", pollMs: 1, runId: "manual_1" });
    assert.deepEqual([r.runId, r.state], ["manual_1", "failed"]);
  } finally {
    await airflow.close();
  }
});

Deno.test("an Airflow error on stderr becomes the error message, and busy answers are retried", async () => {
  const airflow = fakeAirflow({
    states: ["success"],
    failStatus: [503],
    triggerError: "airflow.exceptions.DagRunAlreadyExists: A dag run already exists",
  });
  const { client } = mwaaMock(airflow.host);
  try {
    const cli = new MwaaCli(client, "pinpipe-mwaa", { cliUrl: (h) => `http://${h}/aws_mwaa/cli` });
    await assert.rejects(
      triggerDag(cli, { dagId: "pinpipe_dag", pollMs: 1, runId: "r1" }),
      new Error(
        'Cannot trigger "pinpipe_dag": airflow.exceptions.DagRunAlreadyExists: A dag run already exists',
      ),
    );
    assert.equal(airflow.commands[0], "dags list -o json", "the 503 was retried");
  } finally {
    await airflow.close();
  }
});

Deno.test("a DAG MWAA never loads is reported with where to look", async () => {
  const airflow = fakeAirflow({ states: ["success"], dagVisibleAfter: 1_000_000 });
  const { client } = mwaaMock(airflow.host);
  try {
    const cli = new MwaaCli(client, "pinpipe-mwaa", { cliUrl: (h) => `http://${h}/aws_mwaa/cli` });
    await assert.rejects(
      triggerDag(cli, { dagId: "pinpipe_dag", pollMs: 1, dagWaitMs: 50 }),
      /Cannot trigger "pinpipe_dag": MWAA has not loaded it after 0 s \(look for import errors in the Airflow UI\)/,
    );
  } finally {
    await airflow.close();
  }
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
    parseOptions(["--bucket", "b"], { PINPIPE_DAG_BUCKET: "e", AWS_REGION: "us-east-2" }, config)
      .bucket,
    "b",
  );
  assert.throws(
    () => parseOptions(["--trigger", "--conf", "[1]"], {}, {}),
    (err: Error) =>
      err instanceof UsageError && /^4 problems/.test(err.message) &&
      /Missing --bucket/.test(err.message) &&
      /Missing --region/.test(err.message) && /--trigger needs --environment/.test(err.message) &&
      /Invalid --conf "\[1\]": expected a JSON object/.test(err.message),
  );
});
