/**
 * `deno task deploy` against a fake AWS control plane: aws-sdk-client-mock replaces the
 * CloudFormation, MSK, S3 and Secrets Manager clients, with a small stateful CloudFormation
 * behind it (stacks, change sets, events, outputs made from the real templates' Outputs), so
 * the tests see the exact commands deploy sends: order and concurrency along the stack
 * graph, parameters, create vs update, no-change handling, rollback reporting, destroy, the
 * offline plan, and the outputs saved to the config file. tests/deploy_moto_test.ts runs
 * the stacks moto can create through the same code against moto's CloudFormation.
 */
import assert from "node:assert/strict";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "../../lib/deps/aws_secrets_manager.ts";
import { deploy } from "../../lib/aws/deploy.ts";
import { envTest } from "../_fixtures.ts";
import { withMoto } from "../_moto.ts";

import { FakeCloud, OPTS } from "../_deploy_fakes.ts";

await envTest(
  "the Databricks connection lands in the mwaa stack's secret in Secrets Manager (moto), the token nowhere else",
  ["engines"],
  () =>
    withMoto(async (moto) => {
      // The secret as the mwaa stack creates it (moto's CloudFormation cannot make MWAA).
      const secrets = new SecretsManagerClient(moto.client);
      const made = await secrets.send(
        new CreateSecretCommand({
          Name: "pinpipe/airflow/connections/databricks_default",
          SecretString: '{"conn_type": "databricks"}',
        }),
      );
      const cloud = new FakeCloud();
      cloud.realOutputs["mwaa.DatabricksConnectionSecretArn"] = made.ARN!;
      cloud.secretsMock.restore();
      const token = "dapi0123456789abcdef";
      const deps = cloud.deps({
        clients: { cfn: cloud.cfn, ec2: cloud.ec2, kafka: cloud.kafka, s3: cloud.s3, secrets },
      });
      await deploy(
        { ...OPTS, databricks: { host: "dbc-1234.cloud.databricks.com", token } },
        deps,
      );
      const stored = await secrets.send(new GetSecretValueCommand({ SecretId: made.ARN! }));
      assert.deepEqual(JSON.parse(stored.SecretString!), {
        conn_type: "databricks",
        host: "https://dbc-1234.cloud.databricks.com",
        password: token,
      });
      assert.equal(JSON.stringify([cloud.changeSetCalls(), deps.lines]).includes(token), false);
    }),
);
