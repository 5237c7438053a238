/**
 * Helpers for the broker's storage and resilience tests: a raw connection speaking
 * kafkajs's own request encodings (the oracle), in process. The broker task in a process of
 * its own is tests/_broker_process.ts.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encodeKafkajsRequest, kafkajsRequests } from "./deps/kafkajs_protocol.ts";
import { RawKafkaConn } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

/** A raw connection that sends requests as kafkajs encodes them and decodes the answers. */
export class Oracle {
  private cid = 1;
  private constructor(readonly conn: RawKafkaConn) {}

  /** Connects to `bootstrap`. */
  static async open(bootstrap: string): Promise<Oracle> {
    return new Oracle(await RawKafkaConn.open(bootstrap));
  }

  /** Sends `api` v`version` with `args`; answers kafkajs's decoding of the response. */
  async call(api: string, version: number, args: Any = {}): Promise<Any> {
    const { request, response } = kafkajsRequests[api].protocol({ version })(args);
    const correlationId = this.cid++;
    const frame = await encodeKafkajsRequest({ correlationId, clientId: "oracle", request });
    await this.conn.send(frame.buffer);
    if (request.expectResponse && !request.expectResponse()) return undefined;
    const res = await this.conn.readFrame(30_000);
    assert.ok(res, `the broker closed the connection on ${api} v${version}`);
    assert.equal(new DataView(res.buffer).getInt32(0), correlationId, "correlation id");
    return await response.decode(Buffer.from(res.subarray(4)));
  }

  /**
   * Produce v7 of `values` to `topic`-`partition` (acks -1), optionally as an idempotent
   * producer; answers the partition's [error code, base offset].
   */
  async produce(
    topic: string,
    partition: number,
    values: string[],
    idem?: { producerId: number; epoch: number; seq: number; transactionalId?: string },
  ): Promise<[number, number]> {
    const res = await this.call("Produce", 7, {
      acks: -1,
      timeout: 5000,
      transactionalId: idem?.transactionalId ?? null,
      producerId: idem ? idem.producerId : -1,
      producerEpoch: idem ? idem.epoch : 0,
      topicData: [{
        topic,
        partitions: [{
          partition,
          firstSequence: idem ? idem.seq : undefined,
          messages: values.map((v) => ({ value: v })),
        }],
      }],
    });
    const p = res.topics[0].partitions[0];
    return [p.errorCode, Number(p.baseOffset)];
  }

  close(): void {
    this.conn.close();
  }
}
