/**
 * The Confluent S3 sink connector's configuration, as the original pipeline registered it
 * (reference/aws-kafka.md §2.5), built in one place so `deno task connector`, its tests and
 * the docs all show the same map. Also the MSK Connect worker configuration that goes with
 * it and the plugin's well-known name and download location.
 * @module
 */

/** What varies between deployments of the S3 sink. */
export interface S3SinkSettings {
  /** Topic prefix; the connector selects `topics.regex=<prefix>.*` like the original. */
  prefix: string;
  /** The lake bucket (`s3.bucket.name`). */
  bucket: string;
  /** The bucket's region. Always written: the connector's own default is us-west-2. */
  region: string;
  /** Records per object (`flush.size`). The original used 1. */
  flushSize: number;
  /** `tasks.max`. */
  tasksMax: number;
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
 * The S3 sink's connector configuration: every value a string, keys in a stable order.
 * Keys are StringConverter (the posting key is a decimal string); values JsonConverter
 * without schemas, so each line of an object is the record's JSON and not a quoted string.
 */
export function s3SinkConfig(s: S3SinkSettings): Record<string, string> {
  const config: Record<string, string> = {
    "connector.class": S3_SINK_CLASS,
    "s3.region": s.region,
    "flush.size": String(s.flushSize),
    "schema.compatibility": "NONE",
    "tasks.max": String(s.tasksMax),
    "topics.regex": `${s.prefix}.*`,
    "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
    "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "value.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "storage.class": "io.confluent.connect.s3.storage.S3Storage",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "s3.bucket.name": s.bucket,
  };
  if (s.topicsDir && s.topicsDir !== "topics") config["topics.dir"] = s.topicsDir;
  return config;
}

/**
 * The MSK Connect worker configuration (a connect-distributed.properties fragment):
 * MSK Connect requires the two converters; the connector overrides them anyway.
 */
export function workerProperties(): string {
  return [
    "key.converter=org.apache.kafka.connect.storage.StringConverter",
    "value.converter=org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable=false",
    "",
  ].join("\n");
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
