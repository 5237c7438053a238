/**
 * README's table of what each task asks of the broker under IAM, held to account: each task
 * runs with `--auth aws-iam` as a principal whose policy grants exactly its row (and
 * Connect), and must succeed with no request denied: `topics`, `emulate --bootstrap`,
 * `rest-proxy serve` producing and serving a v2 consumer, and `sink`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startBroker } from "../../lib/broker/broker.ts";
import { parseListener } from "../../lib/broker/sasl.ts";
import { localClusterArn, MskArns } from "../../lib/broker/iam_policy.ts";
import { run, spawnTask } from "../../bench/_process.ts";
import { waitFor } from "../_fixtures.ts";

const REGION = "us-east-1";
const arns = new MskArns(localClusterArn(REGION));
const TOPICS = ["pinpipe.pin", "pinpipe.geo", "pinpipe.user"].map((t) => arns.topic(t));

/** README's rows: action lists by resource, per task. */
const ROWS: Record<string, [string[], string | string[]][]> = {
  topics: [[["CreateTopic", "DescribeTopic"], TOPICS]],
  emulate: [[["DescribeTopic", "WriteData"], TOPICS]],
  proxy: [
    [["DescribeTopic", "WriteData", "ReadData"], TOPICS],
    [["AlterGroup", "DescribeGroup"], arns.group("pinpipe-readers")],
  ],
  sink: [
    [["DescribeTopic", "ReadData"], TOPICS],
    [["AlterGroup", "DescribeGroup"], arns.group("pinpipe-sink")],
  ],
};

function creds(task: string) {
  return {
    key: `AKIAPINPIPE${task.toUpperCase().padEnd(8, "0")}`,
    secret: `${task}-Secret-0123456789`,
  };
}

Deno.test(
  "each task with --auth aws-iam and a policy of exactly its row of README's table: no request denied",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-least-" });
    const lines: string[] = [];
    try {
      const principals: Record<string, unknown> = {};
      for (const [task, row] of Object.entries(ROWS)) {
        const policy = {
          Version: "2012-10-17",
          Statement: [
            { Effect: "Allow", Action: "kafka-cluster:Connect", Resource: arns.cluster },
            ...row.map(([actions, resource]) => ({
              Effect: "Allow",
              Action: actions.map((a) => `kafka-cluster:${a}`),
              Resource: resource,
            })),
          ],
        };
        await Deno.writeTextFile(join(dir, `${task}.json`), JSON.stringify(policy));
        principals[creds(task).key] = {
          secretAccessKey: creds(task).secret,
          principal: `arn:aws:iam::000000000000:role/pinpipe-${task}`,
          policies: [`${task}.json`],
        };
      }
      await Deno.writeTextFile(join(dir, "principals.json"), JSON.stringify(principals));
      const b = await startBroker({
        tlsDir: dir,
        iamPrincipalsFile: join(dir, "principals.json"),
        iamRegion: REGION,
        saslMechanisms: ["OAUTHBEARER"],
        listeners: [parseListener("IAM=SASL_SSL://127.0.0.1:0")],
        logger: (l) => lines.push(l),
      });
      const auth = ["--bootstrap", b.bootstrap, "--auth", "aws-iam", "--region", REGION];
      const env = (task: string) => ({
        DENO_CERT: b.tls!.caFile!,
        AWS_ACCESS_KEY_ID: creds(task).key,
        AWS_SECRET_ACCESS_KEY: creds(task).secret,
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
      });
      const task = async (as: string, args: string[]) => {
        const r = await run(Deno.execPath(), ["run", "-A", ...args, ...auth], { env: env(as) });
        assert.equal(r.code, 0, `${args[0]}: ${r.stderr}\n${lines.join("\n")}`);
        return r;
      };
      try {
        await task("topics", ["tasks/topics.ts", "--partitions", "1", "--replication", "1"]);
        const sent = await task("emulate", [
          "tasks/emulate.ts",
          "--rows",
          "10",
          "--mode",
          "sequential",
        ]);
        assert.match(sent.stdout + sent.stderr, /30 acknowledged, 0 failed/);

        const proxy = await spawnTask(
          "rest_proxy.ts",
          ["serve", "--port", "0", ...auth],
          env("proxy"),
        );
        try {
          const through = await run(Deno.execPath(), [
            "run",
            "-A",
            "tasks/emulate.ts",
            "--rest-url",
            proxy.firstLine,
            "--rows",
            "10",
            "--mode",
            "sequential",
          ]);
          assert.equal(through.code, 0, through.stderr + proxy.stderr());
          const base = `${proxy.firstLine}/consumers/pinpipe-readers`;
          const v2 = { "content-type": "application/vnd.kafka.v2+json" };
          const call = async (path: string, init: RequestInit) => {
            const r = await fetch(`${base}${path}`, init);
            const text = await r.text();
            assert.ok(r.ok, `${init.method} ${path}: ${r.status} ${text}\n${lines.join("\n")}`);
            return text ? JSON.parse(text) : undefined;
          };
          await call("", {
            method: "POST",
            headers: v2,
            body: JSON.stringify({ name: "c1", format: "json", "auto.offset.reset": "earliest" }),
          });
          await call("/instances/c1/subscription", {
            method: "POST",
            headers: v2,
            body: JSON.stringify({ topics: ["pinpipe.pin"] }),
          });
          let read = 0;
          await waitFor("records through the v2 consumer", async () => {
            const got = await call("/instances/c1/records", {
              method: "GET",
              headers: { accept: "application/vnd.kafka.json.v2+json" },
            });
            read += got.length;
            return read >= 20;
          }, 30_000);
          await call("/instances/c1/offsets", { method: "POST", headers: v2, body: "" });
          await call("/instances/c1", { method: "DELETE" });
        } finally {
          await proxy.stop();
        }

        await task("sink", ["tasks/sink.ts", "--once", "--lake", `file://${join(dir, "lake")}`]);
        assert.deepEqual(lines.filter((l) => l.startsWith("denied ")), []);
        for (const t of Object.keys(ROWS)) {
          assert.ok(
            lines.some((l) => l.includes(`role/pinpipe-${t}`)),
            `${t} authenticated: ${lines.join("\n")}`,
          );
        }
      } finally {
        await b.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
