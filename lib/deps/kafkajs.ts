/**
 * kafkajs, the Kafka client pinpipe's tasks use (and the broker's tests use as an oracle),
 * with one quirk fixed on import (below), so every client made from here has it fixed.
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import RequestQueueModule from "npm:kafkajs@2.2.4/src/network/requestQueue/index.js";

export {
  AssignerProtocol,
  CompressionTypes,
  Kafka,
  logLevel,
  Partitioners,
} from "npm:kafkajs@2.2.4";
export type {
  Admin,
  Consumer,
  EachBatchPayload,
  KafkaConfig,
  Message,
  Producer,
  RecordMetadata,
  SASLOptions,
} from "npm:kafkajs@2.2.4";

/**
 * kafkajs 2.2.4's RequestQueue schedules its next queue check with
 * `setTimeout(fn, throttledUntil - Date.now())`, and `throttledUntil` is -1 until a broker
 * throttles: a delay of minus fifty years. Node clamps it to 1 ms and Deno's Node layer
 * does too, but also prints a `TimeoutNegativeWarning` for it. This is the same method
 * with the delay clamped before the call, so the behaviour is unchanged and no warning is
 * needed; any other negative timeout still warns.
 */
function fixNegativeThrottleTimeout(): void {
  const proto = (RequestQueueModule as any).prototype;
  if (!proto || proto.__pinpipeClamped) return;
  const CHECK_PENDING_REQUESTS_INTERVAL = 10; // kafkajs's own constant, same file
  proto.scheduleCheckPendingRequests = function (this: any) {
    let scheduleAt = this.throttledUntil - Date.now();
    if (!this.throttleCheckTimeoutId) {
      if (this.pending.length > 0) {
        scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
      }
      this.throttleCheckTimeoutId = setTimeout(() => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      }, Math.max(1, scheduleAt));
    }
  };
  proto.__pinpipeClamped = true;
}
fixNegativeThrottleTimeout();
