/**
 * The idempotent producer (issue 10 item 2): InitProducerId hands out producer ids that
 * are never reused; a retried batch is answered with its first offset and not appended
 * twice, also after a restart and after retention deleted its segment; a sequence gap gets
 * OUT_OF_ORDER_SEQUENCE_NUMBER and an older epoch INVALID_PRODUCER_EPOCH; transactions are
 * refused the way a Kafka broker refuses them to a client that may not use them.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/broker/error_codes.ts";
import { envTest, waitFor, withBroker } from "../_fixtures.ts";
import { withWire } from "../_kafka_wire.ts";
import { withKafka } from "../_engines.ts";

/** InitProducerId at every version from v0 to v5 (flexible from v2): [error, epoch, id]. */
async function everyInitProducerId(bootstrap: string): Promise<[number, number, number][]> {
  return await withWire(bootstrap, async (c) => {
    const out: [number, number, number][] = [];
    for (let v = 0; v <= 5; v++) {
      const ask = () =>
        c.call("InitProducerId", v, {
          transactionalId: null,
          transactionTimeoutMs: 60_000,
          producerId: -1,
          producerEpoch: -1,
        });
      let res = await ask();
      // A Kafka just started answers COORDINATOR_LOAD_IN_PROGRESS for a moment.
      await waitFor("producer ids to be ready", async () => {
        if (res.errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return true;
        res = await ask();
        return false;
      }, 30_000);
      out.push([res.errorCode, res.producerEpoch, res.producerId]);
    }
    return out;
  });
}

await envTest(
  "InitProducerId v0 to v5 each hand out a new producer id with epoch 0, as Apache Kafka 3.9 does",
  ["kafka"],
  async () => {
    const ours = await withBroker((b) => everyInitProducerId(b.bootstrap));
    const theirs = await withKafka((k) => everyInitProducerId(k.bootstrap));
    for (const got of [ours, theirs]) {
      assert.deepEqual(got.map(([e, epoch]) => [e, epoch]), Array(6).fill([0, 0]));
      assert.equal(new Set(got.map(([, , id]) => id)).size, 6, "six different ids");
    }
  },
);
