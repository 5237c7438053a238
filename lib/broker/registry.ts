/**
 * The one table of APIs the broker serves: the server dispatches on it and ApiVersions
 * advertises it, so they cannot drift. Adding an API means adding its module here.
 * @module
 */
import type { Api } from "./api.ts";
import { produce } from "./00_produce.ts";
import { fetch } from "./01_fetch.ts";
import { listOffsets } from "./02_list_offsets.ts";
import { metadata } from "./03_metadata.ts";
import { offsetCommit } from "./08_offset_commit.ts";
import { offsetFetch } from "./09_offset_fetch.ts";
import { findCoordinator } from "./10_find_coordinator.ts";
import { joinGroup } from "./11_join_group.ts";
import { heartbeat } from "./12_heartbeat.ts";
import { leaveGroup } from "./13_leave_group.ts";
import { syncGroup } from "./14_sync_group.ts";
import { describeGroups } from "./15_describe_groups.ts";
import { listGroups } from "./16_list_groups.ts";
import { apiVersions } from "./18_api_versions.ts";
import { createTopics } from "./19_create_topics.ts";
import { deleteTopics } from "./20_delete_topics.ts";
import { deleteRecords } from "./21_delete_records.ts";
import { initProducerId } from "./22_init_producer_id.ts";
import { addPartitionsToTxn } from "./24_add_partitions_to_txn.ts";
import { addOffsetsToTxn } from "./25_add_offsets_to_txn.ts";
import { endTxn } from "./26_end_txn.ts";
import { txnOffsetCommit } from "./28_txn_offset_commit.ts";
import { describeTransactions } from "./65_describe_transactions.ts";
import { listTransactions } from "./66_list_transactions.ts";
import { describeConfigs } from "./32_describe_configs.ts";
import { createPartitions } from "./37_create_partitions.ts";
import { deleteGroups } from "./42_delete_groups.ts";
import { incrementalAlterConfigs } from "./44_incremental_alter_configs.ts";
import { offsetDelete } from "./47_offset_delete.ts";
import { describeCluster } from "./60_describe_cluster.ts";
import { saslHandshake } from "./17_sasl_handshake.ts";
import { describeClientQuotas } from "./48_describe_client_quotas.ts";
import { saslAuthenticate } from "./36_sasl_authenticate.ts";
import { describeUserScramCredentials } from "./50_describe_user_scram_credentials.ts";
import { alterUserScramCredentials } from "./51_alter_user_scram_credentials.ts";
import { describeProducers } from "./61_describe_producers.ts";
import { consumerGroupHeartbeat } from "./68_consumer_group_heartbeat.ts";
import { consumerGroupDescribe } from "./69_consumer_group_describe.ts";

/** Every API, by key. */
export const APIS: ReadonlyMap<number, Api> = new Map(
  ([
    produce,
    fetch,
    listOffsets,
    metadata,
    offsetCommit,
    offsetFetch,
    findCoordinator,
    joinGroup,
    heartbeat,
    leaveGroup,
    syncGroup,
    describeGroups,
    listGroups,
    apiVersions,
    createTopics,
    deleteTopics,
    deleteRecords,
    initProducerId,
    addPartitionsToTxn,
    addOffsetsToTxn,
    endTxn,
    txnOffsetCommit,
    describeConfigs,
    createPartitions,
    deleteGroups,
    incrementalAlterConfigs,
    offsetDelete,
    describeCluster,
    saslHandshake,
    saslAuthenticate,
    describeClientQuotas,
    describeUserScramCredentials,
    alterUserScramCredentials,
    describeProducers,
    describeTransactions,
    listTransactions,
    consumerGroupHeartbeat,
    consumerGroupDescribe,
  ] as Api[]).map((a) => [a.key, a]),
);

/** The registry with each API's max version capped (tests posing as an older broker). */
export function capVersions(caps: Record<string, number>): ReadonlyMap<number, Api> {
  return new Map(
    [...APIS].map(([k, a]) => [k, a.name in caps ? { ...a, maxVersion: caps[a.name] } : a]),
  );
}
