/**
 * `rest-proxy config`: kafka-rest.properties against golden files, the SSM install script
 * run for real in a shell (with systemctl and curl stood in), SendCommand and
 * GetCommandInvocation against moto's SSM, and what moto cannot show (an invocation that
 * is not there yet, then in progress; MSK's GetBootstrapBrokers) against
 * aws-sdk-client-mock, asserting the exact commands.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mockClient } from "../deps/aws_sdk_mock.ts";
import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from "../../lib/deps/aws_ssm.ts";
import { GetBootstrapBrokersCommand, KafkaClient } from "../../lib/deps/aws_kafka.ts";
import {
  installCommands,
  installRestProxyProperties,
  renderRestProxyProperties,
} from "../../lib/aws/rest_proxy_config.ts";
import { parseOptions } from "../../tasks/rest_proxy.ts";
import { runConfig } from "../../lib/aws/rest_proxy_config.ts";
import { ROOT } from "../_fixtures.ts";

const BROKERS = "b-1.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098," +
  "b-2.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098";
const golden = (name: string) => Deno.readTextFile(join(ROOT, "tests/testdata/rest_proxy", name));

Deno.test("kafka-rest.properties for MSK IAM matches the golden file", async () => {
  assert.equal(
    renderRestProxyProperties({ bootstrap: BROKERS }),
    await golden("kafka-rest.properties"),
  );
});

Deno.test("kafka-rest.properties with an assumed role, port and max block matches its golden file", async () => {
  assert.equal(
    renderRestProxyProperties({
      bootstrap: BROKERS,
      port: 8090,
      maxBlockMs: 5000,
      roleArn: "arn:aws:iam::123456789012:role/pinpipe-rest-proxy",
    }),
    await golden("kafka-rest-assume-role.properties"),
  );
});

Deno.test("kafka-rest.properties carries the IAM client settings the REST proxy needs", () => {
  const props = Object.fromEntries(
    renderRestProxyProperties({ bootstrap: BROKERS }).split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  assert.equal(props["bootstrap.servers"], BROKERS);
  assert.equal(props["client.security.protocol"], "SASL_SSL");
  assert.equal(props["client.sasl.mechanism"], "AWS_MSK_IAM");
  assert.equal(
    props["client.sasl.client.callback.handler.class"],
    "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
  );
  assert.ok(Number(props["producer.max.block.ms"]) < 29000, "below API Gateway's timeout");
  // t3.small brokers accept 4 new IAM connections a second.
  assert.equal(props["client.reconnect.backoff.ms"], "1000");
});

Deno.test("config --deploy asks MSK for the brokers, sends one RunShellScript command and waits while the invocation is missing, then in progress", async () => {
  const ssm = mockClient(new SSMClient({ region: "us-east-1" }));
  const kafka = mockClient(new KafkaClient({ region: "us-east-1" }));
  kafka.on(GetBootstrapBrokersCommand).resolves({ BootstrapBrokerStringSaslIam: BROKERS });
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: "cmd-123" } });
  ssm.on(GetCommandInvocationCommand)
    .rejectsOnce(Object.assign(new Error("not yet"), { name: "InvocationDoesNotExist" }))
    .resolvesOnce({ Status: "InProgress" })
    .resolves({
      Status: "Success",
      ResponseCode: 0,
      StandardOutputContent: "active\npinpipe: installed x and restarted kafka-rest\n",
    });
  const parsed = parseOptions(["config", "--deploy"], { AWS_REGION: "us-east-1" }, {
    clusterArn: "arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe/uuid",
    restProxyInstanceId: "i-0abc",
  });
  assert.equal(parsed.command, "config");
  if (parsed.command !== "config") return;
  const r = await runConfig(parsed.config, {
    kafka: kafka as unknown as KafkaClient,
    ssm: ssm as unknown as SSMClient,
    pollMs: 1,
  });
  assert.equal(r.deployed, true);
  assert.deepEqual(kafka.commandCalls(GetBootstrapBrokersCommand)[0].args[0].input, {
    ClusterArn: "arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe/uuid",
  });
  const sent = ssm.commandCalls(SendCommandCommand);
  assert.equal(sent.length, 1);
  const expectedPath = "/opt/pinpipe/kafka-rest.properties";
  assert.deepEqual(sent[0].args[0].input, {
    DocumentName: "AWS-RunShellScript",
    InstanceIds: ["i-0abc"],
    Comment: "pinpipe: install kafka-rest.properties and restart the REST proxy",
    TimeoutSeconds: 300,
    Parameters: {
      commands: installCommands(await golden("kafka-rest.properties"), {
        instanceId: "i-0abc",
        path: expectedPath,
        service: "kafka-rest",
        port: 8082,
      }),
    },
  });
  assert.equal(r.properties, renderRestProxyProperties({ bootstrap: BROKERS }));
  const polls = ssm.commandCalls(GetCommandInvocationCommand);
  assert.equal(polls.length, 3);
  for (const p of polls) {
    assert.deepEqual(p.args[0].input, { CommandId: "cmd-123", InstanceId: "i-0abc" });
  }
});

Deno.test("a failed SSM command fails the deploy with the instance's stderr", async () => {
  const ssm = mockClient(new SSMClient({ region: "us-east-1" }));
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: "cmd-9" } });
  ssm.on(GetCommandInvocationCommand).resolves({
    Status: "Failed",
    ResponseCode: 5,
    StandardErrorContent: "Job for kafka-rest.service failed.\n",
  });
  await assert.rejects(
    installRestProxyProperties(ssm as unknown as SSMClient, "x=1\n", {
      instanceId: "i-0abc",
      path: "/etc/kafka-rest.properties",
      service: "kafka-rest",
    }, { pollMs: 1 }),
    /^Error: Cannot install kafka-rest.properties on "i-0abc": SSM command cmd-9 ended Failed \(exit 5\): Job for kafka-rest.service failed.$/,
  );
});

Deno.test("config --dry-run --deploy calls no AWS API that changes anything", async () => {
  const ssm = mockClient(new SSMClient({ region: "us-east-1" }));
  const parsed = parseOptions([
    "config",
    "--deploy",
    "--dry-run",
    `--bootstrap=${BROKERS}`,
    "--instance-id=i-0abc",
  ], { AWS_REGION: "us-east-1" });
  if (parsed.command !== "config") throw new Error("expected config");
  const r = await runConfig(parsed.config, { ssm: ssm as unknown as SSMClient });
  assert.equal(r.deployed, false);
  assert.equal(ssm.calls().length, 0);
  assert.ok("sendCommand" in r && r.sendCommand?.InstanceIds[0] === "i-0abc");
});
