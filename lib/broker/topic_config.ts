/**
 * Topic configs: every name Apache Kafka 3.9 accepts for a topic, with its type, default
 * and valid values, and the parsed `LogConfig` the log layer applies. A topic stores only
 * what was set on it (`Topic.configs`); everything else comes from the broker's defaults.
 *
 * Applied: `segment.bytes`, `segment.ms` (when a segment rolls), `retention.ms`,
 * `retention.bytes` (whole old segments are deleted), `cleanup.policy` (without `delete`
 * nothing is deleted; compaction itself is not done). Every other name is validated and
 * stored, so tools can set and read it, but has no effect here.
 *
 * For the admin APIs: `validateTopicConfigs` (CreateTopics, IncrementalAlterConfigs),
 * `applyConfigOps` (IncrementalAlterConfigs' SET/DELETE/APPEND/SUBTRACT) and
 * `describeTopicConfigs` (DescribeConfigs: value, default or not, type, read-only).
 * @module
 */

/** DescribeConfigs' config_type codes. */
export const ConfigType = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
} as const;

/** DescribeConfigs' config_source codes used here. */
export const ConfigSource = {
  /** Set on the topic. */
  DYNAMIC_TOPIC_CONFIG: 1,
  /** A broker option (`--retention-ms`, …) gave the default. */
  STATIC_BROKER_CONFIG: 4,
  /** Kafka's own default. */
  DEFAULT_CONFIG: 5,
} as const;

type Kind = "boolean" | "string" | "int" | "long" | "double" | "list";

interface ConfigDef {
  kind: Kind;
  /** Kafka's default, as DescribeConfigs shows it. */
  default: string;
  min?: number;
  /** Allowed values (for lists: of each element). */
  values?: string[];
  /** The broker option that overrides the default, if there is one. */
  brokerOption?: keyof LogDefaults;
}

const LONG_MAX = "9223372036854775807";

/** Every topic config of Apache Kafka 3.9, by name. */
export const TOPIC_CONFIGS: Readonly<Record<string, ConfigDef>> = {
  "cleanup.policy": { kind: "list", default: "delete", values: ["delete", "compact"] },
  "compression.gzip.level": { kind: "int", default: "-1", min: -1 },
  "compression.lz4.level": { kind: "int", default: "9", min: 1 },
  "compression.type": {
    kind: "string",
    default: "producer",
    values: ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
  },
  "compression.zstd.level": { kind: "int", default: "3", min: -131072 },
  "delete.retention.ms": { kind: "long", default: "86400000", min: 0 },
  "file.delete.delay.ms": { kind: "long", default: "60000", min: 0 },
  "flush.messages": { kind: "long", default: LONG_MAX, min: 1 },
  "flush.ms": { kind: "long", default: LONG_MAX, min: 0 },
  "follower.replication.throttled.replicas": { kind: "list", default: "" },
  "index.interval.bytes": { kind: "int", default: "4096", min: 0 },
  "leader.replication.throttled.replicas": { kind: "list", default: "" },
  "local.retention.bytes": { kind: "long", default: "-2", min: -2 },
  "local.retention.ms": { kind: "long", default: "-2", min: -2 },
  "max.compaction.lag.ms": { kind: "long", default: LONG_MAX, min: 1 },
  "max.message.bytes": { kind: "int", default: "1048588", min: 0 },
  "message.downconversion.enable": { kind: "boolean", default: "true" },
  "message.format.version": { kind: "string", default: "3.0-IV1" },
  "message.timestamp.after.max.ms": { kind: "long", default: LONG_MAX, min: 0 },
  "message.timestamp.before.max.ms": { kind: "long", default: LONG_MAX, min: 0 },
  "message.timestamp.difference.max.ms": { kind: "long", default: LONG_MAX, min: 0 },
  "message.timestamp.type": {
    kind: "string",
    default: "CreateTime",
    values: ["CreateTime", "LogAppendTime"],
  },
  "min.cleanable.dirty.ratio": { kind: "double", default: "0.5", min: 0 },
  "min.compaction.lag.ms": { kind: "long", default: "0", min: 0 },
  "min.insync.replicas": { kind: "int", default: "1", min: 1 },
  "preallocate": { kind: "boolean", default: "false" },
  "remote.log.copy.disable": { kind: "boolean", default: "false" },
  "remote.log.delete.on.disable": { kind: "boolean", default: "false" },
  "remote.storage.enable": { kind: "boolean", default: "false" },
  "retention.bytes": { kind: "long", default: "-1", brokerOption: "retentionBytes" },
  "retention.ms": { kind: "long", default: "604800000", min: -1, brokerOption: "retentionMs" },
  "segment.bytes": { kind: "int", default: "1073741824", min: 14, brokerOption: "segmentBytes" },
  "segment.index.bytes": { kind: "int", default: "10485760", min: 4 },
  "segment.jitter.ms": { kind: "long", default: "0", min: 0 },
  "segment.ms": { kind: "long", default: "604800000", min: 1, brokerOption: "segmentMs" },
  "unclean.leader.election.enable": { kind: "boolean", default: "false" },
};

/** The broker-wide defaults of the applied configs (Kafka's log.* broker settings). */
export interface LogDefaults {
  segmentBytes: number;
  segmentMs: number;
  retentionMs: number;
  retentionBytes: number;
}

/** Kafka's defaults: 1 GiB segments rolled weekly, kept a week, no size limit. */
export const KAFKA_LOG_DEFAULTS: Readonly<LogDefaults> = {
  segmentBytes: 1024 ** 3,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
};

/** What the log layer applies for one topic. */
export interface LogConfig {
  /** A segment rolls before it would grow past this many bytes. */
  segmentBytes: number;
  /** A segment rolls on the first append this long after it was started. */
  segmentMs: number;
  /** Segments whose newest record is older than this are deleted; -1 = never. */
  retentionMs: number;
  /** Old segments are deleted while the partition is larger than this; -1 = no limit. */
  retentionBytes: number;
  /** False when cleanup.policy lacks "delete" (compacted topics): nothing is deleted. */
  deleteEnabled: boolean;
}

/** Why `value` is not valid for config `name`, or undefined when it is. */
function valueProblem(name: string, value: string): string | undefined {
  const def = TOPIC_CONFIGS[name];
  if (!def) return `unknown topic config name "${name}"`;
  const bad = (why: string) => `invalid value "${value}" for config "${name}": ${why}`;
  switch (def.kind) {
    case "boolean":
      return /^(true|false)$/i.test(value) ? undefined : bad("expected true or false");
    case "int":
    case "long": {
      if (!/^-?\d+$/.test(value.trim())) return bad("expected a whole number");
      const n = Number(value.trim());
      const max = def.kind === "int" ? 2 ** 31 - 1 : Number(LONG_MAX);
      if (n > max) return bad(`must be at most ${def.kind === "int" ? max : LONG_MAX}`);
      if (def.min !== undefined && n < def.min) return bad(`must be at least ${def.min}`);
      return undefined;
    }
    case "double": {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n)) return bad("expected a number");
      if (def.min !== undefined && n < def.min) return bad(`must be at least ${def.min}`);
      return undefined;
    }
    case "list": {
      if (!def.values) return undefined;
      const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
      const wrong = items.find((i) => !def.values!.includes(i));
      return wrong === undefined ? undefined : bad(`"${wrong}" is not one of ${def.values}`);
    }
    case "string":
      return def.values && !def.values.includes(value)
        ? bad(`expected one of ${def.values.join(", ")}`)
        : undefined;
  }
}

/** The first problem with a topic's configs (unknown name or invalid value), or undefined. */
export function validateTopicConfigs(configs: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(configs)) {
    const p = valueProblem(name, value);
    if (p) return p;
  }
  return undefined;
}

/** One IncrementalAlterConfigs operation (op: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT). */
export interface ConfigOp {
  name: string;
  op: number;
  value: string | null;
}

/**
 * The topic configs after `ops`, or the problem (unknown name or operation, APPEND or
 * SUBTRACT on a config that is not a list). Validate the result with validateTopicConfigs.
 */
export function applyConfigOps(
  current: Record<string, string>,
  ops: ConfigOp[],
): Record<string, string> | string {
  const next = { ...current };
  for (const { name, op, value } of ops) {
    const def = TOPIC_CONFIGS[name];
    if (!def) return `unknown topic config name "${name}"`;
    if (op === 0) {
      if (value === null) return `config "${name}" cannot be set to null`;
      next[name] = value;
    } else if (op === 1) {
      delete next[name];
    } else if (op === 2 || op === 3) {
      if (def.kind !== "list") {
        return `config "${name}" is not a list: APPEND and SUBTRACT need one`;
      }
      const items = (next[name] ?? def.default).split(",").map((s) => s.trim()).filter(Boolean);
      const given = (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      const out = op === 2
        ? [...items, ...given.filter((g) => !items.includes(g))]
        : items.filter((i) => !given.includes(i));
      next[name] = out.join(",");
    } else {
      return `unknown config operation ${op} for "${name}"`;
    }
  }
  return next;
}

/** The LogConfig of a topic with `configs` set on it, over the broker's `defaults`. */
export function logConfig(configs: Record<string, string>, defaults: LogDefaults): LogConfig {
  const num = (name: string, fallback: number) => {
    const v = configs[name];
    return v === undefined ? fallback : Number(v);
  };
  const policy = (configs["cleanup.policy"] ?? "delete").split(",").map((s) => s.trim());
  return {
    segmentBytes: num("segment.bytes", defaults.segmentBytes),
    segmentMs: num("segment.ms", defaults.segmentMs),
    retentionMs: num("retention.ms", defaults.retentionMs),
    retentionBytes: num("retention.bytes", defaults.retentionBytes),
    deleteEnabled: policy.includes("delete"),
  };
}

/** One entry of a DescribeConfigs answer. */
export interface DescribedConfig {
  name: string;
  value: string;
  /** True when the value is Kafka's or the broker's default (not set on the topic). */
  isDefault: boolean;
  /** ConfigSource code. */
  source: number;
  /** ConfigType code. */
  type: number;
  readOnly: false;
  sensitive: false;
}

const TYPE_CODES: Record<Kind, number> = {
  boolean: ConfigType.BOOLEAN,
  string: ConfigType.STRING,
  int: ConfigType.INT,
  long: ConfigType.LONG,
  double: ConfigType.DOUBLE,
  list: ConfigType.LIST,
};

/** Every config of a topic with `configs` set on it (all when `names` is null), sorted by name. */
export function describeTopicConfigs(
  configs: Record<string, string>,
  defaults: LogDefaults,
  names: string[] | null = null,
): DescribedConfig[] {
  const wanted = names ?? Object.keys(TOPIC_CONFIGS);
  return wanted.filter((n) => n in TOPIC_CONFIGS).sort().map((name) => {
    const def = TOPIC_CONFIGS[name];
    const base = { name, type: TYPE_CODES[def.kind], readOnly: false, sensitive: false } as const;
    if (name in configs) {
      return { ...base, value: configs[name], isDefault: false, source: 1 };
    }
    const fromBroker = def.brokerOption ? defaults[def.brokerOption] : undefined;
    if (fromBroker !== undefined && String(fromBroker) !== def.default) {
      return { ...base, value: String(fromBroker), isDefault: true, source: 4 };
    }
    return { ...base, value: def.default, isDefault: true, source: 5 };
  });
}
