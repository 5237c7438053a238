/**
 * Helpers for the broker's storage and resilience tests: a raw connection speaking
 * kafkajs's own request encodings (the oracle), and the broker task run as its own process
 * under a lowered open-file limit, with its memory and descriptors readable from /proc.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encodeKafkajsRequest, kafkajsRequests } from "../lib/deps/kafkajs_protocol.ts";
import { RawKafkaConn } from "./_fixtures.ts";
import { shebangFlags } from "./_process.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

/** A raw connection that sends requests as kafkajs encodes them and decodes the answers. */
export class Oracle {
  private cid = 1;
  private constructor(readonly conn: RawKafkaConn) {}

  /** Connects to `bootstrap`. */
  static async open(bootstrap: string): Promise<Oracle> {
    return new Oracle(await RawKafkaConn.open(bootstrap));
  }

  /** Sends `api` v`version` with `args`; answers kafkajs's decoding of the response. */
  async call(api: string, version: number, args: Any = {}): Promise<Any> {
    const { request, response } = kafkajsRequests[api].protocol({ version })(args);
    const correlationId = this.cid++;
    const frame = await encodeKafkajsRequest({ correlationId, clientId: "oracle", request });
    await this.conn.send(frame.buffer);
    if (request.expectResponse && !request.expectResponse()) return undefined;
    const res = await this.conn.readFrame(30_000);
    assert.ok(res, `the broker closed the connection on ${api} v${version}`);
    assert.equal(new DataView(res.buffer).getInt32(0), correlationId, "correlation id");
    return await response.decode(Buffer.from(res.subarray(4)));
  }

  /**
   * Produce v7 of `values` to `topic`-`partition` (acks -1), optionally as an idempotent
   * producer; answers the partition's [error code, base offset].
   */
  async produce(
    topic: string,
    partition: number,
    values: string[],
    idem?: { producerId: number; epoch: number; seq: number; transactionalId?: string },
  ): Promise<[number, number]> {
    const res = await this.call("Produce", 7, {
      acks: -1,
      timeout: 5000,
      transactionalId: idem?.transactionalId ?? null,
      producerId: idem ? idem.producerId : -1,
      producerEpoch: idem ? idem.epoch : 0,
      topicData: [{
        topic,
        partitions: [{
          partition,
          firstSequence: idem ? idem.seq : undefined,
          messages: values.map((v) => ({ value: v })),
        }],
      }],
    });
    const p = res.topics[0].partitions[0];
    return [p.errorCode, Number(p.baseOffset)];
  }

  close(): void {
    this.conn.close();
  }
}

/** The broker task in its own process. */
export interface BrokerProcess {
  pid: number;
  bootstrap: string;
  /** Its stderr so far. */
  stderr(): string;
  /** Resident memory now, in MB (0 once it ended). */
  rssMB(): number;
  /** File descriptors it has open now (0 once it ended). */
  openFiles(): number;
  /** Whether it is still running. */
  alive(): boolean;
  /** Sends `signal` (default SIGTERM) and waits for it to end. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts `tasks/broker.ts` with `args` (plus `--port 0 --json`), under `ulimit -n
 * <openFiles>` when given; resolves once it listens, or rejects with its stderr.
 */
export async function spawnBrokerProcess(
  args: string[],
  opts: { openFiles?: number } = {},
): Promise<BrokerProcess> {
  const path = new URL("../tasks/broker.ts", import.meta.url);
  const deno = [Deno.execPath(), "run", ...shebangFlags(path), path.pathname];
  const all = [...deno, "--port", "0", "--json", ...args];
  const cmd = opts.openFiles
    ? new Deno.Command("sh", {
      args: ["-c", `ulimit -n ${opts.openFiles} && exec "$@"`, "sh", ...all],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(all[0], {
      args: all.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const child = cmd.spawn();
  let stderr = "";
  let ended = false;
  const status = child.status.then((s) => {
    ended = true;
    return s;
  });
  const drained = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await status;
      await drained;
      throw new Error(`the broker exited before listening: ${stderr.trim()}`);
    }
    text += value;
  }
  const rest = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  const { bootstrap } = JSON.parse(text.split("\n")[0]) as { bootstrap: string };
  return {
    pid: child.pid,
    bootstrap,
    stderr: () => stderr,
    rssMB: () => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`));
        return m ? Number(m[1]) / 1000 : 0;
      } catch {
        return 0;
      }
    },
    openFiles: () => {
      try {
        return [...Deno.readDirSync(`/proc/${child.pid}/fd`)].length;
      } catch {
        return 0;
      }
    },
    alive: () => !ended,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const s = await status;
      await Promise.all([drained, rest]);
      return s;
    },
  };
}
