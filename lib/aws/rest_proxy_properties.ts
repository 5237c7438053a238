/**
 * `kafka-rest.properties` for Confluent's REST proxy on the EC2 client instance, talking to
 * MSK with IAM auth (reference/aws-kafka.md §1.6), and the defaults of its installation: pure
 * text, with no AWS SDK, so a task reads these defaults without loading one.
 * @module
 */

/** How long the EC2 proxy's producer waits for a missing topic's metadata by default. */
export const DEFAULT_MAX_BLOCK_MS = 10_000;
/** Where infra/client.yaml installs kafka-rest.properties. */
export const DEFAULT_PROPERTIES_PATH = "/opt/pinpipe/kafka-rest.properties";
/** The systemd unit of the EC2 proxy. */
export const DEFAULT_REST_SERVICE = "kafka-rest";

/** What goes into kafka-rest.properties. */
export interface RestProxyProperties {
  /** `BootstrapBrokerStringSaslIam` (host:9098,…). */
  bootstrap: string;
  /** The REST listener port (API Gateway's HTTP_PROXY integration points at it). Default 8082. */
  port?: number;
  /**
   * `producer.max.block.ms`: how long a produce waits for metadata of a missing topic.
   * Default 10000, well under API Gateway's 29 s integration timeout.
   */
  maxBlockMs?: number;
  /** A role for the IAM login module to assume (`awsRoleArn`), if not the instance's own. */
  roleArn?: string;
}

/**
 * kafka-rest.properties for the REST proxy on MSK with IAM auth, byte-for-byte stable: the
 * one text both the client instance's first boot (deploy passes it to infra/client.yaml)
 * and `rest-proxy config` install, so `--deploy` after a deploy changes nothing.
 */
export function renderRestProxyProperties(p: RestProxyProperties): string {
  const jaas = p.roleArn
    ? `software.amazon.msk.auth.iam.IAMLoginModule required awsRoleArn="${p.roleArn}";`
    : "software.amazon.msk.auth.iam.IAMLoginModule required;";
  return [
    "# kafka-rest.properties, written by pinpipe (deno task deploy at first boot, then deno task",
    "# rest-proxy config --deploy); edits are replaced. Confluent REST proxy -> Amazon MSK with",
    "# IAM auth (needs aws-msk-iam-auth-*-all.jar on the classpath, e.g. share/java/kafka-rest-lib/).",
    `bootstrap.servers=${p.bootstrap}`,
    `listeners=http://0.0.0.0:${p.port ?? 8082}`,
    "",
    "# client.* applies to the producer, consumer and admin clients alike.",
    "client.security.protocol=SASL_SSL",
    "client.sasl.mechanism=AWS_MSK_IAM",
    `client.sasl.jaas.config=${jaas}`,
    "client.sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler",
    "# A t3.small broker accepts 4 new IAM connections a second: do not reconnect faster.",
    "client.reconnect.backoff.ms=1000",
    "",
    "# Fail fast on a missing topic instead of after API Gateway's 29 s timeout, and only",
    "# acknowledge records every in-sync replica has.",
    `producer.max.block.ms=${p.maxBlockMs ?? DEFAULT_MAX_BLOCK_MS}`,
    "producer.acks=all",
    "",
  ].join("\n");
}

/** Where and how the file is installed on the instance. */
export interface InstallTarget {
  instanceId: string;
  /** Absolute path of kafka-rest.properties on the instance. */
  path: string;
  /** The systemd unit running the REST proxy. */
  service: string;
  /** The port to probe after a restart. */
  port?: number;
}
