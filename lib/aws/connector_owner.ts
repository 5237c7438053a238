/**
 * One owner per MSK Connect resource. The connect stack's connector, plugin and worker
 * configuration carry the tag `pinpipe:stack` (and CloudFormation's own
 * `aws:cloudformation:stack-name`); `deno task connector` leaves them alone unless told to
 * take them over, so it never undoes what deploy set (`--param connect.FlushSize=1`). What the
 * task creates is named `<prefix>-connector-…` and tagged `pinpipe:created-by=connector`
 * and `pinpipe:prefix`, so `deno task deploy --destroy` finds and removes it.
 * @module
 */
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
} from "../deps/aws_kafkaconnect.ts";
import { delay } from "../shell/retry.ts";

/** The tags `deno task connector` puts on what it creates. */
export function connectorTags(prefix: string): Record<string, string> {
  return { "pinpipe:created-by": "connector", "pinpipe:prefix": prefix };
}

/** The stack that owns the resource `arn` (by its tags), or undefined. */
export async function owningStack(
  kc: KafkaConnectClient,
  arn: string,
): Promise<string | undefined> {
  const out = await kc.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  const tags = out.tags ?? {};
  return tags["pinpipe:stack"] ?? tags["aws:cloudformation:stack-name"];
}

/** Whether `tags` mark a resource `deno task connector` made for `prefix`. */
function madeByConnector(tags: Record<string, string> | undefined, prefix: string): boolean {
  return tags?.["pinpipe:created-by"] === "connector" && tags["pinpipe:prefix"] === prefix;
}

async function tagsOf(kc: KafkaConnectClient, arn: string) {
  return (await kc.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags;
}

/**
 * Deletes the connectors, custom plugins and worker configurations `deno task connector`
 * made for `prefix` (by name and tags), connectors first and waited for, since a plugin or
 * worker configuration in use cannot go. Returns what it deleted, as `kind name` lines.
 */
export async function removeConnectorResources(
  kc: KafkaConnectClient,
  prefix: string,
  opts: { pollMs?: number; signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<string[]> {
  const removed: string[] = [];
  const mine = `${prefix}-connector-`;
  let token: string | undefined;
  const connectors: { arn: string; name: string }[] = [];
  do {
    const page = await kc.send(
      new ListConnectorsCommand({ connectorNamePrefix: prefix, nextToken: token }),
    );
    for (const c of page.connectors ?? []) {
      if (c.connectorArn && madeByConnector(await tagsOf(kc, c.connectorArn), prefix)) {
        connectors.push({ arn: c.connectorArn, name: c.connectorName ?? c.connectorArn });
      }
    }
    token = page.nextToken;
  } while (token);
  for (const c of connectors) {
    await kc.send(new DeleteConnectorCommand({ connectorArn: c.arn }));
    opts.log?.(`connect: deleting connector ${c.name} (made by deno task connector)`);
  }
  for (const c of connectors) {
    for (;;) {
      try {
        const d = await kc.send(new DescribeConnectorCommand({ connectorArn: c.arn }));
        if (d.connectorState !== "DELETING") {
          throw new Error(`Cannot delete connector "${c.name}": it is ${d.connectorState}`);
        }
      } catch (err) {
        if ((err as Error).name === "NotFoundException") break;
        throw err;
      }
      await delay(opts.pollMs ?? 10_000, opts.signal);
    }
    removed.push(`connector ${c.name}`);
  }
  do {
    const page = await kc.send(
      new ListCustomPluginsCommand({ namePrefix: mine, nextToken: token }),
    );
    for (const p of page.customPlugins ?? []) {
      if (!p.customPluginArn || !madeByConnector(await tagsOf(kc, p.customPluginArn), prefix)) {
        continue;
      }
      await kc.send(new DeleteCustomPluginCommand({ customPluginArn: p.customPluginArn }));
      removed.push(`custom plugin ${p.name}`);
    }
    token = page.nextToken;
  } while (token);
  do {
    const page = await kc.send(
      new ListWorkerConfigurationsCommand({ namePrefix: mine, nextToken: token }),
    );
    for (const w of page.workerConfigurations ?? []) {
      const arn = w.workerConfigurationArn;
      if (!arn || !madeByConnector(await tagsOf(kc, arn), prefix)) continue;
      await kc.send(new DeleteWorkerConfigurationCommand({ workerConfigurationArn: arn }));
      removed.push(`worker configuration ${w.name}`);
    }
    token = page.nextToken;
  } while (token);
  return removed;
}
