/**
 * The client matrix (tests/clients/_matrix.ts) for the two Python clients from Debian, run
 * by /usr/bin/python3: confluent-kafka-python (python3-confluent-kafka, on the system's
 * librdkafka) and kafka-python (python3-kafka 2.0.2, pure Python; with python3-snappy, -lz4
 * and -zstandard for its codecs). Each on Apache Kafka and on the embedded broker.
 */
import { SYSTEM_PYTHON } from "../_fixtures.ts";
import { defineMatrix, kv } from "../clients/_matrix.ts";

const dir = new URL("../clients/python/", import.meta.url).pathname;

await defineMatrix({
  label: "confluent-kafka-python",
  needs: ["confluent-python"],
  command: (step, args) =>
    Promise.resolve({
      cmd: SYSTEM_PYTHON,
      args: [`${dir}confluent_client.py`, step, ...kv(args)],
    }),
});

await defineMatrix({
  label: "kafka-python",
  needs: ["kafka-python"],
  cannot: {
    createDefaults: "kafka-python 2.0.2 stops at CreateTopics v3, and KIP-464 needs v4",
    idempotent: "kafka-python 2.0.2 has no idempotent producer",
  },
  command: (step, args) =>
    Promise.resolve({
      cmd: SYSTEM_PYTHON,
      args: [`${dir}kafka_python_client.py`, step, ...kv(args)],
    }),
});
