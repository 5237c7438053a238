/**
 * An embedded, single-node, Kafka-protocol broker: `startBroker()` listens on a host and
 * port (0 = ephemeral) and serves kafkajs 2.2.4 and librdkafka (kcat) clients, in memory
 * or with an on-disk data dir.
 *
 *     const broker = await startBroker({ port: 0 });
 *     const kafka = new Kafka({ brokers: [broker.bootstrap] });
 *     …
 *     await broker.close();
 *
 * One module per Kafka API (`NN_name.ts`, each with its behaviour and version notes),
 * registered in registry.ts, which both the dispatcher and ApiVersions read.
 *
 * Skipped on purpose (see each API module for details):
 * - more than one broker: node 0 is the controller, every group's coordinator and the
 *   only replica; replication factors above 1 are refused
 * - transactions and the idempotent producer (InitProducerId and the Txn APIs are not
 *   offered; producer ids and sequence numbers are stored, not checked)
 * - fetch sessions (KIP-227, refused as Kafka refuses them with a full cache), follower
 *   fetching, and message-format conversion (magic 0/1 is refused; Fetch v0–v3 gets
 *   UNSUPPORTED_VERSION)
 * - retention, compaction and segment rolling: a partition is one file that grows until
 *   its topic is deleted (DeleteRecords moves its start); of the topic configs only
 *   max.message.bytes and min.insync.replicas are applied (configs.ts)
 * - LogAppendTime; ListOffsets by timestamp answers at batch precision
 * - offset expiry; static membership beyond reusing a member id; the initial rebalance
 *   delay (deliberately: groups form at once)
 * - SASL, TLS, ACLs, quotas (throttle_time is always 0), dynamic broker configs, and the
 *   admin APIs not listed in registry.ts
 * - a separate advertised listener: the bound host:port is what clients are told
 * - a corrupt batch in the middle of a log cuts everything after it on start
 * @module
 */
import type { Api } from "./api.ts";
import { APIS, capVersions } from "./registry.ts";
import { BrokerServer } from "./server.ts";
import { BrokerState, type FsyncPolicy } from "./state.ts";

export type { FsyncPolicy };

/** How to start a broker. */
export interface BrokerOptions {
  /** Port to listen on: default 9092 for the CLI; 0 = ephemeral (the default here). */
  port?: number;
  /** Host to bind and advertise (default "127.0.0.1"). */
  host?: string;
  /** Directory for logs, topic metadata and committed offsets; undefined = in memory. */
  dataDir?: string;
  /** Partitions of auto-created topics and of CreateTopics with -1 (default 1). */
  partitions?: number;
  /** Auto-create unknown topics on Metadata and Produce (default false). */
  autoCreate?: boolean;
  /**
   * When appended data is fdatasynced (default "interval": once a second). "interval" and
   * "never" lose nothing if the broker process dies (data is in the OS page cache) but may
   * lose the last second (interval) or more (never) of acknowledged writes if the machine
   * crashes or loses power; "always" syncs before each acknowledgement and is slower.
   */
  fsync?: FsyncPolicy;
  /** Largest request frame accepted, in bytes (default 100 MiB), checked before allocating. */
  maxFrameBytes?: number;
  /** Receives one line per notable event (default: silent). */
  logger?: (line: string) => void;
  /** Caps advertised max versions by API name, e.g. `{ Fetch: 4 }` (tests posing as an older broker). */
  maxVersions?: Record<string, number>;
}

/** A running broker. */
export interface Broker {
  /** "host:port" of the bound address. */
  bootstrap: string;
  host: string;
  port: number;
  /** Stops listening, closes connections, flushes and closes logs. */
  close(): Promise<void>;
}

/** Default largest frame: 100 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;

/** Starts a broker (in memory unless `dataDir` is given); resolves once it is listening. */
export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const host = opts.host ?? "127.0.0.1";
  const partitions = opts.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(
      `Cannot start the broker with ${partitions} default partitions: need 1 or more`,
    );
  }
  const state = await BrokerState.open({
    host,
    dataDir: opts.dataDir,
    partitions,
    autoCreate: opts.autoCreate ?? false,
    fsync: opts.fsync ?? "interval",
    maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    logger: opts.logger ?? (() => {}),
  });
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: host, port: opts.port ?? 0, transport: "tcp" });
  } catch (err) {
    await state.close();
    throw new Error(`Cannot listen on ${host}:${opts.port ?? 0}`, { cause: err });
  }
  const port = (listener.addr as Deno.NetAddr).port;
  state.port = port;
  const apis: ReadonlyMap<number, Api> = opts.maxVersions ? capVersions(opts.maxVersions) : APIS;
  const server = new BrokerServer(listener, state, apis);
  const bootstrap = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  state.log(
    `listening on ${bootstrap}${opts.dataDir ? ` with data in ${opts.dataDir}` : " (in memory)"}`,
  );
  let closing: Promise<void> | undefined;
  return {
    bootstrap,
    host,
    port,
    close() {
      closing ??= (async () => {
        await server.close(() => state.groups.close());
        await state.close();
        state.log("stopped");
      })();
      return closing;
    },
  };
}
