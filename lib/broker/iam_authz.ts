/**
 * What each request of an IAM principal with policies may do, decided as MSK decides it:
 * every Kafka API maps to MSK's `kafka-cluster:` actions on cluster, topic and group ARNs
 * (the same places Apache Kafka checks its ACLs), and what is denied is answered with
 * Kafka's authorization errors where Kafka answers them:
 *
 *   Metadata            DescribeTopic per topic (the full list shows only those; a named
 *                       one gets TOPIC_AUTHORIZATION_FAILED); auto-creating a missing topic
 *                       needs CreateTopic on it (else TOPIC_AUTHORIZATION_FAILED)
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
 *   InitProducerId      with a transactional id: AlterTransactionalId on it
 *                       (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); without one:
 *                       WriteDataIdempotently on the cluster (CLUSTER_AUTHORIZATION_FAILED;
 *                       Kafka 3.x's ACL authorizer also lets WRITE on any topic do, MSK's
 *                       table names IDEMPOTENT_WRITE CLUSTER only)
 *   Produce of transactional batches   AlterTransactionalId on the request's transactional
 *                       id, every partition TRANSACTIONAL_ID_AUTHORIZATION_FAILED (then
 *                       WriteData per topic as above)
 *   FindCoordinator (transaction key)  DescribeTransactionalId on the id (v4+: each key
 *                       in the request's order)
 *   AddPartitionsToTxn  AlterTransactionalId on the id (each of its partitions
 *                       TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then WriteData per topic: any
 *                       topic denied fails the whole transaction's request, the denied ones
 *                       TOPIC_AUTHORIZATION_FAILED, missing ones UNKNOWN_TOPIC_OR_PARTITION,
 *                       the rest OPERATION_NOT_ATTEMPTED; v4+ (brokers' batched form) needs
 *                       Kafka's CLUSTER_ACTION, which no kafka-cluster action grants:
 *                       CLUSTER_AUTHORIZATION_FAILED
 *   AddOffsetsToTxn     AlterTransactionalId, then AlterGroup on the group
 *   TxnOffsetCommit     AlterTransactionalId, AlterGroup on the group, ReadData per topic
 *                       (in Kafka's order: refused and unknown partitions first)
 *   EndTxn              AlterTransactionalId on the id
 *   DescribeTransactions  DescribeTransactionalId per id; each transaction's partitions
 *                       only of topics it may DescribeTopic
 *   ListTransactions    only ids it may DescribeTransactionalId
 *   DescribeProducers   ReadData per topic (in the request's order)
 *   DescribeConfigs     DescribeTopicDynamicConfiguration / DescribeClusterDynamicConfiguration
 *   DescribeCluster     DescribeCluster on the cluster
 *   DeleteRecords       DeleteTopic per topic (each partition TOPIC_AUTHORIZATION_FAILED,
 *                       low watermark -1; Kafka asks DELETE of the topic)
 *   IncrementalAlterConfigs   AlterTopicDynamicConfiguration per topic
 *                       (TOPIC_AUTHORIZATION_FAILED); a broker's, a broker logger's or client
 *                       metrics' configs AlterClusterDynamicConfiguration on the cluster
 *                       (CLUSTER_AUTHORIZATION_FAILED); answers in the request's order
 *   OffsetDelete        DeleteGroup on the group (the whole answer GROUP_AUTHORIZATION_FAILED),
 *                       then ReadData per topic (its partitions TOPIC_AUTHORIZATION_FAILED)
 *   DescribeClientQuotas   DescribeClusterDynamicConfiguration on the cluster (Kafka's
 *                       DESCRIBE_CONFIGS CLUSTER; the whole answer CLUSTER_AUTHORIZATION_FAILED)
 *   DescribeUserScramCredentials   DescribeCluster on the cluster (DESCRIBE CLUSTER; the
 *                       answer and one result per user asked CLUSTER_AUTHORIZATION_FAILED)
 *   AlterUserScramCredentials   AlterCluster on the cluster (ALTER CLUSTER; every user's
 *                       result CLUSTER_AUTHORIZATION_FAILED)
 *   ConsumerGroupHeartbeat   AlterGroup on the group (Kafka 3.9 asks READ of the group
 *                       only, not DESCRIBE of the subscribed topics; GROUP_AUTHORIZATION_FAILED)
 *   ConsumerGroupDescribe    DescribeGroup per group (GROUP_AUTHORIZATION_FAILED, the denied
 *                       groups first, as Kafka answers them)
 *   ApiVersions, SaslHandshake, SaslAuthenticate    nothing (Connect is checked at login)
 *
 * (Kafka's WRITE on a transactional id is AlterTransactionalId, its DESCRIBE
 * DescribeTransactionalId, READ on a group AlterGroup, as MSK's action table has them; MSK
 * implies no action from another, so a transactional producer needs both transactional-id
 * actions.) The table is Kafka 3.9's own ACL checks (KafkaApis, ControllerApis: which
 * operation on which resource each API asks, and how a refusal is answered) read through
 * MSK's action table ("Semantics of IAM authorization policy actions and resources", MSK
 * developer guide), where each kafka-cluster action is "equivalent to Apache Kafka's"
 * operation on a resource type: DELETE TOPIC is DeleteTopic, ALTER_CONFIGS TOPIC
 * AlterTopicDynamicConfiguration, ALTER_CONFIGS CLUSTER AlterClusterDynamicConfiguration,
 * DESCRIBE_CONFIGS CLUSTER DescribeClusterDynamicConfiguration, DESCRIBE CLUSTER
 * DescribeCluster, ALTER CLUSTER AlterCluster, DELETE GROUP DeleteGroup. (MSK keeps its
 * SCRAM users in Secrets Manager; whether it lets a principal with AlterCluster change them
 * through Kafka's API its guide does not say, so this broker lets the policy decide.) The
 * answers of the admin, KIP-848 and transaction APIs equal Apache Kafka 3.9.1's under the
 * equivalent ACLs (tests/engine/broker_iam_authz_oracle_test.ts).
 *
 * Every API the broker serves has a rule (MAPPED_APIS; a unit test holds the registry to
 * it). An API added without one is refused as a whole to a principal with policies: the
 * connection is closed with a log line naming the API (this broker does not map it yet).
 *
 * Every denial is logged once per connection, action and resource, with the deciding
 * statement or the files none of whose statements allow it.
 * @module
 */
import { MalformedRequestError } from "./codec.ts";
import { ErrorCode } from "./error_codes.ts";
import type { Authorizer } from "./iam_policy.ts";
import type { RequestContext } from "./api.ts";
import { TRANSACTIONAL_FLAG } from "./record_batch.ts";

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
  logDenial = true,
): boolean {
  const d = az.policies.decide(`kafka-cluster:${action}`, resource);
  if (!d.allowed && logDenial) {
    const key = `${action} ${resource}`;
    if (!az.logged.has(key)) {
      az.logged.add(key);
      ctx.state.log(`denied ${az.principal} kafka-cluster:${action} on ${resource}: ${d.why}`);
    }
  }
  return d.allowed;
}

/** Logs a denial that no policy decides (once per connection, action and resource). */
function logOnce(
  az: Authorizer,
  ctx: RequestContext,
  action: string,
  resource: string,
  why: string,
): void {
  const key = `${action} ${resource}`;
  if (az.logged.has(key)) return;
  az.logged.add(key);
  ctx.state.log(`denied ${az.principal} ${action} on ${resource}: ${why}`);
}

const TOPIC_DENIED = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const GROUP_DENIED = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const CLUSTER_DENIED = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
const TXN_DENIED = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;

/** True when the first batch of some partition's records is transactional (magic 2). */
function hasTransactionalRecords(topicData: Any[]): boolean {
  return topicData.some((t: Any) =>
    t.partitionData.some((p: Any) => {
      const r: Uint8Array | null = p.records;
      return r !== null && r.byteLength > 22 && r[16] === 2 &&
        (r[22] & TRANSACTIONAL_FLAG) !== 0;
    })
  );
}

/** Every partition of `topics` (name, partitions: number[]) answered `code`. */
function txnTopicResults(topics: Any[], code: number) {
  return topics.map((t: Any) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((p: number) => ({
      partitionIndex: p,
      partitionErrorCode: code,
    })),
  }));
}

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

/**
 * Narrows `req[field]` to the topics `action` is allowed on; the denied ones are answered in
 * the response's `resField`, each as `deniedOf` makes it (after the broker's own answers).
 */
function narrowTopics(
  az: Authorizer,
  ctx: RequestContext,
  req: Any,
  field: string,
  name: (t: Any) => string,
  action: string,
  resField: string,
  deniedOf: (t: Any) => Any,
): Authorized {
  const [ok, no] = byTopic(az, ctx, req[field], name, action);
  if (no.length === 0) return { req };
  return {
    req: { ...req, [field]: ok },
    after: (res) => ({ ...res, [resField]: [...res[resField], ...no.map(deniedOf)] }),
  };
}

/** What a rule decides with: the request, its context, the principal, and ARN shorthands. */
interface Scope {
  req: Any;
  ctx: RequestContext;
  az: Authorizer;
  cluster: string;
  group: (id: string, action?: string) => boolean;
  txnId: (id: string, action?: string, log?: boolean) => boolean;
}

/** How one Kafka API is authorized (see the table in the module's header). */
type Rule = (s: Scope) => Authorized;

/** ApiVersions, SaslHandshake, SaslAuthenticate. */
const ruleApiVersions: Rule = ({ req }) => {
  return { req };
};

/** Metadata. */
const ruleMetadata: Rule = ({ req, ctx, az }) => {
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
  // A topic asked for by id (v12+) is decided by the name it has here; an id no topic has
  // goes on to be answered UNKNOWN_TOPIC_ID, and a refused one keeps its name unsaid, as
  // Kafka answers (name null, the id given).
  const nameOf = (t: Any): string | undefined => t.name ?? ctx.state.topics.byId(t.topicId)?.name;
  const [known, unknownIds] = [
    req.topics.filter((t: Any) => nameOf(t) !== undefined),
    req.topics.filter((t: Any) => nameOf(t) === undefined),
  ];
  const [ok, no] = byTopic(az, ctx, known, (t: Any) => nameOf(t)!, "DescribeTopic");
  // Auto-creation as Kafka 3.9 asks it: CreateTopic only of the described topics that do
  // not exist, when the broker creates topics on demand; one it may not create is answered
  // TOPIC_AUTHORIZATION_FAILED (the others are still created).
  const uncreatable = req.allowAutoTopicCreation && ctx.state.settings.autoCreate
    ? ok.filter((t: Any) =>
      !ctx.state.topics.get(t.name) && !allowed(az, ctx, "CreateTopic", az.arns.topic(t.name))
    )
    : [];
  return {
    req: { ...req, topics: [...ok.filter((t: Any) => !uncreatable.includes(t)), ...unknownIds] },
    after: (res) => ({
      ...res,
      topics: [
        ...res.topics,
        ...[...no, ...uncreatable].map((t: Any) => ({
          errorCode: TOPIC_DENIED,
          name: t.name,
          topicId: t.topicId,
          isInternal: false,
          partitions: [],
        })),
      ],
    }),
  };
};

/** Produce. */
const ruleProduce: Rule = ({ req, ctx, az, txnId }) => {
  if (
    hasTransactionalRecords(req.topicData) &&
    (req.transactionalId === null || !txnId(req.transactionalId))
  ) {
    // Kafka answers the whole request so, before looking at any topic.
    return {
      req,
      answer: {
        responses: req.topicData.map((t: Any) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p: Any) => ({
            index: p.index,
            errorCode: TXN_DENIED,
            baseOffset: -1,
            logStartOffset: -1,
            recordErrors: [],
            errorMessage: "Transactional Id authorization failed.",
          })),
        })),
      },
    };
  }
  return narrowTopics(
    az,
    ctx,
    req,
    "topicData",
    (t: Any) => t.name,
    "WriteData",
    "responses",
    (t: Any) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p: Any) => ({
        index: p.index,
        errorCode: TOPIC_DENIED,
        baseOffset: -1,
        recordErrors: [],
        errorMessage: null,
      })),
    }),
  );
};

/** Fetch. */
const ruleFetch: Rule = ({ req, ctx, az }) => {
  // v13+ names topics by id only.
  const nameOf = (t: Any) =>
    ctx.apiVersion >= 13 ? ctx.state.topics.byId(t.topicId)?.name ?? "" : t.topic;
  return narrowTopics(az, ctx, req, "topics", nameOf, "ReadData", "responses", (t: Any) => ({
    topic: t.topic,
    topicId: t.topicId,
    partitions: t.partitions.map((p: Any) => ({
      partitionIndex: p.partition,
      errorCode: TOPIC_DENIED,
      highWatermark: -1,
      abortedTransactions: null,
      records: null,
    })),
  }));
};

/** ListOffsets. */
const ruleListOffsets: Rule = ({ req, ctx, az }) => {
  return narrowTopics(
    az,
    ctx,
    req,
    "topics",
    (t: Any) => t.name,
    "DescribeTopic",
    "topics",
    (t: Any) => ({
      name: t.name,
      partitions: t.partitions.map((p: Any) => ({
        partitionIndex: p.partitionIndex,
        errorCode: TOPIC_DENIED,
        oldStyleOffsets: [],
      })),
    }),
  );
};

/** OffsetCommit. */
const ruleOffsetCommit: Rule = ({ req, ctx, az, group }) => {
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
  const order = commitOrder(ctx, req.topics, no);
  if (ok.length === 0) return { req, answer: order({ topics: [] }) };
  return { req: { ...req, topics: ok }, after: order };
};

/**
 * An OffsetCommit or TxnOffsetCommit answer put in Kafka 3.9's order, the refused topics
 * `no` in it: first, in the request's order, the topics with a partition Kafka answers
 * itself (refused, or unknown: the whole topic, or a partition the topic lacks), those
 * partitions first; then the rest of each topic's partitions, as its coordinator answers.
 */
function commitOrder(ctx: RequestContext, topics: Any[], no: Any[]): (res: Any) => Any {
  const exists = (t: string, p: number) => !!ctx.state.topics.get(t)?.partitions[p];
  const early = (t: Any, p: Any) => no.includes(t) || !exists(t.name, p.partitionIndex);
  return (res: Any) => {
    const code = new Map<string, number>();
    for (const t of res.topics) {
      for (const p of t.partitions) code.set(`${t.name}\0${p.partitionIndex}`, p.errorCode);
    }
    const out = new Map<string, Any[]>();
    for (const pass of [true, false]) {
      for (const t of topics) {
        for (const p of t.partitions) {
          if (early(t, p) !== pass) continue;
          const k = `${t.name}\0${p.partitionIndex}`;
          const errorCode = no.includes(t) ? TOPIC_DENIED : code.get(k) ?? ErrorCode.NONE;
          if (!out.has(t.name)) out.set(t.name, []);
          out.get(t.name)!.push({ partitionIndex: p.partitionIndex, errorCode });
        }
      }
    }
    return { ...res, topics: [...out].map(([name, partitions]) => ({ name, partitions })) };
  };
}

/** OffsetFetch. */
const ruleOffsetFetch: Rule = ({ req, ctx, group }) => {
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
};

/** FindCoordinator. */
const ruleFindCoordinator: Rule = ({ req, ctx, group, txnId }) => {
  // Key type 0 names groups, 1 transactional ids (others are the handler's to refuse).
  if (req.keyType !== 0 && req.keyType !== 1) return { req };
  const txn = req.keyType === 1;
  const may = (k: string) => txn ? txnId(k, "DescribeTransactionalId") : group(k, "DescribeGroup");
  // Apache Kafka 3.9.1's words: the error's message in v1-3, "" in v4's entries.
  const refuse = (key: string) => ({
    key,
    nodeId: -1,
    host: "",
    port: -1,
    errorCode: txn ? TXN_DENIED : GROUP_DENIED,
    errorMessage: ctx.apiVersion >= 4
      ? ""
      : txn
      ? "Transactional Id authorization failed."
      : "Group authorization failed.",
  });
  if (ctx.apiVersion < 4) {
    if (may(req.key)) return { req };
    const { key: _, ...one } = refuse(req.key);
    return { req, answer: one };
  }
  const no = req.coordinatorKeys.filter((k: string) => !may(k));
  if (no.length === 0) return { req };
  const ok = req.coordinatorKeys.filter((k: string) => !no.includes(k));
  if (ok.length === 0) return { req, answer: { coordinators: no.map(refuse) } };
  return {
    req: { ...req, coordinatorKeys: ok },
    // In the request's order, as Kafka answers each key.
    after: (res) => {
      const found = new Map(res.coordinators.map((k: Any) => [k.key, k]));
      return {
        ...res,
        coordinators: req.coordinatorKeys.map((k: string) =>
          no.includes(k) ? refuse(k) : found.get(k)
        ),
      };
    },
  };
};

/** JoinGroup. */
const ruleJoinGroup: Rule = ({ req, ctx, group }) => {
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
};

/** SyncGroup. */
const ruleSyncGroup: Rule = ({ req, group }) => {
  return group(req.groupId) ? { req } : {
    req,
    answer: {
      errorCode: GROUP_DENIED,
      protocolType: null,
      protocolName: null,
      assignment: new Uint8Array(0),
    },
  };
};

/** Heartbeat. */
const ruleHeartbeat: Rule = ({ req, group }) => {
  return group(req.groupId) ? { req } : { req, answer: { errorCode: GROUP_DENIED } };
};

/** LeaveGroup. */
const ruleLeaveGroup: Rule = ({ req, group }) => {
  return group(req.groupId) ? { req } : { req, answer: { errorCode: GROUP_DENIED, members: [] } };
};

/** DescribeGroups. */
const ruleDescribeGroups: Rule = ({ req, group }) => {
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
};

/** ListGroups. */
const ruleListGroups: Rule = ({ req, group }) => {
  return {
    req,
    after: (res) => ({
      ...res,
      groups: res.groups.filter((g: Any) => group(g.groupId, "DescribeGroup")),
    }),
  };
};

/** DeleteGroups. */
const ruleDeleteGroups: Rule = ({ req, group }) => {
  const no = req.groupsNames.filter((g: string) => !group(g, "DeleteGroup"));
  if (no.length === 0) return { req };
  const denied = no.map((groupId: string) => ({ groupId, errorCode: GROUP_DENIED }));
  const ok = req.groupsNames.filter((g: string) => !no.includes(g));
  if (ok.length === 0) return { req, answer: { results: denied } };
  return {
    req: { ...req, groupsNames: ok },
    after: (res) => ({ ...res, results: [...res.results, ...denied] }),
  };
};

/** CreateTopics. */
const ruleCreateTopics: Rule = ({ req, ctx, az }) => {
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
};

/** DeleteTopics. */
const ruleDeleteTopics: Rule = ({ req, ctx, az }) => {
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
  return narrowTopics(
    az,
    ctx,
    req,
    "topicNames",
    (t: string) => t,
    "DeleteTopic",
    "responses",
    (name: string) => ({ name, errorCode: TOPIC_DENIED, errorMessage: null }),
  );
};

/** CreatePartitions. */
const ruleCreatePartitions: Rule = ({ req, ctx, az }) => {
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
};

/** InitProducerId. */
const ruleInitProducerId: Rule = ({ req, ctx, az, cluster, txnId }) => {
  if (req.transactionalId !== null) {
    return txnId(req.transactionalId)
      ? { req }
      : { req, answer: { errorCode: TXN_DENIED, producerId: -1, producerEpoch: -1 } };
  }
  return allowed(az, ctx, "WriteDataIdempotently", cluster) ? { req } : {
    req,
    answer: { errorCode: CLUSTER_DENIED, producerId: -1, producerEpoch: -1 },
  };
};

/** DescribeCluster. */
const ruleDescribeCluster: Rule = ({ req, ctx, az, cluster }) => {
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
};

/** DescribeConfigs. */
const ruleDescribeConfigs: Rule = ({ req, ctx, az, cluster }) => {
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
};

/** AddPartitionsToTxn. */
const ruleAddPartitionsToTxn: Rule = ({ req, ctx, az, cluster, txnId }) => {
  if (ctx.apiVersion >= 4) {
    // Kafka asks CLUSTER_ACTION of this (broker-to-broker) form: MSK maps no
    // kafka-cluster action to it, so IAM principals never have it.
    logOnce(az, ctx, "ClusterAction", cluster, "no kafka-cluster action grants it");
    return { req, answer: { errorCode: CLUSTER_DENIED, resultsByTransaction: [] } };
  }
  const topics = req.v3AndBelowTopics;
  if (!txnId(req.v3AndBelowTransactionalId)) {
    return { req, answer: { resultsByTopicV3AndBelow: txnTopicResults(topics, TXN_DENIED) } };
  }
  const [, no] = byTopic(az, ctx, topics, (t: Any) => t.name, "WriteData");
  if (no.length === 0) return { req };
  const exists = (t: string, p: number) => !!ctx.state.topics.get(t)?.partitions[p];
  return {
    req,
    answer: {
      resultsByTopicV3AndBelow: topics.map((t: Any) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((p: number) => ({
          partitionIndex: p,
          partitionErrorCode: no.includes(t)
            ? TOPIC_DENIED
            : exists(t.name, p)
            ? ErrorCode.OPERATION_NOT_ATTEMPTED
            : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        })),
      })),
    },
  };
};

/** AddOffsetsToTxn. */
const ruleAddOffsetsToTxn: Rule = ({ req, group, txnId }) => {
  if (!txnId(req.transactionalId)) return { req, answer: { errorCode: TXN_DENIED } };
  return group(req.groupId) ? { req } : { req, answer: { errorCode: GROUP_DENIED } };
};

/** TxnOffsetCommit. */
const ruleTxnOffsetCommit: Rule = ({ req, ctx, az, group, txnId }) => {
  const denyAll = (code: number, topics: Any[]) =>
    topics.map((t: Any) => ({
      name: t.name,
      partitions: t.partitions.map((p: Any) => ({
        partitionIndex: p.partitionIndex,
        errorCode: code,
      })),
    }));
  if (!txnId(req.transactionalId)) {
    return { req, answer: { topics: denyAll(TXN_DENIED, req.topics) } };
  }
  if (!group(req.groupId)) {
    return { req, answer: { topics: denyAll(GROUP_DENIED, req.topics) } };
  }
  const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "ReadData");
  const kafkaOrder = commitOrder(ctx, req.topics, no);
  if (ok.length === 0) return { req, answer: kafkaOrder({ topics: [] }) };
  return { req: { ...req, topics: ok }, after: kafkaOrder };
};

/** EndTxn. */
const ruleEndTxn: Rule = ({ req, txnId }) => {
  return txnId(req.transactionalId) ? { req } : { req, answer: { errorCode: TXN_DENIED } };
};

/** DescribeTransactions. */
const ruleDescribeTransactions: Rule = ({ req, ctx, az, txnId }) => {
  const no = req.transactionalIds.filter((id: string) => !txnId(id, "DescribeTransactionalId"));
  const denied = (id: string) => ({
    errorCode: TXN_DENIED,
    transactionalId: id,
    transactionState: "",
    transactionTimeoutMs: 0,
    transactionStartTimeMs: 0,
    producerId: 0,
    producerEpoch: 0,
    topics: [],
  });
  const ok = req.transactionalIds.filter((id: string) => !no.includes(id));
  return {
    req: { ...req, transactionalIds: ok },
    // In the request's order; each transaction's partitions only of topics it may describe.
    after: (res) => {
      const found = new Map(res.transactionStates.map((t: Any) => [t.transactionalId, t]));
      return {
        ...res,
        transactionStates: req.transactionalIds.map((id: string) => {
          const t: Any = found.get(id) ?? denied(id);
          return {
            ...t,
            topics: t.topics.filter((p: Any) =>
              allowed(az, ctx, "DescribeTopic", az.arns.topic(p.topic))
            ),
          };
        }),
      };
    },
  };
};

/** ListTransactions. */
const ruleListTransactions: Rule = ({ req, txnId }) => {
  return {
    req,
    after: (res) => ({
      ...res,
      // Kafka filters the list without logging each id left out.
      transactionStates: res.transactionStates.filter((t: Any) =>
        txnId(t.transactionalId, "DescribeTransactionalId", false)
      ),
    }),
  };
};

/** DescribeProducers. */
const ruleDescribeProducers: Rule = ({ req, ctx, az }) => {
  const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "ReadData");
  if (no.length === 0) return { req };
  const denied = (t: Any) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex: number) => ({
      partitionIndex,
      errorCode: TOPIC_DENIED,
      errorMessage: "Topic authorization failed.",
      activeProducers: [],
    })),
  });
  // In the request's order, as Kafka answers each topic.
  const merge = (answered: Any[]) => {
    let next = 0;
    return req.topics.map((t: Any) => no.includes(t) ? denied(t) : answered[next++]);
  };
  if (ok.length === 0) return { req, answer: { topics: merge([]) } };
  return {
    req: { ...req, topics: ok },
    after: (res) => ({ ...res, topics: merge(res.topics) }),
  };
};

/** DeleteRecords. */
const ruleDeleteRecords: Rule = ({ req, ctx, az }) => {
  return narrowTopics(
    az,
    ctx,
    req,
    "topics",
    (t: Any) => t.name,
    "DeleteTopic",
    "topics",
    (t: Any) => ({
      name: t.name,
      partitions: t.partitions.map((p: Any) => ({
        partitionIndex: p.partitionIndex,
        lowWatermark: -1,
        errorCode: TOPIC_DENIED,
      })),
    }),
  );
};

/** IncrementalAlterConfigs' resource types (Kafka's ConfigResource.Type ids). */
const CONFIG_TOPIC = 2;
const CONFIG_BROKER_LOGGER = 8;
const CONFIG_CLUSTER_WIDE = [4, CONFIG_BROKER_LOGGER, 16]; // BROKER, BROKER_LOGGER, CLIENT_METRICS

/** IncrementalAlterConfigs. */
const ruleIncrementalAlterConfigs: Rule = ({ req, ctx, az, cluster }) => {
  // 0 when allowed (or a type Kafka asks nothing of: the handler refuses those).
  const denial = (r: Any): number => {
    if (r.resourceType === CONFIG_TOPIC) {
      const arn = az.arns.topic(r.resourceName);
      return allowed(az, ctx, "AlterTopicDynamicConfiguration", arn) ? 0 : TOPIC_DENIED;
    }
    if (CONFIG_CLUSTER_WIDE.includes(r.resourceType)) {
      return allowed(az, ctx, "AlterClusterDynamicConfiguration", cluster) ? 0 : CLUSTER_DENIED;
    }
    return 0;
  };
  const codes = req.resources.map(denial);
  if (codes.every((c: number) => c === 0)) return { req };
  const ok = req.resources.filter((_: Any, i: number) => codes[i] === 0);
  const merge = (answered: Any[]) => {
    let next = 0;
    return req.resources.map((r: Any, i: number) =>
      codes[i] === 0 ? answered[next++] : {
        errorCode: codes[i],
        // Apache Kafka 3.9.1's words: its controller words topics' and brokers' refusals,
        // the broker itself (which decides broker loggers) leaves them unworded.
        errorMessage: codes[i] === TOPIC_DENIED
          ? "Topic authorization failed."
          : r.resourceType === CONFIG_BROKER_LOGGER
          ? null
          : "Cluster authorization failed.",
        resourceType: r.resourceType,
        resourceName: r.resourceName,
      }
    );
  };
  if (ok.length === 0) return { req, answer: { responses: merge([]) } };
  return {
    req: { ...req, resources: ok },
    // The handler answers each resource in order; Kafka answers in the request's order.
    after: (res) => ({ ...res, responses: merge(res.responses) }),
  };
};

/** OffsetDelete. */
const ruleOffsetDelete: Rule = ({ req, ctx, az, group }) => {
  if (!group(req.groupId, "DeleteGroup")) {
    return { req, answer: { errorCode: GROUP_DENIED, topics: [] } };
  }
  const [ok, no] = byTopic(az, ctx, req.topics, (t: Any) => t.name, "ReadData");
  if (no.length === 0) return { req };
  const denied = no.map((t: Any) => ({
    name: t.name,
    partitions: t.partitions.map((p: Any) => ({
      partitionIndex: p.partitionIndex,
      errorCode: TOPIC_DENIED,
    })),
  }));
  return {
    // The group is still asked (with the allowed topics, maybe none), as Kafka asks it.
    req: { ...req, topics: ok },
    // Kafka's answer: the group's error alone, else the denied topics first.
    after: (res) =>
      res.errorCode !== ErrorCode.NONE ? res : { ...res, topics: [...denied, ...res.topics] },
  };
};

/** DescribeClientQuotas. */
const ruleDescribeClientQuotas: Rule = ({ req, ctx, az, cluster }) => {
  return allowed(az, ctx, "DescribeClusterDynamicConfiguration", cluster) ? { req } : {
    req,
    answer: { errorCode: CLUSTER_DENIED, errorMessage: null, entries: null },
  };
};

/** DescribeUserScramCredentials. */
const ruleDescribeUserScramCredentials: Rule = ({ req, ctx, az, cluster }) => {
  if (allowed(az, ctx, "DescribeCluster", cluster)) return { req };
  // As Kafka's error response: one result per user asked, its name left empty (for a null
  // list, "all users", Kafka's own error response fails; none here).
  const results = (req.users ?? []).map(() => ({
    user: "",
    errorCode: CLUSTER_DENIED,
    errorMessage: null,
    credentialInfos: [],
  }));
  return { req, answer: { errorCode: CLUSTER_DENIED, errorMessage: null, results } };
};

/** AlterUserScramCredentials. */
const ruleAlterUserScramCredentials: Rule = ({ req, ctx, az, cluster }) => {
  if (allowed(az, ctx, "AlterCluster", cluster)) return { req };
  // As Kafka's error response: each user named once, in sorted order.
  const users = [
    ...new Set<string>([...req.deletions, ...req.upsertions].map((c: Any) => c.name)),
  ].sort();
  return {
    req,
    answer: {
      results: users.map((user) => ({ user, errorCode: CLUSTER_DENIED, errorMessage: null })),
    },
  };
};

/** ConsumerGroupHeartbeat. */
const ruleConsumerGroupHeartbeat: Rule = ({ req, group }) => {
  return group(req.groupId) ? { req } : {
    req,
    answer: {
      errorCode: GROUP_DENIED,
      errorMessage: null,
      memberId: null,
      memberEpoch: 0,
      heartbeatIntervalMs: 0,
      assignment: null,
    },
  };
};

/** ConsumerGroupDescribe. */
const ruleConsumerGroupDescribe: Rule = ({ req, group }) => {
  const no = req.groupIds.filter((g: string) => !group(g, "DescribeGroup"));
  if (no.length === 0) return { req };
  const denied = no.map((groupId: string) => ({
    errorCode: GROUP_DENIED,
    errorMessage: null,
    groupId,
    groupState: "",
    groupEpoch: 0,
    assignmentEpoch: 0,
    assignorName: "",
    members: [],
  }));
  const ok = req.groupIds.filter((g: string) => !no.includes(g));
  if (ok.length === 0) return { req, answer: { groups: denied } };
  return {
    req: { ...req, groupIds: ok },
    after: (res) => ({ ...res, groups: [...denied, ...res.groups] }),
  };
};

/** Each API a principal with policies may send, by name, and its rule. */
const RULES: Record<string, Rule> = {
  ApiVersions: ruleApiVersions,
  SaslHandshake: ruleApiVersions,
  SaslAuthenticate: ruleApiVersions,
  Metadata: ruleMetadata,
  Produce: ruleProduce,
  Fetch: ruleFetch,
  ListOffsets: ruleListOffsets,
  OffsetCommit: ruleOffsetCommit,
  OffsetFetch: ruleOffsetFetch,
  FindCoordinator: ruleFindCoordinator,
  JoinGroup: ruleJoinGroup,
  SyncGroup: ruleSyncGroup,
  Heartbeat: ruleHeartbeat,
  LeaveGroup: ruleLeaveGroup,
  DescribeGroups: ruleDescribeGroups,
  ListGroups: ruleListGroups,
  DeleteGroups: ruleDeleteGroups,
  CreateTopics: ruleCreateTopics,
  DeleteTopics: ruleDeleteTopics,
  CreatePartitions: ruleCreatePartitions,
  InitProducerId: ruleInitProducerId,
  DescribeCluster: ruleDescribeCluster,
  DescribeConfigs: ruleDescribeConfigs,
  AddPartitionsToTxn: ruleAddPartitionsToTxn,
  AddOffsetsToTxn: ruleAddOffsetsToTxn,
  TxnOffsetCommit: ruleTxnOffsetCommit,
  EndTxn: ruleEndTxn,
  DescribeTransactions: ruleDescribeTransactions,
  ListTransactions: ruleListTransactions,
  DescribeProducers: ruleDescribeProducers,
  DeleteRecords: ruleDeleteRecords,
  IncrementalAlterConfigs: ruleIncrementalAlterConfigs,
  OffsetDelete: ruleOffsetDelete,
  DescribeClientQuotas: ruleDescribeClientQuotas,
  DescribeUserScramCredentials: ruleDescribeUserScramCredentials,
  AlterUserScramCredentials: ruleAlterUserScramCredentials,
  ConsumerGroupHeartbeat: ruleConsumerGroupHeartbeat,
  ConsumerGroupDescribe: ruleConsumerGroupDescribe,
};

/** The names of the APIs that have a rule. */
export const MAPPED_APIS: ReadonlySet<string> = new Set(Object.keys(RULES));

/** Decides `apiName`'s request `req` for `az`. */
export function authorize(
  apiName: string,
  req: Any,
  ctx: RequestContext,
  az: Authorizer,
): Authorized {
  const rule = RULES[apiName];
  if (!rule) {
    throw new MalformedRequestError(
      `${apiName} from ${az.principal}: this broker does not map ${apiName} to MSK's IAM ` +
        "actions yet, so a principal with policies may not send it",
    );
  }
  return rule({
    req,
    ctx,
    az,
    cluster: az.arns.cluster,
    group: (id, action = "AlterGroup") => allowed(az, ctx, action, az.arns.group(id)),
    txnId: (id, action = "AlterTransactionalId", log = true) =>
      allowed(az, ctx, action, az.arns.transactionalId(id), log),
  });
}
