/**
 * The AWS side of the REST proxy: `kafka-rest.properties` for Confluent's REST proxy on the
 * EC2 client instance, talking to MSK with IAM auth (reference/aws-kafka.md §1.6), and its
 * installation on that instance through SSM `SendCommand` (AWS-RunShellScript), waiting for
 * the outcome with `GetCommandInvocation`. The install replaces the file only when its
 * content changed and restarts the service only then, so a re-run is a no-op.
 * @module
 */
import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from "../deps/aws_ssm.ts";
import { KafkaClient } from "../deps/aws_kafka.ts";
import { getIamBootstrap } from "./bootstrap_brokers.ts";
import { RetriableError } from "../shell/errors.ts";
import { delay } from "../shell/retry.ts";

import {
  DEFAULT_MAX_BLOCK_MS,
  DEFAULT_PROPERTIES_PATH,
  DEFAULT_REST_SERVICE,
  type InstallTarget,
  renderRestProxyProperties,
  type RestProxyProperties,
} from "./rest_proxy_properties.ts";

export {
  DEFAULT_MAX_BLOCK_MS,
  DEFAULT_PROPERTIES_PATH,
  DEFAULT_REST_SERVICE,
  type InstallTarget,
  renderRestProxyProperties,
  type RestProxyProperties,
};

/** Single-quotes `s` for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The shell commands SSM runs: write the new file beside the old one, and only when they
 * differ move it into place, restart the service and wait until the proxy answers.
 */
export function installCommands(content: string, target: InstallTarget): string[] {
  const path = shellQuote(target.path);
  const tmp = shellQuote(`${target.path}.pinpipe-new`);
  const service = shellQuote(target.service);
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(content)));
  return [
    "set -eu",
    `mkdir -p "$(dirname ${path})"`,
    `echo '${b64}' | base64 -d > ${tmp}`,
    `if cmp -s ${tmp} ${path}; then rm -f ${tmp}; echo "pinpipe: ${target.path} unchanged"; exit 0; fi`,
    // Keep the owner and mode of the file being replaced (the service may run as its own user).
    `if [ -e ${path} ]; then chown --reference=${path} ${tmp}; chmod --reference=${path} ${tmp}; else chmod 644 ${tmp}; fi`,
    `mv -f ${tmp} ${path}`,
    `systemctl restart ${service}`,
    `for i in $(seq 1 60); do curl -s -o /dev/null http://127.0.0.1:${
      target.port ?? 8082
    }/topics && break; sleep 1; done`,
    `systemctl is-active ${service}`,
    `echo "pinpipe: installed ${target.path} and restarted ${target.service}"`,
  ];
}

/** The SendCommand input that installs `content` on the instance. */
export function sendCommandInput(content: string, target: InstallTarget) {
  return {
    DocumentName: "AWS-RunShellScript",
    InstanceIds: [target.instanceId],
    Comment: "pinpipe: install kafka-rest.properties and restart the REST proxy",
    TimeoutSeconds: 300,
    Parameters: { commands: installCommands(content, target) },
  };
}

/** What the install did. */
export interface InstallResult {
  commandId: string;
  status: string;
  /** True when the file was already identical (nothing restarted). */
  unchanged: boolean;
  stdout: string;
}

/** Installs `content` through SSM and waits for the command to finish on the instance. */
export async function installRestProxyProperties(
  ssm: SSMClient,
  content: string,
  target: InstallTarget,
  opts: {
    pollMs?: number;
    timeoutMs?: number;
    signal?: AbortSignal;
    onProgress?: (l: string) => void;
  } = {},
): Promise<InstallResult> {
  const sent = await ssm.send(new SendCommandCommand(sendCommandInput(content, target)));
  const commandId = sent.Command?.CommandId;
  if (!commandId) {
    throw new Error(`Cannot install on "${target.instanceId}": SSM returned no command id`);
  }
  opts.onProgress?.(`SSM command ${commandId} sent to ${target.instanceId}`);
  const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  for (;;) {
    await delay(opts.pollMs ?? 2000, opts.signal);
    let inv;
    try {
      inv = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: target.instanceId }),
      );
    } catch (err) {
      // Right after SendCommand the invocation may not exist yet.
      if ((err as { name?: string }).name !== "InvocationDoesNotExist") throw err;
      inv = undefined;
    }
    const status = inv?.Status ?? "Pending";
    if (status === "Success") {
      const stdout = inv?.StandardOutputContent ?? "";
      return { commandId, status, unchanged: /unchanged/.test(stdout), stdout };
    }
    if (!["Pending", "InProgress", "Delayed"].includes(status)) {
      const stderr = (inv?.StandardErrorContent ?? "").trim();
      throw new Error(
        `Cannot install kafka-rest.properties on "${target.instanceId}": SSM command ${commandId} ended ${status}${
          inv?.ResponseCode !== undefined ? ` (exit ${inv.ResponseCode})` : ""
        }${stderr ? `: ${stderr}` : ""}`,
      );
    }
    if (Date.now() > deadline) {
      throw new RetriableError(
        `Cannot install kafka-rest.properties on "${target.instanceId}": SSM command ${commandId} is still ${status}`,
      );
    }
    opts.onProgress?.(`SSM command ${commandId}: ${status}`);
  }
}

/** Options of `config`. */
export interface ConfigOptions {
  clusterArn?: string;
  bootstrap?: string;
  region: string;
  port: number;
  maxBlockMs: number;
  roleArn?: string;
  deploy: boolean;
  dryRun: boolean;
  target: InstallTarget;
}

/** AWS clients for `runConfig` (tests pass mocked ones). */
export interface ConfigDeps {
  kafka?: KafkaClient;
  ssm?: SSMClient;
  pollMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Renders kafka-rest.properties and, with `deploy`, installs it; returns what was done. */
export async function runConfig(opts: ConfigOptions, deps: ConfigDeps = {}) {
  const bootstrap = opts.bootstrap ?? await getIamBootstrap(
    deps.kafka ?? new KafkaClient({ region: opts.region }),
    opts.clusterArn!,
  );
  const properties = renderRestProxyProperties({
    bootstrap,
    port: opts.port,
    maxBlockMs: opts.maxBlockMs,
    roleArn: opts.roleArn,
  });
  if (!opts.deploy || opts.dryRun) {
    return {
      properties,
      deployed: false,
      ...(opts.deploy ? { sendCommand: sendCommandInput(properties, opts.target) } : {}),
    };
  }
  const r = await installRestProxyProperties(
    deps.ssm ?? new SSMClient({ region: opts.region }),
    properties,
    opts.target,
    { pollMs: deps.pollMs, signal: deps.signal, onProgress: deps.log },
  );
  return { properties, deployed: true, ...r };
}
