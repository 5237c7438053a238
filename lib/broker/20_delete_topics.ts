/**
 * DeleteTopics (key 20), versions 0–6.
 *
 * Behavior: deletes each topic, its logs and every group's committed offsets for it;
 * waiting fetches on it answer UNKNOWN_TOPIC_OR_PARTITION. Unknown topics get
 * UNKNOWN_TOPIC_OR_PARTITION, unknown ids (v6+) UNKNOWN_TOPIC_ID; a v6 entry with both a
 * name and an id gets INVALID_REQUEST, as Kafka answers.
 *
 * Version notes: v1+ throttle_time_ms; v4+ flexible; v5+ error_message; v6+ topics by
 * name or by id.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr, ZERO_UUID } from "./schema.ts";

export const deleteTopics = defineApi({
  key: 20,
  name: "DeleteTopics",
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: 4,
  request: {
    topics: arr({ name: "string null", topicId: "uuid" }, "v6+"),
    topicNames: "[]string v0-5",
    timeoutMs: "int32",
  },
  response: {
    throttleTimeMs: "int32 v1+",
    responses: arr({
      name: "string null6+",
      topicId: "uuid v6+",
      errorCode: "int16",
      errorMessage: "string v5+ null",
    }),
  },
  async handle(req, ctx) {
    const s = ctx.state;
    const asked = ctx.apiVersion >= 6
      ? req.topics
      : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses = [];
    for (const { name, topicId } of asked) {
      const answer = (errorCode: number, errorMessage: string | null, shownName = name) => ({
        name: shownName,
        topicId,
        errorCode,
        errorMessage,
      });
      if (name !== null && topicId !== ZERO_UUID) {
        responses.push(answer(ErrorCode.INVALID_REQUEST, "give a topic name or an id, not both"));
        continue;
      }
      const topic = name !== null ? s.topics.get(name) : s.topics.byId(topicId);
      if (!topic) {
        responses.push(
          name !== null
            ? answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`)
            : answer(ErrorCode.UNKNOWN_TOPIC_ID, `no topic has the id ${topicId}`),
        );
        continue;
      }
      await s.topics.delete(topic.name);
      s.offsets.deleteTopic(topic.name);
      responses.push({ name: topic.name, topicId: topic.id, errorCode: 0, errorMessage: null });
    }
    return { responses };
  },
});
