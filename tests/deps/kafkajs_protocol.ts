/**
 * kafkajs 2.2.4's own protocol modules (client-side request encoders, response decoders,
 * RecordBatch, CRC-32C, the wire Encoder/Decoder). Only the broker's tests use them, as an
 * oracle: requests encoded exactly as kafkajs would, responses decoded as kafkajs would.
 * These are CommonJS files with no types; the `.js` extension is required.
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import requestsModule from "npm:kafkajs@2.2.4/src/protocol/requests/index.js";
import encodeRequestModule from "npm:kafkajs@2.2.4/src/protocol/request.js";
import recordBatchModule from "npm:kafkajs@2.2.4/src/protocol/recordBatch/v0/index.js";
import decodeRecordBatchModule from "npm:kafkajs@2.2.4/src/protocol/recordBatch/v0/decoder.js";
import recordModule from "npm:kafkajs@2.2.4/src/protocol/recordBatch/record/v0/index.js";
import crc32CModule from "npm:kafkajs@2.2.4/src/protocol/recordBatch/crc32C/index.js";
import encoderModule from "npm:kafkajs@2.2.4/src/protocol/encoder.js";
import decoderModule from "npm:kafkajs@2.2.4/src/protocol/decoder.js";
import compressionModule from "npm:kafkajs@2.2.4/src/protocol/message/compression/index.js";

/** `requests.<ApiName>.protocol({ version })(args)` → `{ request, response }`. */
export const kafkajsRequests: Record<
  string,
  { versions: string[]; protocol: (o: { version: number }) => (args: any) => any }
> = (requestsModule as any).requests;

/** Frames a request as kafkajs sends it: `({ correlationId, clientId, request })` → Encoder. */
export const encodeKafkajsRequest: (
  o: { correlationId: number; clientId: string; request: any },
) => Promise<{ buffer: Uint8Array }> = encodeRequestModule as any;

/** Encodes a RecordBatch (async): `({ compression, firstOffset, records, … })` → Encoder. */
export const KafkajsRecordBatch: (o: any) => Promise<{ buffer: Uint8Array }> =
  (recordBatchModule as any).RecordBatch;

/** Decodes one RecordBatch from a kafkajs Decoder. */
export const decodeKafkajsRecordBatch: (decoder: any) => Promise<any> =
  decodeRecordBatchModule as any;

/** A record for KafkajsRecordBatch: `({ offsetDelta, timestampDelta, key, value, headers })`. */
export const KafkajsRecord: (o: any) => any = recordModule as any;

/** kafkajs's CRC-32C. */
export const kafkajsCrc32C: (buffer: Uint8Array) => number = crc32CModule as any;

/** kafkajs's wire Encoder class. */
export const KafkajsEncoder: any = encoderModule;

/** kafkajs's wire Decoder class. */
export const KafkajsDecoder: any = decoderModule;

/** Compression type numbers (`Types.GZIP`…). */
export const KafkajsCompressionTypes: Record<string, number> = (compressionModule as any).Types;

/** kafkajs's consumer-protocol codec (MemberMetadata, MemberAssignment). */
export { AssignerProtocol } from "npm:kafkajs@2.2.4";
