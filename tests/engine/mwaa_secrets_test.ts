/**
 * The mwaa stack's Secrets Manager side on moto (server mode), read by Airflow's real
 * SecretsManagerBackend (the amazon provider in the engine venv, configured exactly as the
 * stack configures MWAA): the Databricks connection as the stack creates it and deploy fills
 * it, and the <prefix>_lake Variable, also after an update of the stack's secrets (moto's
 * CloudFormation has no Secrets Manager resources: the template's Secret properties are
 * applied as CloudFormation applies them, on create and on an update). And the
 * custom resource that writes requirements.txt, its Python run against moto's S3: a bucket
 * that returns no version makes it fail with the reason instead of passing "" to MWAA.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "../../lib/deps/aws_secrets_manager.ts";
import { databricksConnection } from "../../lib/aws/deploy.ts";
import { loadTemplate } from "../../lib/aws/stacks.ts";
import { venvBin } from "../_engines.ts";
import { envTest, run, withTempDir } from "../_fixtures.ts";
import { type Moto, withMoto } from "../_moto.ts";

const mwaa = await loadTemplate("mwaa");
const PREFIX = "my-pipe";

type Props = Record<string, unknown>;
const secretProps = (id: string) => mwaa.Resources![id].Properties as Props;
const sub = (v: unknown) =>
  (v as { "Fn::Sub": string })["Fn::Sub"].replaceAll("${Prefix}", PREFIX)
    .replaceAll("${BucketName}", "my-pipe-lake-abc");

/**
 * What CloudFormation does with an AWS::SecretsManager::Secret of the template (moto's
 * CloudFormation has no such resource): on create, the SecretString, or a value made from
 * GenerateSecretString's template with a random string under its key; on an update of the
 * resource, the SecretString written again (a generated value is left as it is).
 */
async function applySecret(moto: Moto, id: string, on: "create" | "update"): Promise<void> {
  const p = secretProps(id);
  const name = sub(p.Name);
  const gen = p.GenerateSecretString as Record<string, string> | undefined;
  let value: string | undefined;
  if (p.SecretString !== undefined) {
    value = typeof p.SecretString === "string" ? p.SecretString : sub(p.SecretString);
  } else if (gen && on === "create") {
    value = JSON.stringify({
      ...JSON.parse(gen.SecretStringTemplate),
      [gen.GenerateStringKey]: crypto.randomUUID(),
    });
  }
  const secrets = new SecretsManagerClient(moto.client);
  if (on === "create") {
    await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  } else if (value !== undefined) {
    await secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
  }
}

/** Airflow (the engine venv's), with MWAA's secrets backend settings, reading through moto. */
async function airflowReads(moto: Moto, home: string): Promise<Record<string, unknown>> {
  const env = mwaa.Resources!.Environment.Properties as Record<string, unknown>;
  const options = env.AirflowConfigurationOptions as Record<string, unknown>;
  const kwargs = (options["secrets.backend_kwargs"] as { "Fn::Sub": string })["Fn::Sub"]
    .replaceAll("${Prefix}", PREFIX);
  const script = `
import json
from airflow.models import Connection, Variable
from airflow.providers.databricks.hooks.databricks import DatabricksHook
c = Connection.get_connection_from_secrets("databricks_default")
hook = DatabricksHook()
print(json.dumps({"conn_type": c.conn_type, "host": c.host, "password": c.password,
  "hook_host": hook.host, "lake": Variable.get("${PREFIX}_lake")}))
`;
  const r = await run(join((await venvBin())!, "python"), ["-c", script], {
    env: {
      ...moto.env,
      PATH: Deno.env.get("PATH") ?? "",
      AIRFLOW_HOME: home,
      AIRFLOW__CORE__LOAD_EXAMPLES: "False",
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${home}/airflow.db`,
      AIRFLOW__SECRETS__BACKEND: String(options["secrets.backend"]),
      AIRFLOW__SECRETS__BACKEND_KWARGS: kwargs,
    },
  });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

await envTest(
  "Airflow's SecretsManagerBackend reads the Databricks connection and the lake Variable as the mwaa stack stores them, also after an update",
  ["aws-engines"],
  () =>
    withMoto((moto) =>
      withTempDir(async (home) => {
        for (const id of ["DatabricksConnection", "LakeVariable"]) {
          await applySecret(moto, id, "create");
        }
        const secrets = new SecretsManagerClient(moto.client);
        const token = "dapi0123456789abcdef0123456789abcdef";
        await secrets.send(
          new PutSecretValueCommand({
            SecretId: `${PREFIX}/airflow/connections/databricks_default`,
            SecretString: databricksConnection({ host: "dbc-1234.cloud.databricks.com", token }),
          }),
        );
        const want = {
          conn_type: "databricks",
          host: "https://dbc-1234.cloud.databricks.com",
          password: token,
          hook_host: "dbc-1234.cloud.databricks.com",
          lake: "s3://my-pipe-lake-abc",
        };
        assert.deepEqual(await airflowReads(moto, home), want);
        // An update of the secrets' resources (here their descriptions) leaves what deploy
        // stored: the template carries no SecretString to write over it.
        for (const id of ["DatabricksConnection", "LakeVariable"]) {
          await applySecret(moto, id, "update");
        }
        assert.deepEqual(await airflowReads(moto, home), want);
      })
    ),
);

/** The requirements writer's Python, from the template, with a stand-in cfnresponse module. */
async function writer(dir: string): Promise<void> {
  const fn = mwaa.Resources!.RequirementsWriter.Properties as { Code: { ZipFile: string } };
  await Deno.writeTextFile(join(dir, "index.py"), fn.Code.ZipFile);
  await Deno.writeTextFile(
    join(dir, "cfnresponse.py"),
    "SUCCESS='SUCCESS'\nFAILED='FAILED'\nsent=[]\n" +
      "def send(event, context, status, data, physical, reason=None):\n" +
      "    sent.append({'status': status, 'data': data, 'reason': reason})\n",
  );
}

await envTest(
  "the requirements writer waits for a version and fails with the reason when S3 gives none",
  ["engines"],
  () =>
    withMoto((moto) =>
      withTempDir(async (dir) => {
        await writer(dir);
        const script = `
import json, sys, boto3
sys.path.insert(0, ${JSON.stringify(dir)})
import index, cfnresponse
index.ATTEMPTS = 3
index.PAUSE_S = 0
s3 = boto3.client("s3")
s3.create_bucket(Bucket="plain")
s3.create_bucket(Bucket="versioned")
s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
for bucket in ["plain", "versioned"]:
    index.handler({"RequestType": "Create", "ResourceProperties": {
        "Bucket": bucket, "Key": "requirements.txt", "Content": "x\\n"}}, None)
print(json.dumps(cfnresponse.sent))
`;
        const r = await run(join((await venvBin())!, "python"), ["-c", script], {
          env: { ...moto.env, PATH: Deno.env.get("PATH") ?? "" },
        });
        assert.equal(r.code, 0, r.stderr.slice(-2000));
        const [plain, versioned] = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
        assert.deepEqual(plain, {
          status: "FAILED",
          data: {},
          reason:
            "S3 returned no VersionId for s3://plain/requirements.txt after 3 puts (bucket versioning: never enabled)",
        });
        assert.equal(versioned.status, "SUCCESS");
        assert.match(versioned.data.VersionId, /^\S{8,}$/);
        assert.equal(versioned.reason, null);
      })
    ),
);
