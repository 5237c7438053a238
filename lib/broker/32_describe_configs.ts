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
} from "./configs.ts";
import { ErrorCode } from "./error_codes.ts";
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
  const frame = brokerTopicDefaults(s.settings)["max.message.bytes"];
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
    ["log.retention.ms", "604800000", dflt, ConfigType.LONG, "Default retention.ms of topics"],
    ["log.retention.bytes", "-1", dflt, ConfigType.LONG, "Default retention.bytes of topics"],
    ["log.segment.bytes", "1073741824", dflt, ConfigType.INT, "Default segment.bytes of topics"],
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
