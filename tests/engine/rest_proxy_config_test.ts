/**
 * `rest-proxy config`: kafka-rest.properties against golden files, the SSM install script
 * run for real in a shell (with systemctl and curl stood in), SendCommand and
 * GetCommandInvocation against moto's SSM, and what moto cannot show (an invocation that
 * is not there yet, then in progress; MSK's GetBootstrapBrokers) against
 * aws-sdk-client-mock, asserting the exact commands.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ListCommandsCommand, SSMClient } from "../../lib/deps/aws_ssm.ts";
import { installCommands } from "../../lib/aws/rest_proxy_config.ts";
import { parseOptions } from "../../tasks/rest_proxy.ts";
import { runConfig } from "../../lib/aws/rest_proxy_config.ts";
import { envTest, ROOT } from "../_fixtures.ts";
import { withMoto } from "../_moto.ts";

const BROKERS = "b-1.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098," +
  "b-2.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098";
const golden = (name: string) => Deno.readTextFile(join(ROOT, "tests/testdata/rest_proxy", name));

await envTest(
  "config --deploy on moto's SSM sends the install script and waits for the invocation's success",
  ["engines"],
  () =>
    withMoto(async (moto) => {
      const parsed = parseOptions(
        ["config", "--deploy", `--bootstrap=${BROKERS}`, "--instance-id=i-0abc"],
        { AWS_REGION: "us-east-1" },
      );
      if (parsed.command !== "config") throw new Error("expected config");
      const ssm = new SSMClient(moto.client);
      const r = await runConfig(parsed.config, { ssm, pollMs: 10 });
      assert.equal(r.deployed, true);
      assert.ok("status" in r && r.status === "Success");
      const listed = await ssm.send(new ListCommandsCommand({}));
      assert.equal(listed.Commands?.length, 1);
      const cmd = listed.Commands![0];
      assert.equal(cmd.CommandId, "commandId" in r ? r.commandId : "");
      assert.equal(cmd.DocumentName, "AWS-RunShellScript");
      assert.deepEqual(cmd.InstanceIds, ["i-0abc"]);
      assert.deepEqual(
        cmd.Parameters?.commands,
        installCommands(await golden("kafka-rest.properties"), {
          instanceId: "i-0abc",
          path: "/opt/pinpipe/kafka-rest.properties",
          service: "kafka-rest",
          port: 8082,
        }),
      );
    }),
);
