/**
 * Topic configs: the names Apache Kafka 3.9 knows, their types, defaults and valid values,
 * and the effective settings the broker applies.
 *
 * How a change reaches the code that applies it: a topic's overrides live in
 * `topic.configs` (persisted in metadata.json). CreateTopics sets them and
 * IncrementalAlterConfigs *replaces* the object (it is never mutated in place), then
 * persists it. Whatever applies a config reads `topicConfig(topic)` when it needs a value
 * (on append, on each retention pass): it is computed from the current object and cached by
 * its identity, so a change is seen at the next read, with no subscription to manage.
 *
 * Applied: retention.ms, retention.bytes, segment.bytes, segment.ms (by the partition logs),
 * cleanup.policy (only "delete" deletes by time or size), max.message.bytes and
 * min.insync.replicas (by Produce). Every other known config is validated and stored, and
 * DescribeConfigs shows it, but it changes nothing: there is one replica, no compaction,
 * and batches are kept as produced (no recompression, no LogAppendTime rewrite).
 * @module
 */
import { ErrorCode } from "./error_codes.ts";

/** Kafka's config types, with the numbers DescribeConfigs v3+ uses. */
export const ConfigType = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
} as const;

/** Where a config value comes from (DescribeConfigs config_source). */
export const ConfigSource = {
  DYNAMIC_TOPIC_CONFIG: 1,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** One known config. */
export interface ConfigDef {
  name: string;
  type: (typeof ConfigType)[keyof typeof ConfigType];
  /** Kafka's default, as text. */
  default: string;
  /** The broker setting it defaults to (DescribeConfigs synonyms). */
  brokerName?: string;
  /** Why `value` is not acceptable, or undefined. */
  check?: (value: string) => string | undefined;
  /** Whether this broker acts on it. */
  applied: boolean;
  doc: string;
}

const INT_MAX = 2 ** 31 - 1;
const LONG_MAX = "9223372036854775807";

function atLeast(min: number) {
  return (v: string) => Number(v) < min ? `must be at least ${min}` : undefined;
}

function oneOf(...options: string[]) {
  return (v: string) =>
    options.includes(v) ? undefined : `must be one of ${options.map((o) => `"${o}"`).join(", ")}`;
}

function between(min: number, max: number, extra?: number) {
  return (v: string) =>
    (Number(v) >= min && Number(v) <= max) || Number(v) === extra
      ? undefined
      : `must be from ${min} to ${max}${extra !== undefined ? ` or ${extra}` : ""}`;
}

const T = ConfigType;

function def(
  name: string,
  type: ConfigDef["type"],
  dflt: string,
  opts: Partial<Omit<ConfigDef, "name" | "type" | "default">> & { doc: string },
): ConfigDef {
  return { name, type, default: dflt, applied: false, ...opts };
}

/** Every topic config Kafka 3.9 accepts, by name. */
export const TOPIC_CONFIGS: ReadonlyMap<string, ConfigDef> = new Map(
  [
    def("cleanup.policy", T.LIST, "delete", {
      brokerName: "log.cleanup.policy",
      check: (v) => {
        const bad = v.split(",").map((s) => s.trim()).find((s) =>
          s !== "delete" && s !== "compact"
        );
        return bad === undefined ? undefined : `"${bad}" is not one of "delete", "compact"`;
      },
      applied: true,
      doc:
        'Whether old data is deleted ("delete", by retention.ms and retention.bytes) or compacted ("compact": stored, not compacted here)',
    }),
    def("compression.gzip.level", T.INT, "-1", {
      brokerName: "compression.gzip.level",
      check: between(1, 9, -1),
      doc: "gzip level for topics recompressed with gzip (batches are kept as produced here)",
    }),
    def("compression.lz4.level", T.INT, "9", {
      brokerName: "compression.lz4.level",
      check: between(1, 17),
      doc: "lz4 level for topics recompressed with lz4 (batches are kept as produced here)",
    }),
    def("compression.type", T.STRING, "producer", {
      brokerName: "compression.type",
      check: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
      doc: "The topic's compression; this broker keeps batches as the producer compressed them",
    }),
    def("compression.zstd.level", T.INT, "3", {
      brokerName: "compression.zstd.level",
      check: between(-131072, 22),
      doc: "zstd level for topics recompressed with zstd (batches are kept as produced here)",
    }),
    def("delete.retention.ms", T.LONG, "86400000", {
      brokerName: "log.cleaner.delete.retention.ms",
      check: atLeast(0),
      doc: "How long delete markers are kept in compacted topics",
    }),
    def("file.delete.delay.ms", T.LONG, "60000", {
      brokerName: "log.segment.delete.delay.ms",
      check: atLeast(0),
      doc: "How long a deleted segment file waits before it is removed",
    }),
    def("flush.messages", T.LONG, LONG_MAX, {
      brokerName: "log.flush.interval.messages",
      check: atLeast(1),
      doc: "Messages between forced fsyncs (this broker follows its --fsync policy)",
    }),
    def("flush.ms", T.LONG, LONG_MAX, {
      check: atLeast(0),
      doc: "Time between forced fsyncs (this broker follows its --fsync policy)",
    }),
    def("follower.replication.throttled.replicas", T.LIST, "", {
      doc: "Replicas throttled on the follower side (one replica here)",
    }),
    def("index.interval.bytes", T.INT, "4096", {
      brokerName: "log.index.interval.bytes",
      check: atLeast(0),
      doc: "Bytes between offset index entries (this broker indexes every batch)",
    }),
    def("leader.replication.throttled.replicas", T.LIST, "", {
      doc: "Replicas throttled on the leader side (one replica here)",
    }),
    def("local.retention.bytes", T.LONG, "-2", {
      brokerName: "log.local.retention.bytes",
      check: atLeast(-2),
      doc: "Local bytes kept with tiered storage (no tiered storage here)",
    }),
    def("local.retention.ms", T.LONG, "-2", {
      brokerName: "log.local.retention.ms",
      check: atLeast(-2),
      doc: "Local time kept with tiered storage (no tiered storage here)",
    }),
    def("max.compaction.lag.ms", T.LONG, LONG_MAX, {
      brokerName: "log.cleaner.max.compaction.lag.ms",
      check: atLeast(1),
      doc: "Longest a record stays uncompacted (no compaction here)",
    }),
    def("max.message.bytes", T.INT, "1048588", {
      brokerName: "message.max.bytes",
      check: atLeast(0),
      applied: true,
      doc: "Largest record batch a producer may send (larger ones get MESSAGE_TOO_LARGE)",
    }),
    def("message.downconversion.enable", T.BOOLEAN, "true", {
      brokerName: "log.message.downconversion.enable",
      doc:
        "Whether old fetch versions get converted batches (never here: they get UNSUPPORTED_VERSION)",
    }),
    def("message.format.version", T.STRING, "3.0-IV1", {
      brokerName: "log.message.format.version",
      doc: "Deprecated; the record format is always v2",
    }),
    def("message.timestamp.after.max.ms", T.LONG, LONG_MAX, {
      brokerName: "log.message.timestamp.after.max.ms",
      check: atLeast(0),
      doc: "How far ahead of the broker's clock a record timestamp may be",
    }),
    def("message.timestamp.before.max.ms", T.LONG, LONG_MAX, {
      brokerName: "log.message.timestamp.before.max.ms",
      check: atLeast(0),
      doc: "How far behind the broker's clock a record timestamp may be",
    }),
    def("message.timestamp.difference.max.ms", T.LONG, LONG_MAX, {
      brokerName: "log.message.timestamp.difference.max.ms",
      check: atLeast(0),
      doc: "Deprecated in favour of the before/after settings",
    }),
    def("message.timestamp.type", T.STRING, "CreateTime", {
      brokerName: "log.message.timestamp.type",
      check: oneOf("CreateTime", "LogAppendTime"),
      doc:
        "Whose clock record timestamps come from (the producer's here: batches are not rewritten)",
    }),
    def("min.cleanable.dirty.ratio", T.DOUBLE, "0.5", {
      brokerName: "log.cleaner.min.cleanable.ratio",
      check: between(0, 1),
      doc: "How dirty a log must be to be compacted (no compaction here)",
    }),
    def("min.compaction.lag.ms", T.LONG, "0", {
      brokerName: "log.cleaner.min.compaction.lag.ms",
      check: atLeast(0),
      doc: "Shortest a record stays uncompacted (no compaction here)",
    }),
    def("min.insync.replicas", T.INT, "1", {
      brokerName: "min.insync.replicas",
      check: atLeast(1),
      applied: true,
      doc:
        "Replicas that must have a write for acks=all (one exists: above 1, acks=all produces get NOT_ENOUGH_REPLICAS)",
    }),
    def("preallocate", T.BOOLEAN, "false", {
      brokerName: "log.preallocate",
      doc: "Whether segment files are preallocated",
    }),
    def("remote.log.copy.disable", T.BOOLEAN, "false", {
      doc: "Tiered storage: stop copying (no tiered storage here)",
    }),
    def("remote.log.delete.on.disable", T.BOOLEAN, "false", {
      doc: "Tiered storage: delete remote data when disabled (no tiered storage here)",
    }),
    def("remote.storage.enable", T.BOOLEAN, "false", {
      check: (v) => v === "true" ? "tiered storage is not available on this broker" : undefined,
      doc: "Tiered storage (not available here)",
    }),
    def("retention.bytes", T.LONG, "-1", {
      brokerName: "log.retention.bytes",
      applied: true,
      doc: "Largest a partition may grow before its oldest segments are deleted (-1: no limit)",
    }),
    def("retention.ms", T.LONG, "604800000", {
      check: atLeast(-1),
      applied: true,
      doc: "How long records are kept before their segment is deleted (-1: forever)",
    }),
    def("segment.bytes", T.INT, "1073741824", {
      brokerName: "log.segment.bytes",
      check: atLeast(14),
      applied: true,
      doc: "Size at which a partition's log starts a new segment file",
    }),
    def("segment.index.bytes", T.INT, "10485760", {
      brokerName: "log.index.size.max.bytes",
      check: atLeast(4),
      doc: "Size of a segment's offset index",
    }),
    def("segment.jitter.ms", T.LONG, "0", {
      check: atLeast(0),
      doc: "Random time taken off segment.ms",
    }),
    def("segment.ms", T.LONG, "604800000", {
      check: atLeast(1),
      applied: true,
      doc: "Age at which a partition's log starts a new segment file",
    }),
    def("unclean.leader.election.enable", T.BOOLEAN, "false", {
      brokerName: "unclean.leader.election.enable",
      doc: "Whether an out-of-sync replica may lead (one replica here)",
    }),
  ].map((d) => [d.name, d]),
);

/**
 * Why `value` cannot be `name`'s value, or undefined when it can. The problem reads after
 * `Cannot set "name" to "value": `.
 */
export function configValueProblem(name: string, value: string | null): string | undefined {
  const d = TOPIC_CONFIGS.get(name);
  if (!d) return `unknown topic config name "${name}"`;
  if (value === null) return "a value is needed";
  const v = value.trim();
  switch (d.type) {
    case T.BOOLEAN:
      if (v.toLowerCase() !== "true" && v.toLowerCase() !== "false") {
        return "it is not true or false";
      }
      break;
    case T.INT:
      if (!/^-?\d+$/.test(v) || Math.abs(Number(v)) > INT_MAX) return "it is not a 32-bit integer";
      break;
    case T.LONG:
      if (!/^-?\d+$/.test(v) || BigInt(v) > 2n ** 63n - 1n || BigInt(v) < -(2n ** 63n)) {
        return "it is not a 64-bit integer";
      }
      break;
    case T.DOUBLE:
      if (v === "" || !Number.isFinite(Number(v))) return "it is not a number";
      break;
  }
  return d.check?.(v);
}

/** A topic's value for `name`: its override, or the broker's default. */
export function configValue(
  configs: Readonly<Record<string, string>>,
  name: string,
  brokerDefaults: Readonly<Record<string, string>> = {},
): string {
  return configs[name] ?? brokerDefaults[name] ?? TOPIC_CONFIGS.get(name)?.default ?? "";
}

/** The settings the broker applies, read from a topic's configs. */
export interface TopicConfig {
  /** Records older than this (ms) go with their segment; -1 = forever. */
  retentionMs: number;
  /** A partition larger than this (bytes) loses its oldest segments; -1 = no limit. */
  retentionBytes: number;
  /** Whether retention deletes anything (cleanup.policy includes "delete"). */
  deleteRetention: boolean;
  /** A segment is rolled when it reaches this size (bytes)... */
  segmentBytes: number;
  /** ...or this age (ms). */
  segmentMs: number;
  /** Largest batch accepted (bytes). */
  maxMessageBytes: number;
  /** Replicas needed for acks=all. */
  minInsyncReplicas: number;
}

const NO_DEFAULTS: Readonly<Record<string, string>> = {};
const cache = new WeakMap<object, WeakMap<object, TopicConfig>>();

/**
 * The effective settings of a topic: its overrides, else `brokerDefaults` (the broker's
 * own defaults, see BrokerState), else Kafka's. Cached per configs object, which is
 * replaced, not mutated, on every change.
 */
export function topicConfig(
  topic: { configs: Readonly<Record<string, string>> },
  brokerDefaults: Readonly<Record<string, string>> = NO_DEFAULTS,
): TopicConfig {
  let byDefaults = cache.get(brokerDefaults);
  if (!byDefaults) cache.set(brokerDefaults, byDefaults = new WeakMap());
  const hit = byDefaults.get(topic.configs);
  if (hit) return hit;
  const get = (name: string) => Number(configValue(topic.configs, name, brokerDefaults));
  const policy = configValue(topic.configs, "cleanup.policy", brokerDefaults).split(",");
  const c: TopicConfig = {
    retentionMs: get("retention.ms"),
    retentionBytes: get("retention.bytes"),
    deleteRetention: policy.map((p) => p.trim()).includes("delete"),
    segmentBytes: get("segment.bytes"),
    segmentMs: get("segment.ms"),
    maxMessageBytes: get("max.message.bytes"),
    minInsyncReplicas: get("min.insync.replicas"),
  };
  byDefaults.set(topic.configs, c);
  return c;
}

const brokerDefaultsCache = new WeakMap<object, Readonly<Record<string, string>>>();

/**
 * The topic defaults this broker sets where Kafka's would not fit: max.message.bytes is the
 * frame limit (pinpipe's clients send batches of a few MiB; one request bounds them anyway).
 */
export function brokerTopicDefaults(
  settings: { maxFrameBytes: number },
): Readonly<Record<string, string>> {
  let d = brokerDefaultsCache.get(settings);
  if (!d) {
    d = { "max.message.bytes": String(Math.min(settings.maxFrameBytes, INT_MAX)) };
    brokerDefaultsCache.set(settings, d);
  }
  return d;
}

/** One config as DescribeConfigs and CreateTopics v5+ show it. */
export interface DescribedConfig {
  name: string;
  value: string;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: { name: string; value: string; source: number }[];
  configType: number;
  documentation: string;
}

/** A topic's configs (every known one, or those in `names`), described. */
export function describeTopicConfigs(
  configs: Readonly<Record<string, string>>,
  brokerDefaults: Readonly<Record<string, string>>,
  names?: readonly string[] | null,
): DescribedConfig[] {
  const wanted = names ? names.filter((n) => TOPIC_CONFIGS.has(n)) : [...TOPIC_CONFIGS.keys()];
  return wanted.map((name) => {
    const d = TOPIC_CONFIGS.get(name)!;
    const synonyms: DescribedConfig["synonyms"] = [];
    if (name in configs) {
      synonyms.push({ name, value: configs[name], source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    }
    // This broker's own defaults (brokerTopicDefaults) are its built-in defaults.
    const dflt = brokerDefaults[name] ?? d.default;
    if (d.brokerName) {
      synonyms.push({ name: d.brokerName, value: dflt, source: ConfigSource.DEFAULT_CONFIG });
    }
    const source = synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG;
    return {
      name,
      value: configValue(configs, name, brokerDefaults),
      readOnly: false,
      isDefault: false, // Kafka never sets it (v0 clients derive it)
      configSource: source,
      isSensitive: false,
      synonyms,
      configType: d.type,
      documentation: d.doc,
    };
  });
}

/** The problems with a set of topic config overrides, one line per bad entry. */
export function topicConfigProblems(
  entries: readonly { name: string; value: string | null }[],
): string[] {
  const problems: string[] = [];
  for (const { name, value } of entries) {
    const p = configValueProblem(name, value);
    if (p) problems.push(`Cannot set "${name}" to ${JSON.stringify(value)}: ${p}`);
  }
  return problems;
}

/** IncrementalAlterConfigs operations. */
export const ConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/**
 * A topic's overrides after IncrementalAlterConfigs `ops` (a new object: `current` is left
 * as it is), or the problem and Kafka's error code for it.
 */
export function alterTopicConfigs(
  current: Readonly<Record<string, string>>,
  ops: readonly { name: string; configOperation: number; value: string | null }[],
): { configs: Record<string, string> } | { error: number; message: string } {
  const seen = new Set<string>();
  for (const op of ops) {
    if (seen.has(op.name)) {
      return {
        error: ErrorCode.INVALID_REQUEST,
        message: `config "${op.name}" is given more than once`,
      };
    }
    seen.add(op.name);
  }
  const next: Record<string, string> = { ...current };
  for (const { name, configOperation, value } of ops) {
    const d = TOPIC_CONFIGS.get(name);
    const bad = (why: string) => ({
      error: ErrorCode.INVALID_CONFIG,
      message: `Cannot change "${name}": ${why}`,
    });
    if (!d) return bad(`unknown topic config name "${name}"`);
    switch (configOperation) {
      case ConfigOp.SET: {
        const p = configValueProblem(name, value);
        if (p) return bad(`${JSON.stringify(value)} ${p.replace(/^it /, "")}`);
        next[name] = value!.trim();
        break;
      }
      case ConfigOp.DELETE:
        delete next[name];
        break;
      case ConfigOp.APPEND:
      case ConfigOp.SUBTRACT: {
        if (d.type !== ConfigType.LIST) {
          return bad("it is not a list, so it cannot be appended to or subtracted from");
        }
        const items = (next[name] ?? d.default).split(",").map((x) => x.trim()).filter(Boolean);
        const given = (value ?? "").split(",").map((x) => x.trim()).filter(Boolean);
        const out = configOperation === ConfigOp.APPEND
          ? [...items, ...given.filter((g) => !items.includes(g))]
          : items.filter((i) => !given.includes(i));
        const joined = out.join(",");
        const p = configValueProblem(name, joined);
        if (p) return bad(`${JSON.stringify(joined)} ${p.replace(/^it /, "")}`);
        next[name] = joined;
        break;
      }
      default:
        return {
          error: ErrorCode.INVALID_REQUEST,
          message: `unknown config operation ${configOperation} for "${name}"`,
        };
    }
  }
  return { configs: next };
}
