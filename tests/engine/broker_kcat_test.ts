/**
 * The broker with librdkafka 2.0.2 through kcat: metadata (-L), producing plain and gzip
 * (-P), consuming from the beginning and from an offset (-C), and a two-member group (-G).
 * librdkafka opens with ApiVersions v3 and derives its features from the advertised
 * ranges, so these also prove the version matrix.
 */
import assert from "node:assert/strict";
import { envTest, run, waitFor, withBroker } from "../_fixtures.ts";
import type { Broker } from "../../lib/broker/broker.ts";

/** kcat against `broker`, feeding `stdin`; fails the test on a non-zero exit. */
async function kcat(broker: Broker, args: string[], stdin?: string): Promise<string> {
  const r = await run("kcat", ["-b", broker.bootstrap, ...args], { stdin });
  assert.equal(r.code, 0, `kcat ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** A long-running kcat whose output is collected as it comes. */
function spawnKcat(broker: Broker, args: string[]) {
  const child = new Deno.Command("kcat", {
    args: ["-b", broker.bootstrap, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const collect = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const done = Promise.all([
    collect(child.stdout, (s) => out += s),
    collect(child.stderr, (s) => err += s),
  ]);
  return {
    out: () => out,
    err: () => err,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await done;
    },
  };
}

await envTest(
  "kcat -L shows this broker as the controller and each topic's partitions",
  ["kcat"],
  async () => {
    await withBroker(async (broker) => {
      await kcat(broker, ["-P", "-t", "listed"], "x\n");
      const out = await kcat(broker, ["-L"]);
      assert.match(
        out,
        new RegExp(`broker 0 at ${broker.bootstrap.replace(".", "\\.")} \\(controller\\)`),
      );
      assert.match(out, /topic "listed" with 3 partitions:/);
      for (const p of [0, 1, 2]) {
        assert.match(out, new RegExp(`partition ${p}, leader 0, replicas: 0, isrs: 0`));
      }
    }, { autoCreate: true, partitions: 3 });
  },
);

await envTest(
  "kcat produces plain and gzip records that kcat reads back from the beginning and from an offset",
  ["kcat"],
  async () => {
    await withBroker(async (broker) => {
      const plain = Array.from({ length: 200 }, (_, i) => `k${i}:plain ${i}`).join("\n") + "\n";
      const gzip = Array.from({ length: 100 }, (_, i) => `g${i}:gzip ${i}`).join("\n") + "\n";
      await kcat(broker, ["-P", "-t", "t", "-p", "0", "-K:"], plain);
      await kcat(broker, ["-P", "-t", "t", "-p", "0", "-K:", "-z", "gzip"], gzip);
      await kcat(broker, ["-P", "-t", "t", "-p", "1", "-X", "acks=0"], "no ack\n");
      const all = await kcat(broker, [
        "-C",
        "-t",
        "t",
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%o %k %s\n",
      ]);
      const lines = all.trimEnd().split("\n");
      assert.equal(lines.length, 300);
      lines.forEach((line, i) => {
        const expected = i < 200 ? `${i} k${i} plain ${i}` : `${i} g${i - 200} gzip ${i - 200}`;
        assert.equal(line, expected);
      });
      const tail = await kcat(broker, [
        "-C",
        "-t",
        "t",
        "-p",
        "0",
        "-o",
        "295",
        "-e",
        "-f",
        "%o %s\n",
      ]);
      assert.deepEqual(
        tail.trimEnd().split("\n"),
        [295, 296, 297, 298, 299].map((o) => `${o} gzip ${o - 200}`),
      );
      // acks=0 has no answer to wait for: poll until the record shows up.
      await waitFor(
        "the acks=0 record",
        async () => {
          const p1 = await kcat(broker, [
            "-C",
            "-t",
            "t",
            "-p",
            "1",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%o %s\n",
          ]);
          return p1 === "0 no ack\n";
        },
        20_000,
        200,
      );
    }, { autoCreate: true, partitions: 2 });
  },
);

await envTest(
  "two kcat -G members split the partitions and together read every record",
  ["kcat"],
  async () => {
    await withBroker(async (broker) => {
      await kcat(broker, ["-P", "-t", "shared", "-p", "0"], "warm-up\n");
      const groupArgs = [
        "-u", // unbuffered output: we read it as it comes
        "-G",
        "kgroup",
        "shared",
        "-X",
        "auto.offset.reset=earliest",
        "-X",
        "heartbeat.interval.ms=300",
        "-X",
        "session.timeout.ms=6000",
        "-f",
        "%p %o %s\n",
      ];
      const a = spawnKcat(broker, groupArgs);
      const b = spawnKcat(broker, groupArgs);
      try {
        /** The partitions each member was last assigned. */
        const assigned = (err: string) => {
          const m = [...err.matchAll(/assigned: ([^\n]*)/g)].at(-1);
          return m ? [...m[1].matchAll(/shared \[(\d+)\]/g)].map((x) => Number(x[1])).sort() : [];
        };
        await waitFor(
          "both members to get partitions",
          () =>
            assigned(a.err()).length > 0 && assigned(b.err()).length > 0 &&
            assigned(a.err()).length + assigned(b.err()).length === 4,
          30_000,
        );
        assert.deepEqual(
          [...assigned(a.err()), ...assigned(b.err())].sort(),
          [0, 1, 2, 3],
          "each partition belongs to exactly one member",
        );
        const records = Array.from({ length: 400 }, (_, i) => `r${i}`);
        // A hundred to each partition: librdkafka's sticky partitioning would put keyless
        // records produced within 10 ms all in one partition.
        for (const p of [0, 1, 2, 3]) {
          await kcat(
            broker,
            ["-P", "-t", "shared", "-p", String(p)],
            records.slice(p * 100, p * 100 + 100).join("\n") + "\n",
          );
        }
        const values = () =>
          new Set([...a.out().split("\n"), ...b.out().split("\n")].map((l) => l.split(" ")[2]));
        await waitFor(
          "every record to be read",
          () => records.every((r) => values().has(r)),
          30_000,
        );
        // After the split, each member read only its own partitions.
        const readAfter = (out: string) =>
          out.split("\n").filter((l) => /^\d+ \d+ r\d+$/.test(l)).map((l) =>
            Number(l.split(" ")[0])
          );
        assert.ok(readAfter(a.out()).every((p) => assigned(a.err()).includes(p)));
        assert.ok(readAfter(b.out()).every((p) => assigned(b.err()).includes(p)));
        assert.ok(
          readAfter(a.out()).length > 0 && readAfter(b.out()).length > 0,
          "both members read",
        );
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }, { autoCreate: true, partitions: 4 });
  },
);
