/**
 * What the proxy knows about the cluster: topics and their partitions (cached for a produce,
 * fresh for a metadata GET), brokers and the cluster id, and partition offsets; plus the v2
 * metadata answers built from them (`GET /topics…`, `GET /brokers`).
 * @module
 */
import type { Admin } from "../deps/kafkajs.ts";
import { HttpError } from "./http.ts";
import { kafkaHttpError } from "./kafka_errors.ts";

/** One partition as the metadata answer gives it. */
export interface PartitionMeta {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** 404/40401, the documented v2 answer for an unknown topic. */
export function topicNotFound(topic: string): HttpError {
  return new HttpError(404, 40401, `Topic ${topic} not found.`);
}

/** 404/40402, the documented v2 answer for an unknown partition. */
export function partitionNotFound(topic: string, partition: number): HttpError {
  return new HttpError(404, 40402, `Partition ${partition} of topic ${topic} not found.`);
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** How long an auto-created topic's partitions may take to get leaders: 5 s. */
const LEADERS_WAIT_MS = 5000;

/** Topic existence and partitions, cached so a produce costs no metadata round trip. */
export class TopicCache {
  private known = new Map<string, { at: number; partitions: PartitionMeta[] }>();
  private cluster?: { at: number; id: string; brokers: number[] };
  constructor(private admin: Admin, private log: (l: string) => void, private ttlMs = 30_000) {}

  /** Every topic but the internal ones, sorted. */
  async list(): Promise<string[]> {
    try {
      const all = await this.admin.listTopics();
      return all.filter((t) => !t.startsWith("__")).sort();
    } catch (err) {
      throw kafkaHttpError(err, "Cannot list topics");
    }
  }

  /** Partitions of `topic` sorted by id, or undefined when it does not exist. */
  async describe(topic: string, fresh = false): Promise<PartitionMeta[] | undefined> {
    const hit = this.known.get(topic);
    if (hit && !fresh && performance.now() - hit.at < this.ttlMs) return hit.partitions;
    try {
      // Listing first: a metadata request naming the topic could auto-create it.
      if (!(await this.admin.listTopics()).includes(topic)) {
        this.known.delete(topic);
        return undefined;
      }
      const md = await this.admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = (md.topics[0]?.partitions ?? []) as unknown as PartitionMeta[];
      if (!partitions.length) return undefined;
      partitions.sort((a, b) => a.partitionId - b.partitionId);
      this.known.set(topic, { at: performance.now(), partitions });
      return partitions;
    } catch (err) {
      throw kafkaHttpError(err, `Cannot read the metadata of topic ${topic}`);
    }
  }

  /** Partitions of `topic`, or 40401. */
  async require(topic: string, fresh = false): Promise<PartitionMeta[]> {
    const meta = await this.describe(topic, fresh);
    if (!meta) throw topicNotFound(topic);
    return meta;
  }

  /** Creates `topic` with the broker's defaults (auto-create) and waits for its leaders. */
  async create(topic: string): Promise<PartitionMeta[] | undefined> {
    if (!TOPIC_NAME.test(topic)) {
      throw new HttpError(400, 40002, `Cannot create topic ${topic}: invalid topic name`);
    }
    try {
      await this.admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      this.log(`rest-proxy: created topic ${topic}`);
    } catch (err) {
      if ((err as { type?: string }).type !== "TOPIC_ALREADY_EXISTS") {
        throw kafkaHttpError(err, `Cannot create topic ${topic}`);
      }
    }
    const deadline = performance.now() + LEADERS_WAIT_MS;
    for (;;) {
      const meta = await this.describe(topic, true);
      if (meta?.length && meta.every((p) => p.leader >= 0)) return meta;
      if (performance.now() >= deadline) {
        // Retriable: a client's next attempt finds the leaders elected.
        throw new HttpError(
          500,
          50003,
          `Retriable Kafka error: topic ${topic} was created, but ${
            meta ? "its partitions had no leader" : "Kafka did not list it"
          } within ${LEADERS_WAIT_MS / 1000} s`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  forget(topic: string): void {
    this.known.delete(topic);
  }

  /** The cluster id and broker ids (cached like topics). */
  async clusterInfo(): Promise<{ id: string; brokers: number[] }> {
    if (this.cluster && performance.now() - this.cluster.at < this.ttlMs) return this.cluster;
    try {
      const c = await this.admin.describeCluster();
      this.cluster = {
        at: performance.now(),
        id: c.clusterId,
        brokers: c.brokers.map((b) => b.nodeId).sort((a, b) => a - b),
      };
      return this.cluster;
    } catch (err) {
      throw kafkaHttpError(err, "Cannot describe the cluster");
    }
  }

  /** The earliest and the next offset of one partition. */
  async offsets(topic: string, partition: number): Promise<{ beginning: number; end: number }> {
    try {
      const all = await this.admin.fetchTopicOffsets(topic);
      const p = all.find((o) => o.partition === partition);
      if (!p) throw partitionNotFound(topic, partition);
      return { beginning: Number(p.low), end: Number(p.high) };
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw kafkaHttpError(err, `Cannot read the offsets of topic ${topic} partition ${partition}`);
    }
  }
}

/** A partition as `GET /topics/{t}/partitions` shows it. */
export function partitionJson(p: PartitionMeta) {
  return {
    partition: p.partitionId,
    leader: p.leader,
    replicas: p.replicas.map((b) => ({
      broker: b,
      leader: b === p.leader,
      in_sync: p.isr.includes(b),
    })),
  };
}
