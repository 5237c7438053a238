/**
 * @platformatic/kafka, a pure TypeScript Kafka client speaking today's protocol versions,
 * for the client matrix only (tests/clients/platformatic_client.ts).
 * @module
 */
export {
  Admin,
  Consumer,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from "npm:@platformatic/kafka@2.12.1";
