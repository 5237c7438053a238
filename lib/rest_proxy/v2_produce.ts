/**
 * The v2 produce endpoints: `POST /topics/{topic}` and `POST /topics/{topic}/partitions/{p}`
 * with the json or binary embedded format (reference/aws-kafka.md §1.2). The answer is 200
 * with one `offsets` entry per record, in order; a record that failed carries its own
 * `error_code` (50003 retriable, 50002 not, 40101/40301 auth) inside the 200.
 * @module
 */
import { HttpError, mediaType, V2 } from "./http.ts";
import type { Format } from "./produce_request.ts";
import { parseProduceRequest } from "./produce_request.ts";
import type { RecordSender, SendResult } from "./record_sender.ts";
import { partitionNotFound, type TopicCache, topicNotFound } from "./topics.ts";

/** The embedded format a produce request's Content-Type names, or 415. */
export function produceFormat(contentType: string | null): Format {
  const type = mediaType(contentType);
  if (type === V2.json) return "json";
  // Without an embedded format Confluent's proxy assumes binary.
  if (type === V2.binary || type === V2.response) return "binary";
  throw new HttpError(
    415,
    415,
    `HTTP 415 Unsupported Media Type: "${type || "none"}"; send ${V2.json} or ${V2.binary}`,
  );
}

/** What a v2 produce needs from the proxy. */
export interface V2ProduceDeps {
  topics: TopicCache;
  sender: RecordSender;
  autoCreate: boolean;
}

/** Produces the records of `body` to `topic` (and `partition` when the URL names one). */
export async function produceV2(
  deps: V2ProduceDeps,
  topic: string,
  partition: number | undefined,
  format: Format,
  body: Uint8Array,
): Promise<{ text: string; ok: number; failed: number }> {
  const records = parseProduceRequest(body, format);
  let meta = await deps.topics.describe(topic);
  if (!meta && deps.autoCreate) meta = await deps.topics.create(topic);
  if (!meta) throw topicNotFound(topic);
  if (partition !== undefined) {
    if (!meta.some((p) => p.partitionId === partition)) throw partitionNotFound(topic, partition);
    for (const r of records) r.partition = partition;
  }
  const results = await deps.sender.send(topic, meta, records);
  return offsetsAnswer(results);
}

/** `{"offsets":[…],"key_schema_id":null,"value_schema_id":null}`, built as text. */
function offsetsAnswer(results: SendResult[]): { text: string; ok: number; failed: number } {
  const parts: string[] = new Array(results.length);
  let ok = 0;
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r.ok) {
      ok++;
      parts[i] = `{"partition":${r.partition},"offset":${r.offset},"error_code":null,"error":null}`;
    } else {
      parts[i] = `{"partition":null,"offset":null,"error_code":${r.errorCode},"error":${
        JSON.stringify(r.error)
      }}`;
    }
  }
  return {
    text: `{"offsets":[${parts.join(",")}],"key_schema_id":null,"value_schema_id":null}`,
    ok,
    failed: results.length - ok,
  };
}
