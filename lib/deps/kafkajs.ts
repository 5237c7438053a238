/**
 * kafkajs, the Kafka client pinpipe's tasks use (and the broker's tests use as an oracle).
 * @module
 */
export {
  AssignerProtocol,
  CompressionTypes,
  Kafka,
  logLevel,
  Partitioners,
} from "npm:kafkajs@2.2.4";
export type {
  Admin,
  Consumer,
  EachBatchPayload,
  KafkaConfig,
  Message,
  Producer,
  RecordMetadata,
  SASLOptions,
} from "npm:kafkajs@2.2.4";
