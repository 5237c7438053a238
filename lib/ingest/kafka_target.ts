/**
 * The emulator's Kafka target: kafkajs producers (built by lib/kafka/kafka_client.ts, so the
 * same auth and TLS flags work) sending with acks=all, keyed by the posting key and
 * partitioned as Kafka's default partitioner does. By default the producer runs in a
 * worker thread (lib/ingest/kafka_send_worker.ts): kafkajs's encoding is most of a send's CPU, and
 * there it runs beside the reading and serializing of the next postings. kafkajs's own
 * retries are off so one policy applies everywhere: lib/shell/retry.ts retries what Kafka calls
 * retriable (network errors, leader changes, unknown topic while metadata settles) and
 * stops on the rest with the topic, key and error named.
 * @module
 */
import type { Kafka, Producer } from "../deps/kafkajs.ts";
import { createKafka } from "../kafka/kafka_client.ts";
import type { KafkaClientOptions } from "../kafka/kafka_client.ts";
import { connectProducer, kafkaRetriable } from "./kafka_send.ts";
import type { WorkerReply, WorkerRequest } from "./kafka_send.ts";
import { isRetriable, RetriableError } from "../shell/errors.ts";
import type { OutRecord, SendHooks, Target } from "./emulator.ts";
import { retry } from "../shell/retry.ts";

export { kafkaRetriable, keyHashPartitioner, murmur2 } from "./kafka_send.ts";

/** How the Kafka target retries. */
export interface KafkaTargetOptions {
  /** For messages: `host:port[,…]`. */
  bootstrap: string;
  /** Attempts per request, the first included; default 10. */
  maxAttempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** Broker-side wait for acks=all, default 30 s. */
  timeoutMs?: number;
  /** The flags that lengthen the waits, named when one runs out (as RestProducerOptions'). */
  flags?: { request?: string; retry?: string };
  /** Producer threads when connecting with client options (default 1; 0 = this thread). */
  workers?: number;
}

/** The Kafka error's type name (`UNKNOWN_TOPIC_OR_PARTITION`) or message. */
function kafkaReason(err: unknown): string {
  const e = err as { type?: string; message?: string; cause?: { type?: string } };
  const type = e?.type ?? e?.cause?.type;
  const msg = e?.message ?? String(err);
  return type && !msg.includes(type) ? `${type}: ${msg}` : msg;
}

/** One way of handing a batch to kafkajs: in this thread or in a worker. */
interface Sender {
  send(topic: string, messages: { key: string; value: string }[], timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A kafkajs producer in this thread. */
class ProducerSender implements Sender {
  constructor(private readonly producer: Producer) {}

  static async connect(kafka: Kafka): Promise<ProducerSender> {
    return new ProducerSender(await connectProducer(kafka));
  }

  async send(topic: string, messages: { key: string; value: string }[], timeoutMs: number) {
    await this.producer.send({ topic, messages, acks: -1, timeout: timeoutMs });
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
  }
}

/** A kafkajs producer in a worker thread (lib/ingest/kafka_send_worker.ts). */
class WorkerSender implements Sender {
  private next = 1;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();
  private readonly worker: Worker;

  private constructor() {
    this.worker = new Worker(new URL("./kafka_send_worker.ts", import.meta.url), {
      type: "module",
    });
    this.worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const done = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      done?.(e.data);
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      const reply = (id: number): WorkerReply => ({
        id,
        ok: false,
        error: { message: `the producer thread failed: ${e.message}`, retriable: false },
      });
      for (const [id, done] of this.waiting) done(reply(id));
      this.waiting.clear();
    };
  }

  static async connect(options: KafkaClientOptions): Promise<WorkerSender> {
    const s = new WorkerSender();
    try {
      await s.call({ op: "connect", options });
    } catch (err) {
      s.worker.terminate();
      throw err;
    }
    return s;
  }

  private call(req: DistributiveOmit<WorkerRequest, "id">): Promise<void> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) => {
        if (reply.ok) return resolve();
        // Rebuilt so kafkaRetriable and kafkaReason read it like the original.
        reject(Object.assign(new Error(reply.error.message), {
          type: reply.error.type,
          retriable: reply.error.retriable,
        }));
      });
      this.worker.postMessage({ ...req, id });
    });
  }

  send(topic: string, messages: { key: string; value: string }[], timeoutMs: number) {
    return this.call({ op: "send", topic, messages, timeoutMs });
  }

  async close(): Promise<void> {
    await this.call({ op: "close" }).catch(() => {});
    this.worker.terminate();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Sends records straight to Kafka. */
export class KafkaTarget implements Target {
  readonly name: string;
  private turn = 0;
  private constructor(
    private readonly senders: Sender[],
    private readonly opts: KafkaTargetOptions,
    /** A client in this thread, for the topic check. */
    private readonly client: Kafka,
  ) {
    this.name = `Kafka at ${opts.bootstrap}`;
  }

  /**
   * Connects producers: on a kafkajs client `kafka` in this thread, or, given client
   * options, in `opts.workers` worker threads (default 1; 0 = this thread). kafkajs itself
   * retries the connection (about 10 s in all) before this gives up.
   */
  static async connect(
    kafka: Kafka | KafkaClientOptions,
    opts: KafkaTargetOptions,
  ): Promise<KafkaTarget> {
    const senders: Sender[] = [];
    try {
      if (!("bootstrap" in kafka)) {
        senders.push(await ProducerSender.connect(kafka));
      } else if ((opts.workers ?? 1) === 0) {
        const client = createKafka(kafka);
        senders.push(await ProducerSender.connect(client));
      } else {
        for (let i = 0; i < (opts.workers ?? 1); i++) {
          senders.push(await WorkerSender.connect(kafka));
        }
      }
    } catch (err) {
      await Promise.all(senders.map((s) => s.close()));
      throw new Error(`Cannot connect to Kafka at "${opts.bootstrap}": ${kafkaReason(err)}`, {
        cause: err,
      });
    }
    return new KafkaTarget(senders, opts, "bootstrap" in kafka ? createKafka(kafka) : kafka);
  }

  /**
   * Fails at once when a topic does not exist, rather than after every retry of the first
   * send (the producer never creates topics). A cluster that does not let this client list
   * topics is not an error here: the sends then say what is wrong.
   */
  async prepare(topics: string[]): Promise<void> {
    const admin = this.client.admin({ retry: { retries: 2 } });
    let existing: Set<string>;
    try {
      await admin.connect();
      existing = new Set(await admin.listTopics());
    } catch {
      return;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) {
      const one = missing.length === 1;
      throw new Error(
        `Cannot send to topic${one ? "" : "s"} ${
          missing.map((t) => `"${t}"`).join(", ")
        }: ${this.name} has no such topic${
          one ? "" : "s"
        } (\`deno task topics\` creates them; or is --prefix wrong?)`,
      );
    }
  }

  /** Sends `records` to `topic` and waits for the broker's acknowledgement (acks=all). */
  async send(topic: string, records: OutRecord[], hooks: SendHooks): Promise<void> {
    const messages = records.map((r) => ({ key: r.key, value: JSON.stringify(r.value) }));
    // Batches go to the producers in turn; a retry stays with the same one.
    const sender = this.senders[this.turn++ % this.senders.length];
    const attempts = this.opts.maxAttempts ?? 10;
    const what = `Cannot send key "${records[0].key}"${
      records.length > 1 ? ` and ${records.length - 1} more records` : ""
    } to topic "${topic}"`;
    try {
      await retry(async () => {
        try {
          await sender.send(topic, messages, this.opts.timeoutMs ?? 30_000);
        } catch (err) {
          const message = `${what}: ${this.name} answered ${kafkaReason(err)}`;
          if (kafkaRetriable(err)) throw new RetriableError(message, { cause: err });
          throw new Error(message, { cause: err });
        }
      }, {
        maxAttempts: attempts,
        baseMs: this.opts.baseMs ?? 200,
        maxMs: this.opts.maxMs ?? 10_000,
        onRetry: hooks.onRetry,
      });
    } catch (err) {
      if (isRetriable(err)) {
        const message = (err as Error).message;
        const flags = this.opts.flags;
        const hint = /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic/i.test(message)
          ? " (does the topic exist? `deno task topics` creates it)"
          : /timed? ?out/i.test(message) && flags?.request
          ? ` (each attempt waited ${(this.opts.timeoutMs ?? 30_000) / 1000} s for the ` +
            `acknowledgement; ${flags.request} gives it longer)`
          : "";
        const more = flags?.retry ? `; ${flags.retry} gives it more` : "";
        throw new Error(`${message} (gave up after ${attempts} attempts${more})${hint}`, {
          cause: err,
        });
      }
      throw err;
    }
    hooks.onAck(records);
  }

  async close(): Promise<void> {
    await Promise.all(this.senders.map((s) => s.close()));
  }
}
