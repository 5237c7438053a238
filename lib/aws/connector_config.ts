/**
 * The Confluent S3 sink connector's configuration and its MSK Connect worker configuration,
 * defined once: in infra/connect.yaml, which `deno task deploy` sends to CloudFormation and
 * which `deno task connector` reads here, resolving its few references (prefix, bucket,
 * region, flush size, tasks, rotation interval, replication factor) with the values given
 * or the template's defaults. Also the plugin's well-known name and download location.
 * @module
 */
import { type FlagDef, urlCheck } from "../shell/flags.ts";
import { loadTemplate } from "./stacks.ts";
import type { Template } from "./stacks.ts";

/** What varies between deployments of the S3 sink; unset numbers take connect.yaml's defaults. */
export interface S3SinkSettings {
  /** Topic prefix; the connector selects `topics.regex=<prefix>.*` like the original. */
  prefix: string;
  /** The lake bucket (`s3.bucket.name`). */
  bucket: string;
  /** The bucket's region. Always written: the connector's own default is us-west-2. */
  region: string;
  /** Records per object (`flush.size`). The original used 1. */
  flushSize?: number;
  /** `tasks.max`. */
  tasksMax?: number;
  /** `rotate.schedule.interval.ms`: the longest a record waits for its object. */
  rotateIntervalMs?: number;
  /** `topics.dir` when the lake lives under a key prefix (`<prefix>/topics`); default `topics`. */
  topicsDir?: string;
}

/** The connector class of Confluent's S3 sink. */
export const S3_SINK_CLASS = "io.confluent.connect.s3.S3SinkConnector";

/** The plugin the original pipeline installed (Confluent Hub, kafka-connect-s3 10.0.3). */
export const S3_SINK_PLUGIN = {
  version: "10.0.3",
  file: "confluentinc-kafka-connect-s3-10.0.3.zip",
  url: "https://d1i4a15mxbxib1.cloudfront.net/api/plugins/confluentinc/kafka-connect-s3/" +
    "versions/10.0.3/confluentinc-kafka-connect-s3-10.0.3.zip",
} as const;

/**
 * `--plugin-url` of deploy and connector: where the plugin zip comes from when the lake bucket
 * does not hold it yet (at `pluginObjectKey` of it).
 */
export const PLUGIN_URL_FLAG = {
  type: "string",
  arg: "URL|PATH",
  help: "the S3 sink plugin zip, an http(s) URL or a local path, uploaded to the lake bucket " +
    "when missing there",
  env: "PINPIPE_PLUGIN_URL",
  default: S3_SINK_PLUGIN.url,
  defaultText: `Confluent Hub's ${S3_SINK_PLUGIN.file}`,
  check: urlCheck(),
} as const satisfies FlagDef;

/** The key of the plugin zip from `source` in the lake bucket: `plugins/<its file name>`. */
export function pluginObjectKey(source: string): string {
  return `plugins/${source.split(/[\\/]/).pop() || S3_SINK_PLUGIN.file}`;
}

/** Where `readPluginZip` reads from (tests pass fakes). */
export interface PluginReader {
  fetch?: typeof fetch;
  readFile?: (path: string) => Promise<Uint8Array>;
  signal?: AbortSignal;
}

/** The plugin zip's bytes from `source`: downloaded (http(s)) or read (a path), checked to be a zip. */
export async function readPluginZip(source: string, io: PluginReader = {}): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (/^https?:\/\//.test(source)) {
    const res = await (io.fetch ?? fetch)(source, { signal: io.signal });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`Cannot download the connector plugin "${source}": HTTP ${res.status}`);
    }
    bytes = new Uint8Array(await res.arrayBuffer());
  } else {
    bytes = await (io.readFile ?? Deno.readFile)(source);
  }
  if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new Error(`Cannot use the connector plugin "${source}": it is not a zip file`);
  }
  return bytes;
}

/** infra/connect.yaml, where the configuration is defined (read from disk or over HTTP). */
export function loadSinkTemplate(): Promise<Template> {
  return loadTemplate("connect");
}

function connectResource(t: Template, type: string): Record<string, unknown> {
  const hit = Object.values(t.Resources ?? {}).find((r) => r.Type === type);
  if (!hit) throw new Error(`Cannot read infra/connect.yaml: it has no ${type}`);
  return (hit.Properties ?? {}) as Record<string, unknown>;
}

/** The default of parameter `name` in `t`, as text. */
export function templateDefault(t: Template, name: string): string {
  const p = t.Parameters?.[name];
  if (!p || p.Default === undefined) {
    throw new Error(`Cannot read infra/connect.yaml: parameter "${name}" has no default`);
  }
  return String(p.Default);
}

/** Resolves the template value `v` (a string, Ref or Sub over `values`) to text. */
function resolve(v: unknown, values: Record<string, string>, where: string): string {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  const o = (v ?? {}) as Record<string, unknown>;
  if (typeof o.Ref === "string") {
    if (!(o.Ref in values)) throw new Error(`Cannot resolve ${where}: no value for Ref "${o.Ref}"`);
    return values[o.Ref];
  }
  if (typeof o["Fn::Sub"] === "string") {
    return (o["Fn::Sub"] as string).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (!(name in values)) throw new Error(`Cannot resolve ${where}: no value for \${${name}}`);
      return values[name];
    });
  }
  throw new Error(`Cannot resolve ${where}: ${JSON.stringify(v)} is not a string, Ref or Sub`);
}

/**
 * The S3 sink's connector configuration for `s`, read from connect.yaml's Connector: every
 * value a string, in the template's key order. Keys are StringConverter (the posting key is a
 * decimal string); values JsonConverter without schemas, so each line of an object is the
 * record's JSON and not a quoted string; scheduled rotation (UTC) so a quiet partition's
 * records land within the interval.
 */
export function s3SinkConfig(t: Template, s: S3SinkSettings): Record<string, string> {
  const values: Record<string, string> = {
    "AWS::Region": s.region,
    Prefix: s.prefix,
    BucketName: s.bucket,
    FlushSize: String(s.flushSize ?? templateDefault(t, "FlushSize")),
    TasksMax: String(s.tasksMax ?? templateDefault(t, "TasksMax")),
    RotateIntervalMs: String(s.rotateIntervalMs ?? templateDefault(t, "RotateIntervalMs")),
  };
  const map = connectResource(t, "AWS::KafkaConnect::Connector").ConnectorConfiguration as Record<
    string,
    unknown
  >;
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) {
    config[k] = resolve(v, values, `connector setting "${k}"`);
  }
  if (s.topicsDir && s.topicsDir !== "topics") config["topics.dir"] = s.topicsDir;
  return config;
}

/**
 * The MSK Connect worker configuration (a connect-distributed.properties fragment) from
 * connect.yaml: the JSON converters, and the internal topics' replication factor (the
 * broker count up to 3; -1, the cluster default, on serverless).
 */
export function workerProperties(t: Template, replicationFactor: string | number): string {
  const content = connectResource(t, "AWS::KafkaConnect::WorkerConfiguration")
    .PropertiesFileContent as Record<string, unknown>;
  return resolve(content?.["Fn::Base64"], {
    ReplicationFactor: String(replicationFactor),
    Prefix: "",
  }, "the worker configuration");
}

/** A short stable hash of `text` (hex), to version immutable AWS resources by content. */
export async function contentTag(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 4)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The keys on which two connector configurations differ (added, removed or changed). */
export function configDiff(
  current: Record<string, string> | undefined,
  wanted: Record<string, string>,
): string[] {
  const cur = current ?? {};
  const keys = new Set([...Object.keys(cur), ...Object.keys(wanted)]);
  return [...keys].filter((k) => cur[k] !== wanted[k]).sort();
}
