/**
 * What each request of an IAM principal with policies may do, decided as MSK decides it:
 * every Kafka API maps to MSK's `kafka-cluster:` actions on cluster, topic and group ARNs
 * (the same places Apache Kafka checks its ACLs), and what is denied is answered with
 * Kafka's authorization errors where Kafka answers them:
 *
 *   Metadata            DescribeTopic per topic (the full list shows only those; a named
 *                       one gets TOPIC_AUTHORIZATION_FAILED); auto-creation needs CreateTopic
 *   Produce             WriteData per topic (TOPIC_AUTHORIZATION_FAILED)
 *   Fetch               ReadData per topic (TOPIC_AUTHORIZATION_FAILED)
 *   ListOffsets         DescribeTopic per topic
 *   OffsetCommit        AlterGroup on the group (GROUP_AUTHORIZATION_FAILED), ReadData per topic
 *   OffsetFetch         DescribeGroup on the group
 *   FindCoordinator     DescribeGroup on the group
 *   JoinGroup, SyncGroup, Heartbeat, LeaveGroup     AlterGroup on the group
 *   DescribeGroups      DescribeGroup per group;  ListGroups: only groups it may describe
 *   DeleteGroups        DeleteGroup per group
 *   CreateTopics        CreateTopic per topic;    DeleteTopics: DeleteTopic per topic
 *   CreatePartitions    AlterTopic per topic
 *   InitProducerId      WriteDataIdempotently on the cluster (CLUSTER_AUTHORIZATION_FAILED)
 *   DescribeConfigs     DescribeTopicDynamicConfiguration / DescribeClusterDynamicConfiguration
 *   DescribeCluster     DescribeCluster on the cluster
 *   ApiVersions, SaslHandshake, SaslAuthenticate    nothing (Connect is checked at login)
 *
 * Any other API from a principal with policies is refused as a whole: the connection is
 * closed with a log line naming the API (this broker does not map it yet).
 *
 * Every denial is logged once per connection, action and resource, with the deciding
 * statement or the files none of whose statements allow it.
 * @module
 */
import { MalformedRequestError } from "./codec.ts";
import { ErrorCode } from "./error_codes.ts";
import type { Authorizer } from "./iam_policy.ts";
import type { RequestContext } from "./api.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

export type { Authorizer };

/** The request to handle (maybe narrowed), or the whole answer, and how to complete the response. */
export interface Authorized {
  req: Any;
  answer?: Any;
  after?: (res: Any) => Any;
}

function allowed(
  az: Authorizer,
  ctx: RequestContext,
  action: string,
  resource: string,
): boolean {
  const d = az.policies.decide(`kafka-cluster:${action}`, resource);
  if (!d.allowed) {
    const key = `${action} ${resource}`;
    if (!az.logged.has(key)) {
      az.logged.add(key);
      ctx.state.log(`denied ${az.principal} kafka-cluster:${action} on ${resource}: ${d.why}`);
    }
  }
  return d.allowed;
}

const TOPIC_DENIED = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const GROUP_DENIED = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const CLUSTER_DENIED = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;

/** Splits `items` by whether `action` is allowed on each one's topic. */
function byTopic<T>(
  az: Authorizer,
  ctx: RequestContext,
  items: T[],
  name: (t: T) => string,
  action: string,
): [T[], T[]] {
  const ok: T[] = [];
  const no: T[] = [];
  for (const t of items) {
    // A topic id the broker does not know is left to the handler (UNKNOWN_TOPIC_ID, as Kafka).
    const n = name(t);
    (n === "" || allowed(az, ctx, action, az.arns.topic(n)) ? ok : no).push(t);
  }
  return [ok, no];
}

/** Decides `apiName`'s request `req` for `az`. */
export function authorize(
  apiName: string,
  req: Any,
  ctx: RequestContext,
  az: Authorizer,
): Authorized {
  const cluster = az.arns.cluster;
  const group = (id: string, action = "AlterGroup") => allowed(az, ctx, action, az.arns.group(id));
  switch (apiName) {
    case "ApiVersions":
    case "SaslHandshake":
    case "SaslAuthenticate":
      return { req };
    case "Metadata": {
      if (req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0)) {
        return {
          req,
          after: (res) => ({
            ...res,
            topics: res.topics.filter((t: Any) =>
              allowed(az, ctx, "DescribeTopic", az.arns.topic(t.name))
            ),
          }),
        };
      }
      const [ok, no] = byTopic(
        az,
        ctx,
        req.topics.filter((t: Any) => t.name !== null),
        (t: Any) => t.name,
        "DescribeTopic",
      );
      const create = req.allowAutoTopicCreation &&
        ok.every((t: Any) => allowed(az, ctx, "CreateTopic", az.arns.topic(t.name)));
      return {
        req: { ...req, topics: ok, allowAutoTopicCreation: create },
        after: (res) => ({
          ...res,
          topics: [
            ...res.topics,
            ...no.map((t: Any) => ({
              errorCode: TOPIC_DENIED,
              name: t.name,
              topicId: t.topicId,
              isInternal: false,
              partitions: [],
            })),
          ],
        }),
      };
    }
    case "Produce": {
      const [ok, no] = byTopic(az, ctx, req.topicData, (t: Any) => t.name, "WriteData");
      if (no.length === 0) return { req };
      return {
        req: { ...req, topicData: ok },
        after: (res) => ({
          ...res,
          responses: [
            ...res.responses,
            ...no.map((t: Any) => ({
              name: t.name,
              partitionResponses: t.partitionData.map((p: Any) => ({
                index: p.index,
                errorCode: TOPIC_DENIED,
                baseOffset: -1,
                recordErrors: [],
                errorMessage: null,
              })),
            })),
          ],
        }),
      };
    }
    case "Fetch": {
      // v13+ names topics by id only.
      const nameOf = (t: Any) =>
        ctx.apiVersion >= 13 ? ctx.state.topics.byId(t.topicId)?.name ?? "" : t.topic;
      const [ok, no] = byTopic(az, ctx, req.topics, nameOf, "ReadData");
      if (no.length === 0) return { req };
      return {
        req: { ...req, topics: ok },
        after: (res) => ({
          ...res,
          responses: [
            ...res.responses,
            ...no.map((t: Any) => ({
              topic: t.topic,
              topicId: t.topicId,
              partitions: t.partitions.map((p: Any) => ({
                partitionIndex: p.partition,
                errorCode: TOPIC_DENIED,
                highWatermark: -1,
                abortedTransactions: null,
                records: null,
              })),
            })),
          ],
        }),
      };
    }
    case "ListOffsets": {
      const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "DescribeTopic");
      if (no.length === 0) return { req };
      return {
        req: { ...req, topics: ok },
        after: (res) => ({
          ...res,
          topics: [
            ...res.topics,
            ...no.map((t: Any) => ({
              name: t.name,
              partitions: t.partitions.map((p: Any) => ({
                partitionIndex: p.partitionIndex,
                errorCode: TOPIC_DENIED,
                oldStyleOffsets: [],
              })),
            })),
          ],
        }),
      };
    }
    case "OffsetCommit": {
      const denyAll = (code: number, topics: Any[]) =>
        topics.map((t: Any) => ({
          name: t.name,
          partitions: t.partitions.map((p: Any) => ({
            partitionIndex: p.partitionIndex,
            errorCode: code,
          })),
        }));
      if (!group(req.groupId)) {
        return { req, answer: { topics: denyAll(GROUP_DENIED, req.topics) } };
      }
      const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "ReadData");
      if (no.length === 0) return { req };
      return {
        req: { ...req, topics: ok },
        after: (res) => ({ ...res, topics: [...res.topics, ...denyAll(TOPIC_DENIED, no)] }),
      };
    }
    case "OffsetFetch": {
      if (ctx.apiVersion < 8) {
        if (group(req.groupId, "DescribeGroup")) return { req };
        return { req, answer: { topics: [], errorCode: GROUP_DENIED } };
      }
      const [ok, no] = [
        req.groups.filter((g: Any) => group(g.groupId, "DescribeGroup")),
        req.groups.filter((g: Any) => !group(g.groupId, "DescribeGroup")),
      ];
      if (no.length === 0) return { req };
      const denied = no.map((g: Any) => ({
        groupId: g.groupId,
        topics: [],
        errorCode: GROUP_DENIED,
      }));
      if (ok.length === 0) return { req, answer: { groups: denied } };
      return {
        req: { ...req, groups: ok },
        after: (res) => ({ ...res, groups: [...res.groups, ...denied] }),
      };
    }
    case "FindCoordinator": {
      if (req.keyType !== 0) return { req };
      const refuse = (key: string) => ({
        key,
        nodeId: -1,
        host: "",
        port: -1,
        errorCode: GROUP_DENIED,
        errorMessage: null,
      });
      if (ctx.apiVersion < 4) {
        if (group(req.key, "DescribeGroup")) return { req };
        const { key: _, ...one } = refuse(req.key);
        return { req, answer: one };
      }
      const no = req.coordinatorKeys.filter((k: string) => !group(k, "DescribeGroup"));
      if (no.length === 0) return { req };
      const ok = req.coordinatorKeys.filter((k: string) => !no.includes(k));
      if (ok.length === 0) return { req, answer: { coordinators: no.map(refuse) } };
      return {
        req: { ...req, coordinatorKeys: ok },
        after: (res) => ({ ...res, coordinators: [...res.coordinators, ...no.map(refuse)] }),
      };
    }
    case "JoinGroup":
      return group(req.groupId) ? { req } : {
        req,
        answer: {
          errorCode: GROUP_DENIED,
          generationId: -1,
          protocolType: null,
          protocolName: ctx.apiVersion >= 7 ? null : "",
          leader: "",
          skipAssignment: false,
          memberId: "",
          members: [],
        },
      };
    case "SyncGroup":
      return group(req.groupId) ? { req } : {
        req,
        answer: {
          errorCode: GROUP_DENIED,
          protocolType: null,
          protocolName: null,
          assignment: new Uint8Array(0),
        },
      };
    case "Heartbeat":
      return group(req.groupId) ? { req } : { req, answer: { errorCode: GROUP_DENIED } };
    case "LeaveGroup":
      return group(req.groupId)
        ? { req }
        : { req, answer: { errorCode: GROUP_DENIED, members: [] } };
    case "DescribeGroups": {
      const no = req.groups.filter((g: string) => !group(g, "DescribeGroup"));
      if (no.length === 0) return { req };
      const denied = no.map((groupId: string) => ({
        errorCode: GROUP_DENIED,
        groupId,
        groupState: "",
        protocolType: "",
        protocolData: "",
        members: [],
      }));
      const ok = req.groups.filter((g: string) => !no.includes(g));
      if (ok.length === 0) return { req, answer: { groups: denied } };
      return {
        req: { ...req, groups: ok },
        after: (res) => ({ ...res, groups: [...res.groups, ...denied] }),
      };
    }
    case "ListGroups":
      return {
        req,
        after: (res) => ({
          ...res,
          groups: res.groups.filter((g: Any) => group(g.groupId, "DescribeGroup")),
        }),
      };
    case "DeleteGroups": {
      const no = req.groupsNames.filter((g: string) => !group(g, "DeleteGroup"));
      if (no.length === 0) return { req };
      const denied = no.map((groupId: string) => ({ groupId, errorCode: GROUP_DENIED }));
      const ok = req.groupsNames.filter((g: string) => !no.includes(g));
      if (ok.length === 0) return { req, answer: { results: denied } };
      return {
        req: { ...req, groupsNames: ok },
        after: (res) => ({ ...res, results: [...res.results, ...denied] }),
      };
    }
    case "CreateTopics": {
      const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "CreateTopic");
      if (no.length === 0) return { req };
      const denied = no.map((t: Any) => ({
        name: t.name,
        errorCode: TOPIC_DENIED,
        errorMessage: "Authorization failed.",
        configs: null,
      }));
      return {
        req: { ...req, topics: ok },
        after: (res) => ({ ...res, topics: [...res.topics, ...denied] }),
      };
    }
    case "DeleteTopics": {
      if (ctx.apiVersion >= 6) {
        const nameOf = (t: Any) => t.name ?? ctx.state.topics.byId(t.topicId)?.name ?? "";
        const [ok, no] = byTopic(az, ctx, req.topics, nameOf, "DeleteTopic");
        if (no.length === 0) return { req };
        const denied = no.map((t: Any) => ({
          name: t.name,
          topicId: t.topicId,
          errorCode: TOPIC_DENIED,
          errorMessage: null,
        }));
        return {
          req: { ...req, topics: ok },
          after: (res) => ({ ...res, responses: [...res.responses, ...denied] }),
        };
      }
      const [ok, no] = byTopic(az, ctx, req.topicNames, (t: string) => t, "DeleteTopic");
      if (no.length === 0) return { req };
      return {
        req: { ...req, topicNames: ok },
        after: (res) => ({
          ...res,
          responses: [
            ...res.responses,
            ...no.map((name: string) => ({ name, errorCode: TOPIC_DENIED, errorMessage: null })),
          ],
        }),
      };
    }
    case "CreatePartitions": {
      const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "AlterTopic");
      if (no.length === 0) return { req };
      const denied = no.map((t: Any) => ({
        name: t.name,
        errorCode: TOPIC_DENIED,
        errorMessage: null,
      }));
      return {
        req: { ...req, topics: ok },
        after: (res) => ({ ...res, results: [...res.results, ...denied] }),
      };
    }
    case "InitProducerId":
      if (req.transactionalId !== null) return { req };
      return allowed(az, ctx, "WriteDataIdempotently", cluster) ? { req } : {
        req,
        answer: { errorCode: CLUSTER_DENIED, producerId: -1, producerEpoch: -1 },
      };
    case "DescribeCluster":
      return allowed(az, ctx, "DescribeCluster", cluster) ? { req } : {
        req,
        answer: {
          errorCode: CLUSTER_DENIED,
          errorMessage: null,
          clusterId: "",
          controllerId: -1,
          brokers: [],
        },
      };
    case "DescribeConfigs": {
      const may = (r: Any) =>
        r.resourceType === 2
          ? allowed(az, ctx, "DescribeTopicDynamicConfiguration", az.arns.topic(r.resourceName))
          : allowed(az, ctx, "DescribeClusterDynamicConfiguration", cluster);
      const no = req.resources.filter((r: Any) => !may(r));
      if (no.length === 0) return { req };
      const denied = no.map((r: Any) => ({
        errorCode: r.resourceType === 2 ? TOPIC_DENIED : CLUSTER_DENIED,
        errorMessage: null,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: [],
      }));
      const ok = req.resources.filter((r: Any) => !no.includes(r));
      if (ok.length === 0) return { req, answer: { results: denied } };
      return {
        req: { ...req, resources: ok },
        after: (res) => ({ ...res, results: [...res.results, ...denied] }),
      };
    }
    default:
      throw new MalformedRequestError(
        `${apiName} from ${az.principal}: this broker does not map ${apiName} to MSK's IAM ` +
          "actions yet, so a principal with policies may not send it",
      );
  }
}
