/**
 * The client matrix (tests/clients/_matrix.ts) for the Java client, org.apache.kafka:
 * kafka-clients 3.9 and 4.x from Maven Central, driving tests/clients/java/ClientMatrix.java
 * (compiled once per version into the engine cache): topic creation with defaults, every
 * codec with headers, consuming, a group losing a member, offsets, and the idempotent
 * producer's retry, each on Apache Kafka and on the embedded broker.
 */
import { JAVA_CLIENT_MAJORS, javaClientClasspath, javaClientVersion } from "../_engines.ts";
import { defineMatrix, kv } from "../clients/_matrix.ts";

for (const major of JAVA_CLIENT_MAJORS) {
  await defineMatrix({
    label: `the Java client ${javaClientVersion(major)}`,
    needs: ["java-clients"],
    async command(step, args) {
      const cp = await javaClientClasspath(major);
      return {
        cmd: "java",
        args: [
          // A small, quick-starting JVM per step: the client does little work.
          "-Xmx256m",
          "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1",
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
          "-cp",
          cp!,
          "ClientMatrix",
          step,
          ...kv(args),
        ],
      };
    },
  });
}
