/**
 * Every route the REST proxy serves, in one table (lib/rest_proxy/routes.ts matches it and
 * answers 404, 405 and 415 from it): the v2 metadata and produce endpoints, the v2 consumer
 * API and the v3 clusters, topics and records endpoints. Handlers stay short: each calls the
 * part of the proxy that does the work (topics.ts, the produce gate, consumers.ts, v3.ts,
 * v3_records.ts).
 * @module
 */
import type { ConsumerAction, ConsumerManager } from "./consumers.ts";
import { CONTROL_TYPES } from "./consumers.ts";
import type { HeldBody } from "./http.ts";
import { answerType, jsonResponse, V2 } from "./http.ts";
import type { Params, Route } from "./routes.ts";
import type { ProxyRequest } from "./server.ts";
import { partitionJson, partitionNotFound, type TopicCache } from "./topics.ts";
import { getCluster, getTopic, listClusters, listTopics, requireCluster, V3_TYPE } from "./v3.ts";
import { produceRecords, type V3RecordsDeps } from "./v3_records.ts";

/** The bodies a v2 produce takes: json, binary, or the bare v2 type (binary, as Confluent's). */
export const PRODUCE_TYPES: readonly string[] = [V2.json, V2.binary, V2.response];

/** What the v3 records API takes ("" = no Content-Type). */
export const RECORDS_TYPES: readonly string[] = [V3_TYPE, ""];

/** The parts of the proxy the handlers call. */
export interface ProxyParts {
  topics: TopicCache;
  consumers: ConsumerManager;
  v3: V3RecordsDeps;
  /** A v2 produce (`partition` when the URL names one), under the proxy's produce slots. */
  produce(req: ProxyRequest, topic: string, partition: number | undefined): Promise<Response>;
  /** Reads a consumer request's body (small: at most 1 MiB), holding budget until released. */
  readControl(req: ProxyRequest): Promise<HeldBody>;
  /** The absolute URL prefix the client reached the proxy at (for links and `base_uri`). */
  base(req: ProxyRequest): string;
}

/** The proxy's routes: one table, written in three parts (v2, consumers, v3). */
export function proxyRoutes(p: ProxyParts): Route[] {
  return [...v2Routes(p), ...consumerRoutes(p), ...v3Routes(p)];
}

/** The v2 metadata endpoints, as Confluent's root, brokers and topics resources, and produce. */
function v2Routes(p: ProxyParts): Route[] {
  const { topics } = p;
  /** The answer type is settled (406) before Kafka is asked anything. */
  const meta = (req: ProxyRequest, answer: (type: string) => Promise<Response>) =>
    answer(answerType(req));
  const root = (req: ProxyRequest) =>
    meta(req, (type) => Promise.resolve(jsonResponse({}, 200, {}, type)));
  return [
    { method: "GET", path: "/", handle: root },
    { method: "POST", path: "/", handle: root },
    {
      method: "GET",
      path: "/brokers",
      handle: (req) =>
        meta(
          req,
          async (type) =>
            jsonResponse({ brokers: (await topics.clusterInfo()).brokers }, 200, {}, type),
        ),
    },
    {
      method: "GET",
      path: "/topics",
      handle: (req) => meta(req, async (type) => jsonResponse(await topics.list(), 200, {}, type)),
    },
    {
      method: "GET",
      path: "/topics/{topic}",
      handle: (req, { topic }) =>
        meta(req, async (type) => {
          const partitions = (await topics.require(topic, true)).map(partitionJson);
          return jsonResponse({ name: topic, configs: {}, partitions }, 200, {}, type);
        }),
    },
    {
      method: "GET",
      path: "/topics/{topic}/partitions",
      handle: (req, { topic }) =>
        meta(
          req,
          async (type) =>
            jsonResponse((await topics.require(topic, true)).map(partitionJson), 200, {}, type),
        ),
    },
    {
      method: "GET",
      path: "/topics/{topic}/partitions/{partition}",
      handle: (req, { topic, partition }) =>
        meta(req, async (type) => {
          const n = Number(partition);
          const found = (await topics.require(topic, true)).find((x) => x.partitionId === n);
          if (!found) throw partitionNotFound(topic, n);
          return jsonResponse(partitionJson(found), 200, {}, type);
        }),
    },
    {
      method: "GET",
      path: "/topics/{topic}/partitions/{partition}/offsets",
      handle: (req, { topic, partition }) =>
        meta(req, async (type) => {
          await topics.require(topic, true);
          const o = await topics.offsets(topic, Number(partition));
          return jsonResponse(
            { beginning_offset: o.beginning, end_offset: o.end },
            200,
            {},
            type,
          );
        }),
    },
    // v2 produce
    {
      method: "POST",
      path: "/topics/{topic}",
      accepts: PRODUCE_TYPES,
      handle: (req, { topic }) => p.produce(req, topic, undefined),
    },
    {
      method: "POST",
      path: "/topics/{topic}/partitions/{partition}",
      accepts: PRODUCE_TYPES,
      handle: (req, { topic, partition }) => p.produce(req, topic, Number(partition)),
    },
  ];
}

/** The v2 consumer API: creating an instance, then one route per action on it. */
function consumerRoutes(p: ProxyParts): Route[] {
  const instance = "/consumers/{group}/instances/{instance}";
  /** A route acting on one consumer instance; GET and POST bodies are read first. */
  const on = (
    method: "GET" | "POST" | "DELETE",
    sub: string,
    action: ConsumerAction,
  ): Route => ({
    method,
    path: `${instance}${sub}`,
    accepts: method === "DELETE" ? undefined : CONTROL_TYPES,
    handle: async (req: ProxyRequest, { group, instance }: Params) => {
      if (method === "DELETE") {
        return await p.consumers.act(action, req, group, instance, new Uint8Array());
      }
      const body = await p.readControl(req);
      try {
        return await p.consumers.act(action, req, group, instance, body.bytes);
      } finally {
        body.release();
      }
    },
  });
  return [
    {
      method: "POST",
      path: "/consumers/{group}",
      accepts: CONTROL_TYPES,
      handle: async (req, { group }) => {
        const body = await p.readControl(req);
        try {
          return await p.consumers.create(req, group, p.base(req), body.bytes);
        } finally {
          body.release();
        }
      },
    },
    on("DELETE", "", "delete"),
    on("POST", "/subscription", "subscribe"),
    on("GET", "/subscription", "subscription"),
    on("DELETE", "/subscription", "unsubscribe"),
    on("POST", "/assignments", "assign"),
    on("GET", "/assignments", "assignments"),
    on("POST", "/positions", "seek"),
    on("POST", "/positions/beginning", "seek-beginning"),
    on("POST", "/positions/end", "seek-end"),
    on("GET", "/records", "records"),
    on("POST", "/offsets", "commit"),
    on("GET", "/offsets", "committed"),
  ];
}

/** The v3 clusters, topics and records endpoints. */
function v3Routes(p: ProxyParts): Route[] {
  const { topics } = p;
  return [
    { method: "GET", path: "/v3/clusters", handle: (req) => listClusters(topics, p.base(req)) },
    {
      method: "GET",
      path: "/v3/clusters/{cluster}",
      handle: (req, { cluster }) => getCluster(topics, cluster, p.base(req)),
    },
    {
      method: "GET",
      path: "/v3/clusters/{cluster}/topics",
      handle: (req, { cluster }) => listTopics(topics, cluster, p.base(req)),
    },
    {
      method: "GET",
      path: "/v3/clusters/{cluster}/topics/{topic}",
      handle: (req, { cluster, topic }) => getTopic(topics, cluster, topic, p.base(req)),
    },
    {
      method: "POST",
      path: "/v3/clusters/{cluster}/topics/{topic}/records",
      accepts: RECORDS_TYPES,
      handle: async (req, { cluster, topic }) => {
        await requireCluster(topics, cluster);
        return await produceRecords(p.v3, req, cluster, topic);
      },
    },
  ];
}
