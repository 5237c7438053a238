/**
 * `deno task deploy` against a fake AWS control plane: aws-sdk-client-mock replaces the
 * CloudFormation, MSK, S3 and Secrets Manager clients, with a small stateful CloudFormation
 * behind it (stacks, change sets, events, outputs made from the real templates' Outputs), so
 * the tests see the exact commands deploy sends: order and concurrency along the stack
 * graph, parameters, create vs update, no-change handling, rollback reporting, destroy, the
 * offline plan, and the outputs saved to the config file. tests/engine/deploy_moto_test.ts runs
 * the stacks moto can create through the same code against moto's CloudFormation.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mockClient } from "../deps/aws_sdk_mock.ts";
import {
  DeleteChangeSetCommand,
  DeleteStackCommand,
  ExecuteChangeSetCommand,
} from "../../lib/deps/aws_cloudformation.ts";
import { GetBootstrapBrokersCommand } from "../../lib/deps/aws_kafka.ts";
import { DescribeAvailabilityZonesCommand } from "../../lib/deps/aws_ec2.ts";
import {
  DeleteConnectorCommand,
  DeleteCustomPluginCommand,
  DeleteWorkerConfigurationCommand,
  DescribeConnectorCommand,
  KafkaConnectClient,
  ListConnectorsCommand,
  ListCustomPluginsCommand,
  ListTagsForResourceCommand,
  ListWorkerConfigurationsCommand,
} from "../../lib/deps/aws_kafkaconnect.ts";
import { PutObjectCommand } from "../../lib/deps/aws_s3.ts";
import { PutSecretValueCommand } from "../../lib/deps/aws_secrets_manager.ts";
import {
  DEFAULT_DEPLOY_POLL_MS,
  deploy,
  destroy,
  formatDeployResult,
} from "../../lib/aws/deploy.ts";
import { DEFAULT_CONFIG_PATH, loadConfig, saveConfig } from "../../lib/shell/config.ts";
import { S3_SINK_PLUGIN } from "../../lib/aws/connector_config.ts";
import { deployWaves, STACK_IDS } from "../../lib/aws/stacks.ts";
import { renderRestProxyProperties } from "../../lib/aws/rest_proxy_config.ts";
import type { StackId } from "../../lib/aws/stacks.ts";
import { UsageError } from "../../lib/shell/errors.ts";
import { parseOptions } from "../../tasks/deploy.ts";
import { withTempDir } from "../_fixtures.ts";

import {
  BROKERS,
  FakeCloud,
  GRAPH,
  OPTS,
  REGION,
  templates,
  ZIP,
  ZONES,
} from "../_deploy_fakes.ts";

/** Asserts that every stack's change set was made only after the stacks it needs were up. */
function assertAfterNeeds(timeline: string[], ids: readonly StackId[]) {
  for (const id of ids) {
    const planned = timeline.indexOf(`plan:${id}`);
    assert.ok(planned >= 0, `no change set for ${id}`);
    for (const need of GRAPH.get(id)!) {
      const done = timeline.indexOf(`done:${need}`);
      assert.ok(done >= 0 && done < planned, `${id} was planned before ${need} was up`);
    }
  }
}

Deno.test("deploy creates every stack through a change set once the stacks it needs are up, independent ones together", async () => {
  const cloud = new FakeCloud();
  const statuses: string[] = [];
  const deps = cloud.deps();
  deps.log = { line: (t) => deps.lines.push(t), status: (t) => statuses.push(t) };
  const result = await deploy(OPTS, deps);
  assert.deepEqual(
    cloud.changeSetCalls().map((c) => [c.StackName, c.ChangeSetType]).sort(),
    STACK_IDS.map((id) => [`pinpipe-${id}`, "CREATE"]).sort(),
  );
  assertAfterNeeds(cloud.timeline, STACK_IDS);
  // network and lake need nothing: lake's change set came before network was up; so did
  // mwaa's (it needs network only) before msk was up.
  const at = (e: string) => cloud.timeline.indexOf(e);
  assert.ok(at("plan:lake") < at("done:network"), cloud.timeline.join(" "));
  assert.ok(at("plan:mwaa") < at("done:msk"), cloud.timeline.join(" "));
  // The results come in wave order; every stack was created.
  assert.deepEqual(result.stacks.map((s) => s.id), deployWaves(GRAPH).flat());
  assert.deepEqual(result.stacks.map((s) => s.action), STACK_IDS.map(() => "created"));
  for (const c of cloud.changeSetCalls()) {
    // The lake-reader role has a fixed name (Unity Catalog trusts it by name).
    assert.deepEqual(c.Capabilities, ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]);
    assert.ok(JSON.parse(c.TemplateBody!).Resources, "the template goes as JSON");
  }
  assert.ok(
    deps.lines.some((l) => /^msk: CREATE_IN_PROGRESS AWS::MSK::Cluster Cluster/.test(l)),
    deps.lines.join("\n"),
  );
  // The status line shows every stack in flight at once.
  assert.ok(
    statuses.some((t) => /network: [A-Z_]+ .*· lake: |lake: [A-Z_]+ .*· network: /.test(t)),
    statuses.join("\n"),
  );
});

Deno.test("deploy wires outputs, bootstrap brokers, the plugin key and requirements into parameters", async () => {
  const cloud = new FakeCloud();
  await deploy(OPTS, cloud.deps());
  // The two lowest zone IDs MSK takes (use1-az1, use1-az2), not the first names.
  assert.deepEqual(cloud.paramsOf("network"), {
    Prefix: "pinpipe",
    SubnetBits: "12",
    AvailabilityZone1: "us-east-1d",
    AvailabilityZone2: "us-east-1c",
  });
  const { ClusterSuffix, ServerlessSuffix, ...msk } = cloud.paramsOf("msk");
  assert.deepEqual(msk, {
    Prefix: "pinpipe",
    SubnetIds: "PrivateSubnetIds-of-pinpipe-network",
    BrokerSecurityGroupId: "BrokerSecurityGroupId-of-pinpipe-network",
  });
  assert.match(`${ClusterSuffix} ${ServerlessSuffix}`, /^-[0-9a-f]{10} -[0-9a-f]{10}$/);
  assert.deepEqual(cloud.paramsOf("client"), {
    Prefix: "pinpipe",
    SubnetId: "PrivateSubnet1Id-of-pinpipe-network",
    SecurityGroupIds: "RestProxyHostSecurityGroupIds-of-pinpipe-network",
    ClusterArn: "ClusterArn-of-pinpipe-msk",
    BootstrapBrokers: BROKERS,
    // Serverless wants "default", provisioned its broker count: the msk stack says which.
    ReplicationFactor: "ReplicationFactor-of-pinpipe-msk",
    RestProxyProperties: renderRestProxyProperties({ bootstrap: BROKERS }).replace(/\n$/, ""),
  });
  const connect = cloud.paramsOf("connect");
  assert.equal(connect.PluginKey, `plugins/${S3_SINK_PLUGIN.file}`);
  assert.equal(connect.BucketName, "BucketName-of-pinpipe-lake");
  assert.equal(connect.BootstrapBrokers, BROKERS);
  assert.equal(connect.ReplicationFactor, "ConnectReplicationFactor-of-pinpipe-msk");
  assert.equal(cloud.paramsOf("api").InstanceId, "InstanceId-of-pinpipe-client");
  assert.equal(cloud.paramsOf("mwaa").Requirements, "apache-airflow-providers-databricks\n");
  // MSK was asked once, for the cluster the msk stack made.
  const asked = cloud.kafkaMock.commandCalls(GetBootstrapBrokersCommand).map((c) =>
    c.args[0].input.ClusterArn
  );
  assert.deepEqual(asked, ["ClusterArn-of-pinpipe-msk"]);
  // The plugin was uploaded to the lake bucket before the connect stack needed it.
  const put = cloud.s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
  assert.deepEqual(put.map((p) => [p.Bucket, p.Key]), [[
    "BucketName-of-pinpipe-lake",
    `plugins/${S3_SINK_PLUGIN.file}`,
  ]]);
  assert.deepEqual(put[0].Body, ZIP);
});

Deno.test("deploy skips the plugin upload when the zip is already in the bucket", async () => {
  const cloud = new FakeCloud();
  cloud.objects.set(`BucketName-of-pinpipe-lake/plugins/${S3_SINK_PLUGIN.file}`, ZIP);
  await deploy(OPTS, cloud.deps());
  assert.equal(cloud.s3Mock.commandCalls(PutObjectCommand).length, 0);
});

Deno.test("deploy refuses a plugin download that is not a zip", async () => {
  const cloud = new FakeCloud();
  const deps = cloud.deps({
    fetch: (() => Promise.resolve(new Response("<html>"))) as typeof fetch,
  });
  await assert.rejects(
    deploy(OPTS, deps),
    /Cannot use the connector plugin ".*": it is not a zip file/,
  );
  assert.equal(cloud.changeSetCalls().some((c) => c.StackName === "pinpipe-connect"), false);
});

Deno.test("existing stacks are updated, unchanged ones count as success and keep their outputs", async () => {
  const cloud = new FakeCloud();
  await deploy(OPTS, cloud.deps());
  // The first update pins the client's image (a parameter change, no resource change).
  await deploy(OPTS, cloud.deps());
  cloud.cfnMock.resetHistory();
  const deps = cloud.deps();
  const result = await deploy({ ...OPTS, params: { connect: { FlushSize: "1" } } }, deps);
  const actions = Object.fromEntries(result.stacks.map((s) => [s.id, s.action]));
  assert.deepEqual(actions, {
    network: "unchanged",
    lake: "unchanged",
    msk: "unchanged",
    client: "unchanged",
    connect: "updated",
    api: "unchanged",
    mwaa: "unchanged",
  });
  assert.ok(cloud.changeSetCalls().every((c) => c.ChangeSetType === "UPDATE"));
  assert.deepEqual(
    cloud.cfnMock.commandCalls(ExecuteChangeSetCommand).map((c) => c.args[0].input.StackName),
    ["pinpipe-connect"],
  );
  // Every "no changes" change set was cleaned up.
  assert.equal(cloud.cfnMock.commandCalls(DeleteChangeSetCommand).length, 6);
  assert.equal(cloud.paramsOf("connect").FlushSize, "1");
  assert.equal(result.config.bucket, "BucketName-of-pinpipe-lake");
  assert.ok(
    deps.lines.includes("connect:   ~ Connector AWS::KafkaConnect::Connector"),
    deps.lines.join("\n"),
  );
});

Deno.test("an update passes the client's image back, so a newer Amazon Linux does not replace the instance", async () => {
  const cloud = new FakeCloud();
  await deploy(OPTS, cloud.deps());
  // Created with the newest image (ImageId empty, resolved from SSM).
  assert.equal(cloud.paramsOf("client").ImageId, undefined);
  cloud.cfnMock.resetHistory();
  await deploy({ ...OPTS, only: ["client"] }, cloud.deps());
  assert.equal(cloud.paramsOf("client").ImageId, "ImageId-of-pinpipe-client");
  // Asked for, another image still wins.
  cloud.cfnMock.resetHistory();
  await deploy({
    ...OPTS,
    only: ["client"],
    params: { client: { ImageId: "ami-0123456789abcdef0" } },
  }, cloud.deps());
  assert.equal(cloud.paramsOf("client").ImageId, "ami-0123456789abcdef0");
});

Deno.test("an update keeps parameters set earlier with --param unless set again", async () => {
  const cloud = new FakeCloud();
  await deploy({ ...OPTS, params: { msk: { ClusterType: "serverless" } } }, cloud.deps());
  assert.equal(cloud.paramsOf("msk").ClusterType, "serverless");
  cloud.cfnMock.resetHistory();
  await deploy({ ...OPTS, only: ["msk"] }, cloud.deps());
  const msk = cloud.paramsOf("msk");
  assert.equal(msk.ClusterType, "(previous)");
  assert.equal(msk.SubnetIds, "PrivateSubnetIds-of-pinpipe-network");
  assert.equal(cloud.stacks.get("pinpipe-msk")!.params.ClusterType, "serverless");
});

Deno.test("a failed create names the resource that failed and why, and stops there", async () => {
  const cloud = new FakeCloud();
  cloud.failures.set("pinpipe-msk", {
    logicalId: "Cluster",
    type: "AWS::MSK::Cluster",
    reason: "The number of broker nodes must be a multiple of Availability Zones",
  });
  const err = await deploy(OPTS, cloud.deps()).then(() => undefined, (e: Error) => e);
  assert.ok(err instanceof Error);
  assert.equal(
    err.message,
    'Cannot create stack "pinpipe-msk": resource "Cluster" (AWS::MSK::Cluster) CREATE_FAILED: ' +
      "The number of broker nodes must be a multiple of Availability Zones; the stack is " +
      "ROLLBACK_COMPLETE (deploy again deletes it and retries)",
  );
  // Nothing that needs msk started; mwaa (it needs only network) was already on its way
  // and was left to finish.
  assert.deepEqual(
    cloud.changeSetCalls().map((c) => c.StackName).sort(),
    ["pinpipe-lake", "pinpipe-msk", "pinpipe-mwaa", "pinpipe-network"],
  );
  assert.equal(cloud.stacks.get("pinpipe-mwaa")?.status, "CREATE_COMPLETE");
});

Deno.test("a failed update reports the rollback", async () => {
  const cloud = new FakeCloud();
  await deploy(OPTS, cloud.deps());
  cloud.failures.set("pinpipe-api", {
    logicalId: "UsagePlan",
    type: "AWS::ApiGateway::UsagePlan",
    reason: "Invalid quota",
  });
  await assert.rejects(
    deploy({ ...OPTS, only: ["api"], params: { api: { DailyQuota: "5" } } }, cloud.deps()),
    new Error(
      'Cannot update stack "pinpipe-api": resource "UsagePlan" (AWS::ApiGateway::UsagePlan) UPDATE_FAILED: Invalid quota; the stack is UPDATE_ROLLBACK_COMPLETE',
    ),
  );
});

Deno.test("a stack left in ROLLBACK_COMPLETE is deleted, then created again", async () => {
  const cloud = new FakeCloud();
  cloud.existing("network", {}, "ROLLBACK_COMPLETE");
  const deps = cloud.deps();
  const result = await deploy({ ...OPTS, only: ["network"] }, deps);
  assert.deepEqual(
    cloud.cfnMock.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName),
    ["pinpipe-network"],
  );
  assert.equal(cloud.changeSetCalls()[0].ChangeSetType, "CREATE");
  assert.equal(result.stacks[0].action, "created");
  assert.ok(
    deps.lines.some((l) => /ROLLBACK_COMPLETE after a failed create; deleting it first/.test(l)),
  );
});

Deno.test("--only deploys one stack, reading the outputs it needs from the stacks already there", async () => {
  const cloud = new FakeCloud();
  for (const id of ["network", "lake", "msk"] as const) cloud.existing(id);
  const result = await deploy({ ...OPTS, only: ["client"] }, cloud.deps());
  assert.deepEqual(cloud.changeSetCalls().map((c) => c.StackName), ["pinpipe-client"]);
  assert.equal(cloud.paramsOf("client").SubnetId, "PrivateSubnet1Id-of-pinpipe-network");
  assert.equal(cloud.paramsOf("client").BootstrapBrokers, BROKERS);
  assert.equal(result.config.restProxyInstanceId, "InstanceId-of-pinpipe-client");
});

Deno.test("--only refuses a stack whose inputs do not exist yet", async () => {
  const cloud = new FakeCloud();
  await assert.rejects(
    deploy({ ...OPTS, only: ["api"] }, cloud.deps()),
    /Cannot deploy stack "pinpipe-api": it needs outputs of "pinpipe-network", "pinpipe-client", which do not exist yet: deploy network, client first/,
  );
  assert.equal(cloud.changeSetCalls().length, 0);
});

Deno.test("a dry run shows change sets and deletes them without executing anything", async () => {
  const cloud = new FakeCloud();
  cloud.existing("network");
  const result = await deploy({ ...OPTS, dryRun: true }, cloud.deps());
  assert.equal(cloud.cfnMock.commandCalls(ExecuteChangeSetCommand).length, 0);
  assert.equal(cloud.s3Mock.commandCalls(PutObjectCommand).length, 0);
  const byId = Object.fromEntries(result.stacks.map((s) => [s.id, s]));
  assert.equal(byId.network.action, "would-update");
  assert.equal(byId.lake.action, "would-create");
  assert.ok(byId.lake.changes.some((c) => c.logicalId === "LakeBucket" && c.action === "Add"));
  // msk can be planned (network exists); client needs msk to exist first.
  assert.equal(byId.msk.action, "would-create");
  assert.equal(byId.client.action, "would-create");
  assert.match(byId.client.note ?? "", /needs msk/);
  assert.ok(byId.client.changes.some((c) => c.logicalId === "Instance"));
  // Change sets made were deleted, and so were the empty stacks CREATE change sets leave.
  const made = cloud.changeSetCalls().map((c) => c.StackName).sort();
  // mwaa needs the lake's bucket, which does not exist yet: no change set for it either.
  assert.deepEqual(made, ["pinpipe-lake", "pinpipe-msk", "pinpipe-network"]);
  assert.match(byId.mwaa.note ?? "", /needs lake/);
  assert.equal(cloud.cfnMock.commandCalls(DeleteChangeSetCommand).length, 3);
  assert.deepEqual(
    cloud.cfnMock.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName).sort(),
    ["pinpipe-lake", "pinpipe-msk"],
  );
});

Deno.test("the network's zones are the lowest zone IDs MSK takes, kept on updates, and a network made with !GetAZs keeps its zones", async () => {
  const cloud = new FakeCloud();
  const deps = cloud.deps();
  await deploy({ ...OPTS, only: ["network"] }, deps);
  assert.ok(
    deps.lines.includes("network: Availability Zones us-east-1d (use1-az1), us-east-1c (use1-az2)"),
    deps.lines.join("\n"),
  );
  // An update passes the zones back unchanged: a subnet cannot move to another zone.
  cloud.cfnMock.resetHistory();
  await deploy(
    { ...OPTS, only: ["network"], params: { network: { VpcCidr: "10.9.0.0/16" } } },
    deps,
  );
  assert.equal(cloud.paramsOf("network").AvailabilityZone1, "us-east-1d");
  assert.equal(cloud.paramsOf("network").AvailabilityZone2, "us-east-1c");
  assert.equal(cloud.ec2Mock.commandCalls(DescribeAvailabilityZonesCommand).length, 1);
  // A network stack from before zones were parameters keeps what !GetAZs gave it.
  const old = new FakeCloud();
  old.existing("network", { Prefix: "pinpipe", SubnetBits: "12", VpcCidr: "10.20.0.0/16" });
  await deploy({ ...OPTS, only: ["network"] }, old.deps());
  assert.equal(old.paramsOf("network").AvailabilityZone1, "us-east-1a");
  assert.equal(old.paramsOf("network").AvailabilityZone2, "us-east-1b");
});

Deno.test("a second deploy with another plugin renames the plugin and the connector, and nothing else", async () => {
  const cloud = new FakeCloud();
  await deploy(OPTS, cloud.deps());
  const first = cloud.paramsOf("connect");
  assert.match(String(first.PluginSuffix), /^-[0-9a-f]{10}$/);
  cloud.cfnMock.resetHistory();
  await deploy(
    { ...OPTS, only: ["connect"], pluginUrl: "https://example.com/kafka-connect-s3-10.5.0.zip" },
    cloud.deps(),
  );
  const second = cloud.paramsOf("connect");
  assert.equal(second.PluginKey, "plugins/kafka-connect-s3-10.5.0.zip");
  assert.notEqual(second.PluginSuffix, first.PluginSuffix);
  // The connector's plugin cannot change in place, so it is replaced under a new name.
  assert.notEqual(second.ConnectorSuffix, first.ConnectorSuffix);
  assert.equal(second.WorkerSuffix, first.WorkerSuffix);
  // The same inputs give the same names: a re-run renames nothing.
  cloud.cfnMock.resetHistory();
  await deploy(
    { ...OPTS, only: ["connect"], pluginUrl: "https://example.com/kafka-connect-s3-10.5.0.zip" },
    cloud.deps(),
  );
  assert.deepEqual(cloud.paramsOf("connect"), second);
  // A stack made before names had hashes keeps its names while their inputs are as they were.
  const old = new FakeCloud();
  await deploy(OPTS, old.deps());
  const stack = old.stacks.get("pinpipe-msk")!;
  delete stack.params.ClusterSuffix;
  delete stack.params.ServerlessSuffix;
  old.cfnMock.resetHistory();
  await deploy({ ...OPTS, only: ["msk"] }, old.deps());
  assert.equal(old.paramsOf("msk").ClusterSuffix, "");
});

Deno.test("fewer than two zones MSK takes is an error naming the region", async () => {
  const cloud = new FakeCloud();
  cloud.ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: ZONES.filter((z) => z.ZoneId !== "use1-az1"),
  });
  const deps = cloud.deps();
  await deploy({ ...OPTS, only: ["network"] }, deps);
  assert.equal(cloud.paramsOf("network").AvailabilityZone1, "us-east-1c");
  assert.equal(cloud.paramsOf("network").AvailabilityZone2, "us-east-1b");
  const poor = new FakeCloud();
  poor.ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: ZONES.filter((z) => ["use1-az3", "use1-az2"].includes(z.ZoneId)),
  });
  await assert.rejects(
    deploy({ ...OPTS, only: ["network"] }, poor.deps()),
    /Cannot choose two Availability Zones in "us-east-1": 1 usable of 2 \(MSK refuses use1-az3\)/,
  );
});

Deno.test("the plan refuses a region lacking a resource type a stack needs, naming both", async () => {
  const cloud = new FakeCloud();
  await assert.rejects(
    deploy(
      { ...OPTS, region: "us-west-1", params: { msk: { ClusterType: "serverless" } } },
      cloud.deps(),
    ),
    (err: Error) =>
      err instanceof UsageError &&
      err.message ===
        'Cannot deploy to "us-west-1": us-west-1 has no AWS::MSK::ServerlessCluster (stack msk)',
  );
  // A provisioned cluster is fine there; the plan gets as far as the change sets.
  await deploy({ ...OPTS, region: "us-west-1", dryRun: true, only: ["network"] }, cloud.deps());
  await assert.rejects(
    deploy({ ...OPTS, region: "mx-central-1", dryRun: true }, cloud.deps()),
    /Cannot deploy to "mx-central-1": mx-central-1 has no AWS::MWAA::Environment \(stack mwaa\)/,
  );
  // Without the mwaa stack, the rest may go there.
  await assert.rejects(
    deploy({ ...OPTS, region: "us-gov-west-1", dryRun: true, only: ["lake"] }, cloud.deps()),
    /Cannot deploy to "us-gov-west-1": deploy offers af-south-1, /,
  );
  assert.equal(cloud.cfnMock.commandCalls(ExecuteChangeSetCommand).length, 0);
});

Deno.test("deploy returns the outputs the other tasks read, and they save to the config file", async () => {
  const cloud = new FakeCloud();
  const result = await deploy(OPTS, cloud.deps());
  assert.deepEqual(result.config, {
    region: REGION,
    prefix: "pinpipe",
    bucket: "BucketName-of-pinpipe-lake",
    lakeReaderRoleArn: "LakeReaderRoleArn-of-pinpipe-lake",
    clusterArn: "ClusterArn-of-pinpipe-msk",
    connectReplicationFactor: "ConnectReplicationFactor-of-pinpipe-msk",
    restProxyInstanceId: "InstanceId-of-pinpipe-client",
    restProxyUrl: "RestProxyUrl-of-pinpipe-client",
    connectorName: "ConnectorName-of-pinpipe-connect",
    connectorArn: "ConnectorArn-of-pinpipe-connect",
    connectorRoleArn: "ExecutionRoleArn-of-pinpipe-connect",
    connectorLogGroup: "LogGroupName-of-pinpipe-connect",
    apiInvokeUrl: "InvokeUrl-of-pinpipe-api",
    apiKeyId: "ApiKeyId-of-pinpipe-api",
    mwaaEnvironment: "EnvironmentName-of-pinpipe-mwaa",
    mwaaWebserverUrl: "WebserverUrl-of-pinpipe-mwaa",
    dagBucket: "DagBucketName-of-pinpipe-mwaa",
    databricksSecretArn: "DatabricksConnectionSecretArn-of-pinpipe-mwaa",
    connectorSubnets: "PrivateSubnetIds-of-pinpipe-network",
    connectorSecurityGroups: "KafkaClientSecurityGroupId-of-pinpipe-network",
    bootstrapBrokers: BROKERS,
  });
  await withTempDir(async (dir) => {
    const path = join(dir, ".pinpipe", "aws.json");
    await saveConfig({ unrelated: "kept" }, path);
    await saveConfig(result.config, path);
    const saved = await loadConfig({}, path);
    assert.equal(saved.apiInvokeUrl, "InvokeUrl-of-pinpipe-api");
    assert.equal(saved.bootstrapBrokers, BROKERS);
    assert.equal(saved.unrelated, "kept");
  });
});

Deno.test("the Databricks token goes to Secrets Manager and nowhere else", async () => {
  const cloud = new FakeCloud();
  const token = "dapi0123456789abcdef";
  const deps = cloud.deps();
  await deploy({ ...OPTS, databricks: { host: "dbc-1234.cloud.databricks.com", token } }, deps);
  const puts = cloud.secretsMock.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input);
  assert.equal(puts.length, 1);
  assert.equal(puts[0].SecretId, "DatabricksConnectionSecretArn-of-pinpipe-mwaa");
  assert.deepEqual(JSON.parse(puts[0].SecretString!), {
    conn_type: "databricks",
    host: "https://dbc-1234.cloud.databricks.com",
    password: token,
  });
  const everywhereElse = JSON.stringify([cloud.changeSetCalls(), deps.lines]);
  assert.equal(everywhereElse.includes(token), false);
});

Deno.test("without Databricks settings deploy says how to add them", async () => {
  const cloud = new FakeCloud();
  const deps = cloud.deps();
  await deploy(OPTS, deps);
  assert.equal(cloud.secretsMock.commandCalls(PutSecretValueCommand).length, 0);
  assert.ok(deps.lines.some((l) => /DATABRICKS_HOST and DATABRICKS_TOKEN are not set/.test(l)));
});

Deno.test("a --param naming no parameter of its stack is a usage error before anything runs", async () => {
  const cloud = new FakeCloud();
  await assert.rejects(
    deploy({ ...OPTS, params: { msk: { Brokers: "3" } } }, cloud.deps()),
    (err: Error) =>
      err instanceof UsageError && /stack "msk" has no parameter "Brokers"/.test(err.message),
  );
  assert.equal(cloud.cfnMock.calls().length, 0);
});

Deno.test("deploy waits for a stack that is still in progress before changing it", async () => {
  const cloud = new FakeCloud();
  const s = cloud.existing("network", { Prefix: "pinpipe" }, "UPDATE_IN_PROGRESS");
  s.pending = { final: "UPDATE_COMPLETE", polls: 2 };
  const deps = cloud.deps();
  await deploy({ ...OPTS, only: ["network"] }, deps);
  assert.ok(deps.lines.some((l) => /pinpipe-network is UPDATE_IN_PROGRESS; waiting/.test(l)));
  assert.equal(cloud.changeSetCalls()[0].ChangeSetType, "UPDATE");
});

Deno.test("Ctrl-C while following a stack says CloudFormation carries on", async () => {
  const cloud = new FakeCloud();
  const ac = new AbortController();
  const deps = cloud.deps({
    pollMs: 5,
    signal: ac.signal,
    log: {
      line: (t) => {
        if (/CREATE_IN_PROGRESS AWS::CloudFormation::Stack/.test(t)) {
          ac.abort(new Error("interrupted"));
        }
      },
    },
  });
  await assert.rejects(
    deploy({ ...OPTS, only: ["network"] }, deps),
    /Stopped following stack "pinpipe-network" \(CREATE_IN_PROGRESS\): CloudFormation carries on without us; run deploy again to follow it/,
  );
});

Deno.test("destroy empties the buckets and deletes each stack once the stacks needing it are gone", async () => {
  const cloud = new FakeCloud();
  await deploy(OPTS, cloud.deps());
  cloud.objects.set(
    "BucketName-of-pinpipe-lake/topics/pinpipe.pin/partition=0/x.json",
    new Uint8Array(1),
  );
  cloud.objects.set("DagBucketName-of-pinpipe-mwaa/dags/pinpipe_dag.py", new Uint8Array(1));
  cloud.cfnMock.resetHistory();
  const questions: string[] = [];
  const result = await destroy(
    OPTS,
    cloud.deps({ confirm: (q) => (questions.push(q), Promise.resolve(true)) }),
  );
  assert.deepEqual(
    cloud.cfnMock.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName).sort(),
    STACK_IDS.map((id) => `pinpipe-${id}`).sort(),
  );
  // A stack went only once every stack needing it was gone; api, connect and mwaa need
  // nobody's, so they went together.
  const at = (e: string) => cloud.timeline.indexOf(e);
  for (const [id, needs] of GRAPH) {
    for (const need of needs) {
      assert.ok(at(`deleted:${id}`) < at(`deleted:${need}`), `${need} went before ${id}`);
    }
  }
  const deletes = cloud.cfnMock.commandCalls(DeleteStackCommand).map((c) =>
    c.args[0].input.StackName
  );
  assert.deepEqual(deletes.slice(0, 3).sort(), ["pinpipe-api", "pinpipe-connect", "pinpipe-mwaa"]);
  assert.equal(questions.length, 1);
  assert.match(
    questions[0],
    /^Delete 7 stacks in us-east-1 \(pinpipe-api, .*pinpipe-network\), first deleting every object in s3:\/\/DagBucketName-of-pinpipe-mwaa, s3:\/\/BucketName-of-pinpipe-lake\?$/,
  );
  assert.equal(cloud.objects.size, 0, "buckets emptied before their stacks were deleted");
  assert.equal(cloud.stacks.size, 0);
  assert.ok(result.stacks.every((s) => s.action === "deleted"));
  assert.equal("apiInvokeUrl" in result.config && result.config.apiInvokeUrl, undefined);
  assert.ok("bootstrapBrokers" in result.config);
});

Deno.test("destroy removes what deno task connector made for the prefix before any stack, and nothing a stack owns", async () => {
  const cloud = new FakeCloud();
  await deploy({ ...OPTS, only: ["network", "lake", "msk", "connect"] }, cloud.deps());
  const kc = mockClient(new KafkaConnectClient({ region: REGION }));
  const mine = { "pinpipe:created-by": "connector", "pinpipe:prefix": "pinpipe" };
  const tags: Record<string, Record<string, string>> = {
    "arn:c-task": mine,
    "arn:c-stack": { "pinpipe:stack": "pinpipe-connect" },
    "arn:c-other-prefix": { "pinpipe:created-by": "connector", "pinpipe:prefix": "pinpipe2" },
    "arn:p-task": mine,
    "arn:w-task": mine,
  };
  kc.on(ListTagsForResourceCommand).callsFake((i) => ({ tags: tags[i.resourceArn] ?? {} }));
  kc.on(ListConnectorsCommand).resolves({
    connectors: [
      { connectorName: "pinpipe-s3-sink", connectorArn: "arn:c-task" },
      { connectorName: "pinpipe-s3-sink-0123456789", connectorArn: "arn:c-stack" },
      { connectorName: "pinpipe2-s3-sink", connectorArn: "arn:c-other-prefix" },
    ],
  });
  kc.on(DeleteConnectorCommand).resolves({});
  kc.on(DescribeConnectorCommand)
    .resolvesOnce({ connectorState: "DELETING" })
    .rejects(Object.assign(new Error("gone"), { name: "NotFoundException" }));
  kc.on(ListCustomPluginsCommand).resolves({
    customPlugins: [{ name: "pinpipe-connector-s3-sink-10.0.3-ab", customPluginArn: "arn:p-task" }],
  });
  kc.on(DeleteCustomPluginCommand).resolves({});
  kc.on(ListWorkerConfigurationsCommand).resolves({
    workerConfigurations: [{
      name: "pinpipe-connector-s3-sink-worker-cd",
      workerConfigurationArn: "arn:w-task",
    }],
  });
  kc.on(DeleteWorkerConfigurationCommand).resolves({});
  const deps = cloud.deps();
  deps.clients.kafkaconnect = kc as unknown as KafkaConnectClient;
  cloud.timeline.length = 0;
  await destroy({ ...OPTS, yes: true }, deps);
  assert.deepEqual(kc.commandCalls(DeleteConnectorCommand).map((c) => c.args[0].input), [
    { connectorArn: "arn:c-task" },
  ]);
  assert.deepEqual(
    kc.commandCalls(ListCustomPluginsCommand)[0].args[0].input.namePrefix,
    "pinpipe-connector-",
  );
  assert.equal(kc.commandCalls(DeleteCustomPluginCommand).length, 1);
  assert.equal(kc.commandCalls(DeleteWorkerConfigurationCommand).length, 1);
  assert.ok(
    deps.lines.includes("connect: deleted connector pinpipe-s3-sink (made by deno task connector)"),
    deps.lines.join("\n"),
  );
  // The connector was gone before any stack, the network's subnets included.
  const firstStack = deps.lines.findIndex((l) => / deleted in /.test(l));
  const connector = deps.lines.indexOf(
    "connect: deleted worker configuration pinpipe-connector-s3-sink-worker-cd (made by deno task connector)",
  );
  assert.ok(connector >= 0 && connector < firstStack, deps.lines.join("\n"));
});

Deno.test("destroy asks first, and a no deletes nothing", async () => {
  const cloud = new FakeCloud();
  cloud.existing("network");
  const result = await destroy(OPTS, cloud.deps({ confirm: () => Promise.resolve(false) }));
  assert.equal(result.confirmed, false);
  assert.equal(cloud.cfnMock.commandCalls(DeleteStackCommand).length, 0);
});

Deno.test("destroy with nobody to ask and no --yes refuses", async () => {
  const cloud = new FakeCloud();
  cloud.existing("lake");
  await assert.rejects(
    destroy(OPTS, cloud.deps()),
    (err: Error) =>
      err instanceof UsageError && /without confirmation: pass --yes/.test(err.message),
  );
  const yes = await destroy({ ...OPTS, yes: true }, cloud.deps());
  assert.deepEqual(yes.stacks.filter((s) => s.action === "deleted").map((s) => s.id), ["lake"]);
});

Deno.test("the deploy task reads flags over environment over config and reports all problems at once", () => {
  const env = { AWS_REGION: "eu-west-1", PINPIPE_PREFIX: "demo" };
  const config = { region: "us-east-2", prefix: "old" };
  const o = parseOptions(
    ["--only", "msk,client", "--param", "msk.ClusterType=serverless"],
    env,
    config,
  );
  assert.equal(o.region, "eu-west-1");
  assert.equal(o.prefix, "demo");
  assert.deepEqual(o.only, ["msk", "client"]);
  assert.deepEqual(o.params, { msk: { ClusterType: "serverless" } });
  assert.equal(parseOptions(["--region", "ap-south-1"], env, config).region, "ap-south-1");
  assert.equal(parseOptions([], {}, config).region, "us-east-2");
  assert.throws(
    () =>
      parseOptions(
        ["--prefix", "Bad_Name", "--only", "dns", "--yes"],
        { DATABRICKS_HOST: "h", AWS_REGION: "us-east1" },
        {},
      ),
    (err: Error) =>
      err instanceof UsageError && /^5 problems/.test(err.message) &&
      /Invalid AWS_REGION "us-east1": expected a region such as us-east-1/.test(err.message) &&
      /Invalid --prefix "Bad_Name"/.test(err.message) && /Invalid --only "dns"/.test(err.message) &&
      /DATABRICKS_HOST and DATABRICKS_TOKEN go together/.test(err.message) &&
      /--yes only goes with --destroy/.test(err.message),
  );
});

Deno.test("the deploy task prints the plan's changes and the saved outputs", async () => {
  const cloud = new FakeCloud();
  cloud.existing("network");
  const plan = await deploy(
    { ...OPTS, dryRun: true, only: ["network", "lake", "client"] },
    cloud.deps(),
  );
  const text = formatDeployResult(plan, ".pinpipe/aws.json", false);
  assert.match(text, /^plan for "pinpipe" in us-east-1:$/m);
  assert.match(
    text,
    /^ {2}order: network \+ lake, then client \(a first deploy takes about \d+ min\)$/m,
  );
  assert.match(text, /^ {2}pinpipe-lake {5}would-create \(3 resources, template [\d,]+ bytes\)$/m);
  assert.match(text, /^ {6}\+ LakeBucket AWS::S3::Bucket$/m);
  assert.match(
    text,
    /^ {6}note: the change set needs msk to exist first; these are the template's resources$/m,
  );
  assert.doesNotMatch(text, /saved to|not checked offline/);
  const done = await deploy({ ...OPTS, only: ["network"] }, cloud.deps());
  const saved = formatDeployResult(done, ".pinpipe/aws.json", true);
  assert.match(saved, /^saved to \.pinpipe\/aws\.json:$/m);
  assert.match(saved, /^ {2}connectorSubnets = PrivateSubnetIds-of-pinpipe-network$/m);
});

Deno.test("a dry run without AWS credentials plans offline: order, parameters, sizes, and what it could not check", async () => {
  const cloud = new FakeCloud();
  const deps = cloud.deps({ hasCredentials: () => Promise.resolve(false) });
  const result = await deploy(
    { ...OPTS, prefix: "my-pipe", dryRun: true, params: { network: { VpcCidr: "10.8.16.0/20" } } },
    deps,
  );
  // Not one call to AWS.
  for (const mock of [cloud.cfnMock, cloud.kafkaMock, cloud.s3Mock, cloud.secretsMock]) {
    assert.equal(mock.calls().length, 0);
  }
  const plan = result.plan!;
  assert.deepEqual(plan.waves, deployWaves(GRAPH));
  assert.equal(plan.estimateMinutes, 36);
  assert.ok(result.stacks.every((s) => s.action === "planned"));
  const params = (id: StackId) =>
    Object.fromEntries(plan.stacks.find((s) => s.id === id)!.params.map((p) => [p.name, p]));
  assert.deepEqual(params("network").SubnetBits, { name: "SubnetBits", value: "10" });
  assert.deepEqual(params("network").VpcCidr, { name: "VpcCidr", value: "10.8.16.0/20" });
  assert.deepEqual(params("msk").Prefix, { name: "Prefix", value: "my-pipe" });
  assert.deepEqual(params("client").BootstrapBrokers, {
    name: "BootstrapBrokers",
    from: "GetBootstrapBrokers of the msk stack's cluster",
  });
  assert.deepEqual(params("client").SubnetId, {
    name: "SubnetId",
    from: "output PrivateSubnet1Id of network",
  });
  assert.match(params("mwaa").Requirements.from!, /^dags\/requirements\.txt \(\d+ bytes\)$/);
  assert.deepEqual(plan.stacks.find((s) => s.id === "api")!.needs.sort(), ["client", "network"]);
  for (const s of plan.stacks) assert.ok(s.templateBytes > 1000 && s.templateBytes < 51_200);
  const text = formatDeployResult(result, ".pinpipe/aws.json", false);
  assert.match(text, /^plan for "my-pipe" in us-east-1 \(offline: no AWS credentials\):$/m);
  assert.match(
    text,
    /^ {2}order: network \+ lake, then msk \+ mwaa, then client \+ connect, then api/m,
  );
  assert.match(
    text,
    /^ {2}my-pipe-client {3}planned \(\d+ resources, template [\d,]+ bytes, after /m,
  );
  assert.match(text, /^ {6}BootstrapBrokers <- GetBootstrapBrokers of the msk stack's cluster$/m);
  assert.match(text, /^ {6}SubnetBits = 10$/m);
  assert.match(text, /^not checked offline:\n {2}- whether each stack exists/m);
  assert.match(text, /cfn-lint/);
});

Deno.test("the template size limit is counted in UTF-8 bytes, not characters", async () => {
  const cloud = new FakeCloud();
  const lake = structuredClone(templates.get("lake")!);
  // 26,000 characters of two bytes each: under 51,200 characters, over 51,200 bytes.
  lake.Description = "é".repeat(26_000);
  const deps = cloud.deps({
    loadTemplate: (id) => Promise.resolve(id === "lake" ? lake : templates.get(id)!),
  });
  await assert.rejects(
    deploy({ ...OPTS, only: ["lake"] }, deps),
    /Cannot deploy stack "pinpipe-lake": its template is 5\d,\d{3}|its template is 5\d{4} bytes \(limit 51200\)/,
  );
  assert.equal(cloud.changeSetCalls().length, 0);
});

Deno.test("a /20 VPC gets subnets that fit it, and a VPC range the network cannot split is refused up front", async () => {
  const cloud = new FakeCloud();
  await deploy(
    { ...OPTS, only: ["network"], params: { network: { VpcCidr: "10.8.16.0/20" } } },
    cloud.deps(),
  );
  assert.equal(cloud.paramsOf("network").SubnetBits, "10");
  // An update keeps the VPC range and so the subnet size.
  cloud.cfnMock.resetHistory();
  await deploy({ ...OPTS, only: ["network"] }, cloud.deps());
  assert.deepEqual(
    [cloud.paramsOf("network").VpcCidr, cloud.paramsOf("network").SubnetBits],
    ["(previous)", "10"],
  );
  await assert.rejects(
    deploy({ ...OPTS, params: { network: { VpcCidr: "10.8.0.0/22" } } }, cloud.deps()),
    (err: Error) =>
      err instanceof UsageError &&
      /Invalid --param "network.VpcCidr": Invalid VPC range "10.8.0.0\/22"/.test(err.message),
  );
});

Deno.test("the deploy task reads each flag's variable, and the library's defaults", () => {
  const d = parseOptions([], {});
  assert.deepEqual(
    [d.region, d.prefix, d.only, d.pollMs, d.configPath, d.pluginUrl, d.dryRun, d.json],
    [
      "us-east-1",
      "pinpipe",
      [],
      DEFAULT_DEPLOY_POLL_MS,
      DEFAULT_CONFIG_PATH,
      S3_SINK_PLUGIN.url,
      false,
      false,
    ],
  );
  const e = parseOptions([], {
    AWS_DEFAULT_REGION: "ap-southeast-2",
    PINPIPE_DEPLOY_ONLY: "lake, msk",
    PINPIPE_DEPLOY_POLL: "30s",
    PINPIPE_CONFIG: "/tmp/other.json",
    PINPIPE_PLUGIN_URL: "/tmp/plugin.zip",
    PINPIPE_DRY_RUN: "1",
    PINPIPE_JSON: "1",
  });
  assert.deepEqual(
    [e.region, e.only, e.pollMs, e.configPath, e.pluginUrl, e.dryRun, e.json],
    ["ap-southeast-2", ["lake", "msk"], 30_000, "/tmp/other.json", "/tmp/plugin.zip", true, true],
  );
  assert.deepEqual(parseOptions(["--only", "lake", "--only", "msk,mwaa"], {}).only, [
    "lake",
    "msk",
    "mwaa",
  ]);
});

Deno.test("the deploy task refuses a poll interval without a unit and the plugin's old variable, all together", () => {
  assert.throws(
    () =>
      parseOptions(["--poll", "10", "--param", "lake", "--destory"], {
        PINPIPE_CONNECT_PLUGIN: "/tmp/p.zip",
        PINPIPE_DEPLOY_ONLY: "lake,dns",
      }),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^5 problems/);
      assert.match(err.message, /Unknown flag --destory: did you mean --destroy\?/);
      assert.match(err.message, /PINPIPE_CONNECT_PLUGIN is no longer read: use PINPIPE_PLUGIN_URL/);
      assert.match(err.message, /Invalid --poll "10": expected a duration with its unit/);
      assert.match(err.message, /Invalid PINPIPE_DEPLOY_ONLY "dns": expected one of network/);
      assert.match(err.message, /Invalid --param "lake": expected STACK.NAME=VALUE/);
      return true;
    },
  );
});
