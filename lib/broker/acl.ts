/**
 * The authorized-operations bit sets some responses carry (Metadata, DescribeGroups,
 * DescribeCluster). There is no authorizer, so, as Kafka does without one, a client may do
 * everything a resource type supports. Bits are Kafka's AclOperation codes.
 * @module
 */

/** "Not asked for": Kafka's INT32_MIN placeholder. */
export const NOT_ASKED = -2147483648;

const READ = 3;
const WRITE = 4;
const CREATE = 5;
const DELETE = 6;
const ALTER = 7;
const DESCRIBE = 8;
const CLUSTER_ACTION = 9;
const DESCRIBE_CONFIGS = 10;
const ALTER_CONFIGS = 11;
const IDEMPOTENT_WRITE = 12;

const bits = (...ops: number[]) => ops.reduce((n, op) => n | (1 << op), 0);

/** Everything a topic supports. */
export const ALL_TOPIC_OPERATIONS = bits(
  READ,
  WRITE,
  CREATE,
  DELETE,
  ALTER,
  DESCRIBE,
  DESCRIBE_CONFIGS,
  ALTER_CONFIGS,
);

/** Everything a group supports. */
export const ALL_GROUP_OPERATIONS = bits(READ, DESCRIBE, DELETE);

/** Everything the cluster supports. */
export const ALL_CLUSTER_OPERATIONS = bits(
  CREATE,
  CLUSTER_ACTION,
  DESCRIBE_CONFIGS,
  ALTER_CONFIGS,
  IDEMPOTENT_WRITE,
  ALTER,
  DESCRIBE,
);
