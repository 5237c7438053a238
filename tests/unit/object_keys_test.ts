/**
 * The lake's object keys (lib/lake/lake.ts `objectKey`, `parseObjectKey`): the S3 sink
 * connector's layout, `topics/<topic>/partition=<p>/<topic>+<p>+<offset padded to 10>.json`,
 * which the transform reads back and the Spark notebook and Databricks read too (SPEC §3).
 * @module
 */
import assert from "node:assert/strict";
import { objectKey, OFFSET_PAD, parseObjectKey, TOPICS_DIR } from "../../lib/lake/lake.ts";

Deno.test("a key is the S3 sink's: topics dir, topic, partition, offset padded to ten digits", () => {
  assert.equal(TOPICS_DIR, "topics");
  assert.equal(OFFSET_PAD, 10);
  assert.equal(
    objectKey("pinpipe.pin", 0, 0),
    "topics/pinpipe.pin/partition=0/pinpipe.pin+0+0000000000.json",
  );
  assert.equal(
    objectKey("pinpipe.geo", 3, 12_345),
    "topics/pinpipe.geo/partition=3/pinpipe.geo+3+0000012345.json",
  );
  assert.equal(objectKey("t", 1, 7, "quarantine"), "quarantine/t/partition=1/t+1+0000000007.json");
});

Deno.test("offsets past ten digits and bigint offsets are written whole, never cut", () => {
  assert.equal(objectKey("t", 0, 12_345_678_901), "topics/t/partition=0/t+0+12345678901.json");
  assert.equal(
    objectKey("t", 0, 2n ** 53n + 1n),
    "topics/t/partition=0/t+0+9007199254740993.json",
  );
});

Deno.test("parsing a key gives back what made it, for dotted and dashed topic names", () => {
  for (
    const [topic, partition, offset] of [["pinpipe.pin", 0, 0], ["my-app.user", 11, 1000], [
      "x",
      2,
      9_999_999_999,
    ]] as const
  ) {
    assert.deepEqual(parseObjectKey(objectKey(topic, partition, offset)), {
      dir: "topics",
      topic,
      partition,
      startOffset: offset,
    });
  }
  // Under a prefix in a bucket: the dir is the folder just above the topic.
  assert.deepEqual(parseObjectKey("lake/topics/t/partition=0/t+0+0000000005.json"), {
    dir: "topics",
    topic: "t",
    partition: 0,
    startOffset: 5,
  });
});

Deno.test("a key that does not follow the layout is not taken for an object of the lake", () => {
  for (
    const key of [
      "topics/t/partition=0/u+0+0000000000.json", // topic differs from its folder
      "topics/t/partition=1/t+0+0000000000.json", // partition differs from its folder
      "topics/t/partition=0/t+0+0000000000.json.tmp", // a temp file
      "topics/t/partition=0/t+0+abc.json",
      "topics/t/t+0+0000000000.json", // no partition folder
      "t+0+0000000000.json",
    ]
  ) assert.equal(parseObjectKey(key), undefined, key);
});
