/**
 * kafkajs's wire encoder class (the one its producer uses), for lib/kafka/kafkajs_varints.ts.
 * @module
 */
export { default as KafkajsEncoder } from "npm:kafkajs@2.2.4/src/protocol/encoder.js";
