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
import { deploy } from "../../lib/aws/deploy.ts";
import { installCommands, renderRestProxyProperties } from "../../lib/aws/rest_proxy_config.ts";
import { run, withTempDir } from "../_fixtures.ts";

import { BROKERS, FakeCloud, OPTS, templates } from "../_deploy_fakes.ts";

Deno.test("the client boots with the kafka-rest.properties rest-proxy config installs, so its --deploy restarts nothing", async () => {
  const cloud = new FakeCloud();
  await deploy({ ...OPTS, only: ["network", "lake", "msk", "client"] }, cloud.deps());
  const passed = cloud.paramsOf("client").RestProxyProperties!;
  const userData = (templates.get("client")!.Resources!.Instance.Properties as {
    UserData: { "Fn::Base64": { "Fn::Sub": string } };
  }).UserData["Fn::Base64"]["Fn::Sub"];
  const begin = userData.indexOf("cat > $BASE/kafka-rest.properties <<'PROPS'");
  const end = userData.indexOf("\nPROPS\n", begin) + "\nPROPS\n".length;
  assert.ok(begin >= 0 && end > begin, "the boot script writes kafka-rest.properties");
  const bootPart = userData.slice(begin, end).replace("${RestProxyProperties}", passed);
  await withTempDir(async (dir) => {
    const boot = await run("bash", ["-c", `set -eu\nBASE='${dir}'\n${bootPart}`]);
    assert.equal(boot.code, 0, boot.stderr);
    const path = `${dir}/kafka-rest.properties`;
    assert.equal(
      await Deno.readTextFile(path),
      renderRestProxyProperties({ bootstrap: BROKERS }),
      "byte for byte what rest-proxy config renders",
    );
    // rest-proxy config --deploy's script on the instance finds it unchanged.
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      `${bin}/systemctl`,
      `#!/bin/sh\necho "systemctl $*" >> '${dir}/calls'\n`,
    );
    await Deno.chmod(`${bin}/systemctl`, 0o755);
    const target = { instanceId: "i-1", path, service: "kafka-rest", port: 8082 };
    const install = await run(
      "bash",
      ["-c", installCommands(renderRestProxyProperties({ bootstrap: BROKERS }), target).join("\n")],
      { env: { PATH: `${bin}:${Deno.env.get("PATH")}` } },
    );
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /unchanged/);
    assert.equal(await Deno.stat(`${dir}/calls`).then(() => true, () => false), false);
  });
});
