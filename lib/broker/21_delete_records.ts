/**
 * DeleteRecords (key 21), versions 0–2 (kafka-delete-records, admin clients).
 *
 * Behavior: moves each partition's log start offset up to the given offset (-1: the high
 * watermark); records before it are no longer served (a fetch below it gets
 * OFFSET_OUT_OF_RANGE, ListOffsets earliest answers it) and their segments go once wholly
 * below it. The answer is the new low watermark. An offset past the high watermark gets
 * OFFSET_OUT_OF_RANGE, an unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION.
 *
 * Version notes: v1 same as v0; v2 flexible.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const deleteRecords = defineApi({
  key: 21,
  name: "DeleteRecords",
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: {
    topics: arr({
      name: "string",
      partitions: arr({ partitionIndex: "int32", offset: "int64" }),
    }),
    timeoutMs: "int32",
  },
  response: {
    throttleTimeMs: "int32",
    topics: arr({
      name: "string",
      partitions: arr({ partitionIndex: "int32", lowWatermark: "int64", errorCode: "int16" }),
    }),
  },
  handle(req, ctx) {
    const s = ctx.state;
    return {
      topics: req.topics.map((t) => {
        const topic = s.topics.get(t.name);
        return {
          name: t.name,
          partitions: t.partitions.map((p) => {
            const log = topic?.partitions[p.partitionIndex];
            if (!log) {
              return {
                partitionIndex: p.partitionIndex,
                lowWatermark: -1,
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              };
            }
            const res = log.deleteRecordsBefore(p.offset);
            if ("error" in res) {
              return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: res.error };
            }
            s.log(`${t.name}-${p.partitionIndex}: records before ${res.logStartOffset} deleted`);
            return {
              partitionIndex: p.partitionIndex,
              lowWatermark: res.logStartOffset,
              errorCode: ErrorCode.NONE,
            };
          }),
        };
      }),
    };
  },
});
