/**
 * tasks/broker.ts's options: one table gives the parser, --help and the broker's options.
 * @module
 */
import assert from "node:assert/strict";
import { parseOptions } from "../../tasks/broker.ts";
import { DEFAULT_DATA_DIR, DEFAULT_MAX_REQUEST_MEMORY } from "../../lib/broker/broker.ts";
import { KAFKA_LOG_DEFAULTS } from "../../lib/broker/configs.ts";
import {
  DEFAULT_CONSUMER_HEARTBEAT_INTERVAL_MS,
  DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
} from "../../lib/broker/consumer_groups.ts";

Deno.test("the broker task's defaults are the library's", () => {
  const o = parseOptions([], {});
  assert.equal(o.broker.port, 9092);
  assert.equal(o.broker.dataDir, DEFAULT_DATA_DIR);
  assert.equal(o.broker.maxRequestMemory, DEFAULT_MAX_REQUEST_MEMORY);
  assert.equal(o.broker.retentionMs, KAFKA_LOG_DEFAULTS.retentionMs);
  assert.equal(o.broker.maxConnectionsPerIp, undefined);
  assert.deepEqual(o.broker.maxConnectionsPerIpOverrides, new Map());
  assert.equal(o.broker.consumerSessionTimeoutMs, DEFAULT_CONSUMER_SESSION_TIMEOUT_MS);
  assert.equal(o.broker.consumerHeartbeatIntervalMs, DEFAULT_CONSUMER_HEARTBEAT_INTERVAL_MS);
});

Deno.test("the broker task reads its words, units and variables", () => {
  const o = parseOptions(
    ["--retention", "forever", "--retention-bytes", "64MiB", "--memory", "--max-memory=32MiB"],
    { PINPIPE_BROKER_IDLE_TIMEOUT: "90s", PINPIPE_BROKER_MAX_CONNECTIONS_PER_IP_OVERRIDES: "a:5" },
  );
  assert.equal(o.broker.retentionMs, -1);
  assert.equal(o.broker.retentionBytes, 64 * 1024 ** 2);
  assert.equal(o.broker.dataDir, undefined);
  assert.equal(o.broker.maxMemoryBytes, 32 * 1024 ** 2);
  assert.equal(o.broker.idleTimeoutMs, 90_000);
  assert.deepEqual(o.broker.maxConnectionsPerIpOverrides, new Map([["a", 5]]));
});

Deno.test("the broker task reports every problem with its options together", () => {
  assert.throws(
    () =>
      parseOptions([
        "--idle-timeout",
        "600",
        "--max-memory",
        "1GiB",
        "--max-connections-per-ip-overrides",
        "nohost",
        "--prot",
        "9",
      ], {}),
    (err: Error) => {
      assert.match(err.message, /^4 problems with the options:/);
      assert.match(err.message, /--idle-timeout "600": expected a duration with its unit/);
      assert.match(err.message, /--max-connections-per-ip-overrides "nohost": "nohost" is not/);
      assert.match(err.message, /Unknown flag --prot: did you mean --port\?/);
      assert.match(err.message, /Cannot use --max-memory without --memory/);
      return true;
    },
  );
  assert.throws(
    () => parseOptions(["--memory", "--data-dir", "x"], {}),
    /Cannot use --memory with --data-dir/,
  );
});

Deno.test("the consumer groups' heartbeat interval is a flag, below the session timeout as Kafka requires", () => {
  const o = parseOptions(["--consumer-heartbeat-interval", "500ms"], {
    PINPIPE_BROKER_CONSUMER_SESSION_TIMEOUT: "3s",
  });
  assert.equal(o.broker.consumerHeartbeatIntervalMs, 500);
  assert.equal(o.broker.consumerSessionTimeoutMs, 3000);
  assert.throws(
    () =>
      parseOptions(
        ["--consumer-heartbeat-interval", "10s", "--consumer-session-timeout", "6s"],
        {},
      ),
    /--consumer-heartbeat-interval \(10000 ms\) must be below --consumer-session-timeout \(6000 ms\)/,
  );
});
