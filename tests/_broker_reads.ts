/**
 * Reading a topic back for the broker's persistence tests (unit and stage layers): every record
 * through kafkajs, and records in partition-then-offset order.
 * @module
 */
import { Kafka } from "../lib/deps/kafkajs.ts";
import { waitFor } from "./_fixtures.ts";

/**
 * Every record of `topic` as `partition:offset=value`, read with a fresh kafkajs consumer
 * (committing what it read when a `groupId` is given).
 */
export async function readAll(
  kafka: Kafka,
  topic: string,
  expected: number,
  groupId?: string,
): Promise<string[]> {
  const got: string[] = [];
  const consumer = kafka.consumer({
    groupId: groupId ?? `reader-${crypto.randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: groupId !== undefined,
    eachMessage: ({ partition, message }) => {
      got.push(`${partition}:${message.offset}=${message.value}`);
      return Promise.resolve();
    },
  });
  try {
    await waitFor(`${expected} records of "${topic}"`, () => got.length >= expected, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return byPosition(got);
}

/** `partition:offset=value` strings in partition, then offset order. */
export function byPosition(records: string[]): string[] {
  const key = (s: string) => s.split("=")[0].split(":").map(Number);
  return [...records].sort((a, b) => {
    const [pa, oa] = key(a);
    const [pb, ob] = key(b);
    return pa - pb || oa - ob;
  });
}
