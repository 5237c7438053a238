/**
 * The connector task: the S3 sink configuration (read from infra/connect.yaml), Kafka
 * Connect's REST contract (against a real HTTP server that keeps it: 201/200/409/FAILED with
 * trace; an unreachable URL fails at once), MSK Connect (against aws-sdk-client-mock, which
 * stands in for the kafkaconnect API moto lacks, asserting every command and field sent) and
 * the broker count MSK Connect's internal topics are sized to (DescribeClusterV2 on moto).
 */
import assert from "node:assert/strict";
import { run } from "../_fixtures.ts";

/** A port nothing listens on (bound, then closed). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("the connector task with an unreachable --connect-url exits 1 with one line", async () => {
  const r = await run("deno", [
    "run",
    "-A",
    "tasks/connector.ts",
    "--target=connect-rest",
    `--connect-url=http://127.0.0.1:${closedPort()}`,
    "--bucket=lake",
    "--region=eu-west-1",
  ]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n").filter((l) => !/^connector: /.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /Cannot reach Kafka Connect at --connect-url "http:\/\/127\.0\.0\.1:\d+": connection refused/,
  );
});
