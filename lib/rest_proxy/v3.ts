/**
 * The v3 API parts pinpipe serves besides the records API (reference/aws-kafka.md §1.5):
 * `GET /v3/clusters`, `GET /v3/clusters/{id}`, `GET /v3/clusters/{id}/topics` and
 * `GET /v3/clusters/{id}/topics/{topic}`, with `self` links under the URL the client reached
 * the proxy at. The records API is lib/rest_proxy/v3_records.ts.
 * @module
 */
import { HttpError, jsonResponse } from "./http.ts";
import type { TopicCache } from "./topics.ts";
import { topicNotFound } from "./topics.ts";

/** The v3 answers' content type. */
export const V3_TYPE = "application/json";

/** 404 for a cluster id that is not this cluster's. */
function clusterNotFound(id: string): HttpError {
  return new HttpError(404, 404, `Cluster ${id} cannot be found.`);
}

/** `GET /v3/clusters`: the one cluster. */
export async function listClusters(topics: TopicCache, base: string): Promise<Response> {
  const info = await topics.clusterInfo();
  const self = `${base}/v3/clusters`;
  return jsonResponse(
    {
      kind: "KafkaClusterList",
      metadata: { self, next: null },
      data: [clusterJson(info.id, `${self}/${info.id}`)],
    },
    200,
    {},
    V3_TYPE,
  );
}

/** `GET /v3/clusters/{id}`. */
export async function getCluster(topics: TopicCache, id: string, base: string) {
  await requireCluster(topics, id);
  return jsonResponse(clusterJson(id, `${base}/v3/clusters/${id}`), 200, {}, V3_TYPE);
}

/** `GET /v3/clusters/{id}/topics`. */
export async function listTopics(topics: TopicCache, id: string, base: string) {
  await requireCluster(topics, id);
  const self = `${base}/v3/clusters/${id}/topics`;
  const names = await topics.list();
  const data = await Promise.all(names.map(async (t) => {
    const meta = await topics.describe(t);
    return topicJson(
      id,
      t,
      meta?.length ?? 0,
      meta?.[0]?.replicas.length ?? 0,
      `${self}/${encodeURIComponent(t)}`,
    );
  }));
  return jsonResponse(
    { kind: "KafkaTopicList", metadata: { self, next: null }, data },
    200,
    {},
    V3_TYPE,
  );
}

/** `GET /v3/clusters/{id}/topics/{topic}`. */
export async function getTopic(topics: TopicCache, id: string, topic: string, base: string) {
  await requireCluster(topics, id);
  const meta = await topics.describe(topic, true);
  if (!meta) throw topicNotFound(topic);
  return jsonResponse(
    topicJson(
      id,
      topic,
      meta.length,
      meta[0]?.replicas.length ?? 0,
      `${base}/v3/clusters/${id}/topics/${encodeURIComponent(topic)}`,
    ),
    200,
    {},
    V3_TYPE,
  );
}

/** Throws 404 unless `id` is this cluster's id. */
export async function requireCluster(topics: TopicCache, id: string): Promise<void> {
  if (id !== (await topics.clusterInfo()).id) throw clusterNotFound(id);
}

function clusterJson(id: string, self: string) {
  const rel = (p: string) => ({ related: `${self}${p}` });
  return {
    kind: "KafkaCluster",
    metadata: { self, resource_name: `crn:///kafka=${id}` },
    cluster_id: id,
    controller: rel("/brokers"),
    acls: rel("/acls"),
    brokers: rel("/brokers"),
    broker_configs: rel("/broker-configs"),
    consumer_groups: rel("/consumer-groups"),
    topics: rel("/topics"),
    partition_reassignments: rel("/topics/-/partitions/-/reassignment"),
  };
}

function topicJson(cluster: string, topic: string, partitions: number, rf: number, self: string) {
  return {
    kind: "KafkaTopic",
    metadata: { self, resource_name: `crn:///kafka=${cluster}/topic=${topic}` },
    cluster_id: cluster,
    topic_name: topic,
    is_internal: false,
    replication_factor: rf,
    partitions_count: partitions,
    partitions: { related: `${self}/partitions` },
    configs: { related: `${self}/configs` },
    partition_reassignments: { related: `${self}/partitions/-/reassignment` },
    authorized_operations: [],
  };
}
