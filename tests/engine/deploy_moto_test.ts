/**
 * `deno task deploy` against moto (server mode, tests/_moto.ts): the stacks moto's
 * CloudFormation can create — network and lake — go through the real change-set flow, as a
 * user runs the task (its own process, AWS_ENDPOINT_URL pointing at moto), with the outputs
 * saved to the config file; the resources are then looked at through EC2, IAM and S3; a
 * re-run changes nothing; a changed lake parameter is an update in place (the update drill:
 * the bucket and its objects kept, the network untouched); and destroy empties the versioned
 * lake bucket before deleting it.
 *
 * What moto cannot do here (so it is covered by tests/unit/deploy_test.ts's aws-sdk-client-mock
 * CloudFormation instead): create MSK, MSK Connect, MWAA and the API Gateway VPC link, and
 * delete the network stack (moto's CloudFormation has no delete for route tables, NAT
 * gateways, VPC endpoints or gateway attachments, so DeleteStack fails on the VPC).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CloudFormationClient } from "../../lib/deps/aws_cloudformation.ts";
import { EC2Client } from "../../lib/deps/aws_ec2.ts";
import { KafkaClient } from "../../lib/deps/aws_kafka.ts";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "../../lib/deps/aws_s3.ts";
import { SecretsManagerClient } from "../../lib/deps/aws_secrets_manager.ts";
import { deploy, destroy } from "../../lib/aws/deploy.ts";
import type { DeployDeps } from "../../lib/aws/deploy.ts";
import { loadConfig } from "../../lib/shell/config.ts";
import { envTest, run, withTempDir } from "../_fixtures.ts";
import { type Moto, motoQuery, withMoto } from "../_moto.ts";

/** `deno task deploy …` in its own process, its AWS clients sent to moto. */
function deployTask(moto: Moto, args: string[]) {
  return run("deno", ["run", "-A", "tasks/deploy.ts", "--poll", "100ms", ...args], {
    env: { ...moto.env, PATH: Deno.env.get("PATH") ?? "" },
  });
}

/**
 * `deno task deploy --only network,lake … --json` (the given flags between): asserts it ends
 * with 0 and answers its JSON result, each stack's [id, action] and its stderr.
 */
async function deployNetworkAndLake(moto: Moto, flags: string[]) {
  const r = await deployTask(moto, [...flags, "--only", "network,lake", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  const actions = result.stacks.map((s: { id: string; action: string }) => [s.id, s.action]);
  return { result, actions, stderr: r.stderr };
}

/** The subnets of `vpcId` in moto, by CIDR block. */
async function subnetBlocks(moto: Moto, vpcId: string): Promise<string[]> {
  const xml = await motoQuery(moto, "ec2", {
    Action: "DescribeSubnets",
    Version: "2016-11-15",
    "Filter.1.Name": "vpc-id",
    "Filter.1.Value.1": vpcId,
  });
  return [...xml.matchAll(/<cidrBlock>([^<]+)<\/cidrBlock>/g)].map((m) => m[1]).sort();
}

function clients(moto: Moto): DeployDeps["clients"] {
  return {
    cfn: new CloudFormationClient(moto.client),
    ec2: new EC2Client(moto.client),
    kafka: new KafkaClient(moto.client),
    s3: new S3Client(moto.client),
    secrets: new SecretsManagerClient(moto.client),
  };
}

await envTest(
  "deploy creates the network and lake stacks on moto through change sets and saves their outputs; a changed lake parameter then updates that stack in place",
  ["engines"],
  () =>
    withMoto((moto) =>
      withTempDir(async (dir) => {
        const config = join(dir, ".pinpipe", "aws.json");
        const common = ["--region", "us-east-1", "--prefix", "my-pipe", "--config", config];
        const first = await deployNetworkAndLake(moto, [
          ...common,
          // A /20: four /20 subnets cannot fit, four /22s do.
          "--param",
          "network.VpcCidr=10.8.16.0/20",
        ]);
        const result = first.result;
        assert.deepEqual(first.actions, [["network", "created"], ["lake", "created"]]);
        assert.match(first.stderr, /network: creating my-pipe-network \(24 changes\)/);

        const saved = await loadConfig({}, config);
        assert.equal(saved.region, "us-east-1");
        assert.equal(saved.prefix, "my-pipe");
        assert.match(String(saved.bucket), /^my-pipe-lake-/);
        assert.equal(
          saved.lakeReaderRoleArn,
          "arn:aws:iam::123456789012:role/my-pipe-lake-reader-us-east-1",
        );
        assert.match(String(saved.connectorSubnets), /^subnet-[0-9a-f]+,subnet-[0-9a-f]+$/);
        assert.match(String(saved.connectorSecurityGroups), /^sg-[0-9a-f]+$/);

        // What the stacks made, seen through the services themselves.
        const network = result.stacks[0].outputs;
        assert.equal(network.VpcCidr, "10.8.16.0/20");
        assert.deepEqual(await subnetBlocks(moto, network.VpcId), [
          "10.8.16.0/22",
          "10.8.20.0/22",
          "10.8.24.0/22",
          "10.8.28.0/22",
        ]);
        await new S3Client(moto.client).send(
          new HeadBucketCommand({ Bucket: String(saved.bucket) }),
        );
        const role = await motoQuery(moto, "iam", {
          Action: "GetRole",
          Version: "2010-05-08",
          RoleName: "my-pipe-lake-reader-us-east-1",
        });
        assert.match(role, /unity-catalog-prod-UCMasterRole/);
        assert.match(decodeURIComponent(role), /"sts:ExternalId":\s*"0000"/);

        // A re-run with nothing new changes nothing.
        const again = await deployNetworkAndLake(moto, common);
        assert.deepEqual(again.actions, [["network", "unchanged"], ["lake", "unchanged"]]);
        assert.deepEqual(await subnetBlocks(moto, network.VpcId), [
          "10.8.16.0/22",
          "10.8.20.0/22",
          "10.8.24.0/22",
          "10.8.28.0/22",
        ]);

        // The update drill: the lake's parameters change; that stack is updated in place (its
        // bucket keeps its name and its objects), the network is left alone, and the values
        // stay set on the next run. (moto's change sets list no change a parameter alone
        // causes and say nothing of replacement: tests/engine/infra_schemas_test.ts's drill
        // checks which resources each parameter replaces, by the resource schemas.)
        const s3 = new S3Client(moto.client);
        const key = "topics/my-pipe.pin/partition=0/my-pipe.pin+0+0000000000.json";
        await s3.send(
          new PutObjectCommand({ Bucket: String(saved.bucket), Key: key, Body: '{"index":1}\n' }),
        );
        const update = await deployNetworkAndLake(moto, [
          ...common,
          "--param",
          "lake.Versioning=on",
          "--param",
          "lake.DatabricksExternalId=abcd-1234",
        ]);
        const updated = update.result;
        assert.deepEqual(
          update.actions,
          [["network", "unchanged"], ["lake", "updated"]],
          update.stderr,
        );
        assert.equal(updated.stacks[1].outputs.BucketName, saved.bucket, "the bucket is kept");
        assert.equal(updated.stacks[1].outputs.LakeReaderRoleArn, saved.lakeReaderRoleArn);
        const kept = await s3.send(
          new GetObjectCommand({ Bucket: String(saved.bucket), Key: key }),
        );
        assert.equal(await kept.Body?.transformToString(), '{"index":1}\n', "the data is kept");
        const lakeStack = await motoQuery(moto, "cloudformation", {
          Action: "DescribeStacks",
          Version: "2010-05-15",
          StackName: "my-pipe-lake",
        });
        assert.match(lakeStack, /<ParameterKey>Versioning<\/ParameterKey>\s*<ParameterValue>on</);
        assert.match(lakeStack, /<ParameterValue>abcd-1234</);
        const last = await deployNetworkAndLake(moto, common);
        assert.deepEqual(
          last.actions,
          [["network", "unchanged"], ["lake", "unchanged"]],
          "the parameters set by the update stay set",
        );
      })
    ),
);

await envTest(
  "a dry run that reaches moto shows real change sets and leaves no stack behind",
  ["engines"],
  () =>
    withMoto(async (moto) => {
      const lines: string[] = [];
      const deps: DeployDeps = {
        clients: clients(moto),
        pollMs: 50,
        log: { line: (t) => lines.push(t) },
      };
      const plan = await deploy(
        { region: "us-east-1", prefix: "pinpipe", dryRun: true, only: ["network", "lake"] },
        deps,
      );
      assert.deepEqual(plan.stacks.map((s) => [s.id, s.action]), [
        ["network", "would-create"],
        ["lake", "would-create"],
      ]);
      assert.ok(plan.stacks[1].changes.some((c) => c.logicalId === "LakeReaderRole"));
      assert.deepEqual(plan.plan!.unchecked, [], "credentials reached moto: nothing unchecked");
      // The CREATE change sets' empty stacks were deleted again.
      const stacks = await motoQuery(moto, "cloudformation", {
        Action: "ListStacks",
        Version: "2010-05-15",
      });
      assert.doesNotMatch(stacks, /<StackStatus>(REVIEW_IN_PROGRESS|CREATE_COMPLETE)</);
    }),
);

await envTest(
  "destroy empties a versioned lake bucket, old versions and delete markers too, then deletes its stack",
  ["engines"],
  () =>
    withMoto(async (moto) => {
      const lines: string[] = [];
      const deps: DeployDeps = {
        clients: clients(moto),
        pollMs: 50,
        log: { line: (t) => lines.push(t) },
      };
      const opts = { region: "us-east-1", prefix: "pinpipe", only: ["lake" as const] };
      await deploy({ ...opts, params: { lake: { Versioning: "on" } } }, deps);
      const bucket = (await deploy(opts, deps)).config.bucket!;
      const s3 = new S3Client(moto.client);
      // moto's CloudFormation ignores a bucket's VersioningConfiguration: turn it on the way
      // the stack (Versioning=on) does on AWS.
      await s3.send(
        new PutBucketVersioningCommand({
          Bucket: bucket,
          VersioningConfiguration: { Status: "Enabled" },
        }),
      );
      const key = "topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000000.json";
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"index":1}\n' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"index":2}\n' }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      const before = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      assert.equal(before.Versions?.length, 2);
      assert.equal(before.DeleteMarkers?.length, 1);

      const result = await destroy({ ...opts, yes: true }, deps);
      assert.deepEqual(result.stacks.map((s) => [s.id, s.action]), [["lake", "deleted"]]);
      assert.ok(
        lines.includes(`lake: emptied s3://${bucket} (3 object versions)`),
        lines.join("\n"),
      );
      await assert.rejects(
        s3.send(new HeadBucketCommand({ Bucket: bucket })),
        (err: Error) => err.name === "NotFound" || /404|NotFound/.test(String(err)),
      );
      assert.equal(result.config.bucket, undefined);
      assert.ok("bucket" in result.config, "the config key is removed");
    }),
);
