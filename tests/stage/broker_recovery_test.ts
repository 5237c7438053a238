/**
 * Recovery from damaged data (issue 11 item 2). Before: one flipped byte in the middle of
 * a 100,000-record partition cut everything after it (54 %) with one ordinary log line,
 * the next offsets reused numbers consumers had seen, and one flipped byte in offsets.log
 * moved a committed offset back. Now: one damaged batch costs that batch only, said loudly
 * with its records and bytes, its bytes kept in a side file and its offsets never given
 * out again; a damaged header field is repaired without loss; `--on-corruption refuse`
 * stops the broker instead; a damaged offsets.log entry is skipped, naming the commit.
 */
import assert from "node:assert/strict";
import { startTestBroker, withTempDir } from "../_fixtures.ts";
import { spawnBrokerProcess } from "../_broker_process.ts";
import { batchStarts, fillPartition } from "../_broker_log_files.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "with --on-corruption refuse the broker does not start on a damaged log and changes nothing",
  ...opts,
  fn: () =>
    withTempDir(async (dataDir) => {
      const path = await fillPartition(dataDir, "strict", 2000);
      const bytes = Deno.readFileSync(path);
      bytes[batchStarts(bytes)[4] + 100] ^= 0xff;
      Deno.writeFileSync(path, bytes);
      await assert.rejects(
        () => startTestBroker({ dataDir, onCorruption: "refuse" }),
        /Cannot open partition strict-0: .* a batch failing its CRC-32C check at byte \d+: .*100 record\(s\).*--on-corruption refuse/,
      );
      assert.deepEqual(Deno.readFileSync(path), bytes, "the log is left as it was");
      // The task exits 1 and says why.
      await assert.rejects(
        () => spawnBrokerProcess(["--data-dir", dataDir, "--on-corruption", "refuse"]),
        /Cannot open partition strict-0/,
      );
      // A torn tail (a crash mid-write) is not damage: refuse mode still starts.
      Deno.writeFileSync(path, bytes.subarray(0, batchStarts(bytes)[4]).slice());
      const tail = Deno.readFileSync(path);
      Deno.writeFileSync(
        path,
        new Uint8Array([...tail, ...bytes.subarray(tail.byteLength, tail.byteLength + 30)]),
      );
      const broker = await startTestBroker({ dataDir, onCorruption: "refuse" });
      await broker.close();
    }),
});
