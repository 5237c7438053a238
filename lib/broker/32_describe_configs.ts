/**
 * DescribeConfigs (key 32), versions 0–4 (kafka-configs --describe, kafka-topics
 * --describe, admin clients).
 *
 * Behavior:
 * - A topic (resource type 2): every config Kafka 3.9 knows, or the keys asked for (unknown
 *   keys are left out, as Kafka does), with its value, where it comes from (set on the
 *   topic, a broker setting, or Kafka's default), its type and, when asked, its synonyms
 *   and documentation. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
 * - This broker (type 4, named "0" or "" for the defaults): the settings it runs with, all
 *   read-only (they come from its flags). Another broker id gets INVALID_REQUEST.
 * - Broker loggers (type 8): none (Kafka lists its log4j loggers; this broker has none to
 *   set). Other resource types (client metrics, groups) get INVALID_REQUEST.
 *
 * Version notes: v1+ synonyms and config_source; v2 same as v1; v3+ config_type and
 * documentation; v4+ flexible. v0's is_default is derived from the source.
 * @module
 */
import { defineApi } from "./api.ts";
import {
  brokerTopicDefaults,
  ConfigSource,
  ConfigType,
  type DescribedConfig,
  describeTopicConfigs,
  TOPIC_CONFIGS,
} from "./configs.ts";
import { ErrorCode } from "./error_codes.ts";
import { formatConnectionOverrides, NO_CONNECTION_LIMIT } from "./limits.ts";
import { arr } from "./schema.ts";
import type { BrokerState } from "./state.ts";
import { topicNameProblem } from "./topics.ts";

/** ConfigResource types. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

export const describeConfigs = defineApi({
  key: 32,
  name: "DescribeConfigs",
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: {
    resources: arr({
      resourceType: "int8",
      resourceName: "string",
      configurationKeys: "[]string null",
    }),
    includeSynonyms: "bool v1+",
    includeDocumentation: "bool v3+",
  },
  response: {
    throttleTimeMs: "int32",
    results: arr({
      errorCode: "int16",
      errorMessage: "string null",
      resourceType: "int8",
      resourceName: "string",
      configs: arr({
        name: "string",
        value: "string null",
        readOnly: "bool",
        isDefault: "bool v0",
        configSource: "int8 v1+ =-1",
        isSensitive: "bool",
        synonyms: arr({ name: "string", value: "string null", source: "int8" }, "v1+"),
        configType: "int8 v3+",
        documentation: "string v3+ null",
      }),
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    return {
      results: req.resources.map((r) => {
        const answer = (configs: DescribedConfig[]) => ({
          errorCode: ErrorCode.NONE,
          errorMessage: "",
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configs: configs.map((c) => ({
            ...c,
            synonyms: req.includeSynonyms ? c.synonyms : [],
            documentation: req.includeDocumentation ? c.documentation : null,
          })),
        });
        const fail = (errorCode: number, errorMessage: string) => ({
          errorCode,
          errorMessage,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configs: [],
        });
        if (r.resourceType === ResourceType.TOPIC) {
          const problem = topicNameProblem(r.resourceName);
          if (problem) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
          const topic = s.topics.get(r.resourceName);
          if (!topic) {
            return fail(
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `topic "${r.resourceName}" does not exist`,
            );
          }
          return answer(
            describeTopicConfigs(
              topic.configs,
              brokerTopicDefaults(s.settings),
              r.configurationKeys,
            ),
          );
        }
        if (r.resourceType === ResourceType.BROKER) {
          if (r.resourceName !== "" && r.resourceName !== String(s.nodeId)) {
            return fail(
              ErrorCode.INVALID_REQUEST,
              `broker "${r.resourceName}" is not this one (${s.nodeId})`,
            );
          }
          const all = brokerConfigs(s);
          const keys = r.configurationKeys;
          return answer(keys ? all.filter((c) => keys.includes(c.name)) : all);
        }
        if (r.resourceType === ResourceType.BROKER_LOGGER) {
          // Kafka lists its log4j loggers here; this broker has none to configure.
          return answer([]);
        }
        return fail(
          ErrorCode.INVALID_REQUEST,
          `resource type ${r.resourceType} has no configs on this broker (topics and the broker do)`,
        );
      }),
    };
  },
});

/** The broker's own settings as Kafka names them. */
export function brokerConfigs(s: BrokerState): DescribedConfig[] {
  const set = ConfigSource.STATIC_BROKER_CONFIG;
  const dflt = ConfigSource.DEFAULT_CONFIG;
  const listener = `PLAINTEXT://${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}`;
  const topicDefaults = brokerTopicDefaults(s.settings);
  const frame = topicDefaults["max.message.bytes"];
  // A log.* default from the broker's flags: "set" when it is not Kafka's own.
  const log = (
    name: string,
    topicName: string,
    type: number,
    doc: string,
  ): [string, string, number, number, string] => {
    const value = topicDefaults[topicName];
    return [name, value, value === TOPIC_CONFIGS.get(topicName)?.default ? dflt : set, type, doc];
  };
  const entries: [string, string, number, number, string][] = [
    ["node.id", String(s.nodeId), set, ConfigType.INT, "This broker's id"],
    ["broker.id", String(s.nodeId), set, ConfigType.INT, "This broker's id"],
    ["listeners", listener, set, ConfigType.STRING, "Where the broker listens (--host, --port)"],
    ["advertised.listeners", listener, set, ConfigType.STRING, "What clients are told to use"],
    ["log.dirs", s.settings.dataDir ?? "", set, ConfigType.STRING, "--data-dir (empty: in memory)"],
    ["num.partitions", String(s.settings.partitions), set, ConfigType.INT, "--partitions"],
    ["default.replication.factor", "1", set, ConfigType.INT, "One broker, one replica"],
    [
      "auto.create.topics.enable",
      String(s.settings.autoCreate),
      set,
      ConfigType.BOOLEAN,
      "--auto-create",
    ],
    ["message.max.bytes", frame, set, ConfigType.INT, "Largest batch (the frame limit)"],
    [
      "socket.request.max.bytes",
      String(s.settings.maxFrameBytes),
      set,
      ConfigType.INT,
      "--max-frame-bytes",
    ],
    ["min.insync.replicas", "1", dflt, ConfigType.INT, "Replicas needed for acks=all"],
    [
      "offsets.topic.replication.factor",
      "1",
      set,
      ConfigType.INT,
      "Committed offsets live on this broker",
    ],
    ["group.initial.rebalance.delay.ms", "0", set, ConfigType.INT, "Groups form at once"],
    log("log.retention.ms", "retention.ms", ConfigType.LONG, "--retention"),
    log("log.retention.bytes", "retention.bytes", ConfigType.LONG, "--retention-bytes"),
    log("log.segment.bytes", "segment.bytes", ConfigType.INT, "--segment-bytes"),
    log("log.roll.ms", "segment.ms", ConfigType.LONG, "Default segment.ms of topics"),
    [
      "connections.max.idle.ms",
      String(s.settings.idleTimeoutMs),
      s.settings.idleTimeoutMs === 600_000 ? dflt : set,
      ConfigType.LONG,
      "--idle-timeout",
    ],
    [
      "queued.max.request.bytes",
      String(s.settings.maxRequestMemory),
      set,
      ConfigType.LONG,
      "--max-request-memory: what all connections hold for requests and fetched records",
    ],
    [
      "max.connections",
      String(s.settings.maxConnections),
      set,
      ConfigType.INT,
      "--max-connections (at most what the open-file limit allows)",
    ],
    [
      "max.connections.per.ip",
      String(s.settings.maxConnectionsPerIp),
      s.settings.maxConnectionsPerIp === NO_CONNECTION_LIMIT ? dflt : set,
      ConfigType.INT,
      "--max-connections-per-ip",
    ],
    [
      "max.connections.per.ip.overrides",
      formatConnectionOverrides(s.settings.maxConnectionsPerIpOverrides),
      s.settings.maxConnectionsPerIpOverrides.size ? set : dflt,
      ConfigType.STRING,
      "--max-connections-per-ip-overrides",
    ],
    ["log.cleanup.policy", "delete", dflt, ConfigType.LIST, "Default cleanup.policy of topics"],
    ["compression.type", "producer", dflt, ConfigType.STRING, "Batches are kept as produced"],
  ];
  return entries.map(([name, value, source, type, doc]) => ({
    name,
    value,
    readOnly: true,
    isDefault: false,
    configSource: source,
    isSensitive: false,
    synonyms: [{ name, value, source }],
    configType: type,
    documentation: doc,
  }));
}
