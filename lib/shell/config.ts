/**
 * The config file: `.pinpipe/aws.json`, written by `deno task deploy` with the stacks'
 * outputs (API invoke URL, bucket names, bootstrap brokers, MWAA environment …), read by
 * the other tasks as defaults below their flags and environment variables.
 * @module
 */
import { UsageError } from "./errors.ts";

/** Where deploy saves its outputs (relative to the working directory) unless PINPIPE_CONFIG says otherwise. */
export const DEFAULT_CONFIG_PATH = ".pinpipe/aws.json";

/**
 * The keys deploy writes and the tasks read. Values are strings unless noted.
 * - `region`, `prefix`
 * - `apiInvokeUrl` (API Gateway stage URL), `apiKeyId` (the key's id, never its value)
 * - `bucket` (the lake), `dagBucket`
 * - `clusterArn`, `bootstrapBrokers` (SASL/IAM, port 9098)
 * - `restProxyInstanceId`, `connectorName`, `mwaaEnvironment`, `mwaaWebserverUrl`
 */
export type PinpipeConfig = Record<string, unknown>;

/** The config at `path` (or PINPIPE_CONFIG, or the default), or `{}` when there is none. */
export async function loadConfig(
  env: Record<string, string | undefined> = {},
  path?: string,
): Promise<PinpipeConfig> {
  const file = path ?? env.PINPIPE_CONFIG ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      return {};
    }
    throw err;
  }
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error("not a JSON object");
    }
    return parsed as PinpipeConfig;
  } catch (err) {
    throw new UsageError(`Cannot read config "${file}": ${(err as Error).message}`, { cause: err });
  }
}

/** Merges `values` into the config file at `path`, creating it (and its folder). */
export async function saveConfig(
  values: PinpipeConfig,
  path = DEFAULT_CONFIG_PATH,
): Promise<PinpipeConfig> {
  const current = await loadConfig({}, path);
  const merged = { ...current, ...values };
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, `${JSON.stringify(merged, null, 2)}\n`);
  await Deno.rename(tmp, path);
  return merged;
}

/** The ARN partition of `region`: aws-cn in China, aws-us-gov in GovCloud, else aws. */
export function arnPartition(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("us-iso-")) return "aws-iso";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  return "aws";
}
