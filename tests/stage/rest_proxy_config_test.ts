/**
 * `rest-proxy config`: kafka-rest.properties against golden files, the SSM install script
 * run for real in a shell (with systemctl and curl stood in), SendCommand and
 * GetCommandInvocation against moto's SSM, and what moto cannot show (an invocation that
 * is not there yet, then in progress; MSK's GetBootstrapBrokers) against
 * aws-sdk-client-mock, asserting the exact commands.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { installCommands, renderRestProxyProperties } from "../../lib/aws/rest_proxy_config.ts";
import { run, withTempDir } from "../_fixtures.ts";

const BROKERS = "b-1.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098," +
  "b-2.pinpipe.abc123.c2.kafka.us-east-1.amazonaws.com:9098";

Deno.test("the install script replaces the file and restarts the service only when it changed", async () => {
  await withTempDir(async (dir) => {
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    const calls = join(dir, "calls.log");
    await Deno.writeTextFile(
      join(bin, "systemctl"),
      `#!/bin/sh\necho "systemctl $*" >> '${calls}'\n[ "$1" = is-active ] && echo active\nexit 0\n`,
    );
    await Deno.writeTextFile(join(bin, "curl"), `#!/bin/sh\necho "curl $*" >> '${calls}'\n`);
    await Deno.chmod(join(bin, "systemctl"), 0o755);
    await Deno.chmod(join(bin, "curl"), 0o755);
    const path = join(dir, "etc it's here", "kafka-rest.properties");
    const target = { instanceId: "i-1", path, service: "kafka-rest", port: 8082 };
    const sh = (content: string) =>
      run("bash", ["-c", installCommands(content, target).join("\n")], {
        env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
      });
    const content = renderRestProxyProperties({ bootstrap: BROKERS });

    const first = await sh(content);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await Deno.readTextFile(path), content);
    assert.match(first.stdout, /installed .* and restarted kafka-rest/);
    const log1 = await Deno.readTextFile(calls);
    assert.match(log1, /systemctl restart kafka-rest/);
    assert.match(log1, /curl .*http:\/\/127\.0\.0\.1:8082\/topics/);

    const second = await sh(content);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /unchanged/);
    assert.equal(await Deno.readTextFile(calls), log1, "no restart when nothing changed");

    const changed = renderRestProxyProperties({ bootstrap: BROKERS, maxBlockMs: 5000 });
    assert.equal((await sh(changed)).code, 0);
    assert.equal(await Deno.readTextFile(path), changed);
  });
});
