/**
 * IAM policy evaluation for MSK's kafka-cluster actions (lib/broker/iam_policy.ts): explicit
 * Deny over Allow over the implicit deny, wildcards in actions (any case) and resources
 * (exact case), NotAction and NotResource, conditions on kafka-cluster statements refused
 * when the policy is loaded (and accepted on statements that cannot apply to Kafka), and
 * the stacks' rendered roles loading as they are.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { localClusterArn, MskArns, parsePolicy, PolicySet } from "../../lib/broker/iam_policy.ts";
import * as rendered from "../../lib/aws/local_policies.ts";

const { renderLocalPolicies } = rendered;

Deno.test("deploy --local-policies renders for the cluster ARN the broker has by default", () => {
  assert.equal(rendered.localClusterArn("eu-west-1"), localClusterArn("eu-west-1"));
});

const arns = new MskArns(localClusterArn("us-east-1"));
const topic = arns.topic("pinpipe.pin");
const set = (...statements: unknown[]) =>
  new PolicySet(parsePolicy({ Version: "2012-10-17", Statement: statements }, "test.json"), [
    "test.json",
  ]);

Deno.test("explicit Deny beats Allow, Allow beats the implicit deny; wildcards match as IAM's do", () => {
  const p = set(
    { Sid: "All", Effect: "Allow", Action: "kafka-cluster:*", Resource: "*" },
    {
      Sid: "NoUser",
      Effect: "Deny",
      Action: ["kafka-cluster:WriteData"],
      Resource: arns.topic("*.user"),
    },
  );
  assert.equal(p.decide("kafka-cluster:WriteData", topic).allowed, true);
  const denied = p.decide("kafka-cluster:WriteData", arns.topic("pinpipe.user"));
  assert.deepEqual(denied, { allowed: false, why: "denied by test.json, statement NoUser" });
  // Actions are case-insensitive, resources are not.
  assert.equal(p.decide("KAFKA-CLUSTER:writedata", topic).allowed, true);
  const q = set({
    Effect: "Allow",
    Action: "kafka-cluster:Describe?opic",
    Resource: arns.topic("pinpipe.*"),
  });
  assert.equal(q.decide("kafka-cluster:DescribeTopic", topic).allowed, true);
  assert.equal(q.decide("kafka-cluster:DescribeTopic", arns.topic("PINPIPE.pin")).allowed, false);
  assert.match(
    q.decide("kafka-cluster:ReadData", topic).why,
    /^no statement allows it \(test\.json\)$/,
  );
});

Deno.test("NotAction and NotResource", () => {
  const p = set(
    { Effect: "Allow", NotAction: "kafka-cluster:Delete*", Resource: "*" },
    { Effect: "Deny", Action: "kafka-cluster:ReadData", NotResource: arns.topic("pinpipe.*") },
  );
  assert.equal(p.decide("kafka-cluster:ReadData", topic).allowed, true);
  assert.equal(p.decide("kafka-cluster:DeleteTopic", topic).allowed, false);
  assert.equal(p.decide("kafka-cluster:ReadData", arns.topic("other")).allowed, false);
});

Deno.test("a Condition on kafka-cluster actions is refused at load, naming the statement and keys; elsewhere it is kept", () => {
  assert.throws(
    () =>
      set({
        Sid: "Tagged",
        Effect: "Allow",
        Action: "kafka-cluster:*",
        Resource: "*",
        Condition: { StringEquals: { "aws:ResourceTag/team": "data" } },
      }),
    /test\.json, statement Tagged: has a Condition \(aws:ResourceTag\/team\) on kafka-cluster actions, which this broker does not evaluate/,
  );
  const p = set(
    {
      Effect: "Allow",
      Action: "s3:GetObject",
      Resource: "*",
      Condition: { Bool: { "aws:SecureTransport": "true" } },
    },
  );
  assert.equal(p.decide("kafka-cluster:Connect", arns.cluster).allowed, false);
  assert.throws(
    () => set({ Effect: "Maybe", Action: "*", Resource: "*" }),
    /Effect must be Allow or Deny/,
  );
  assert.throws(
    () => set({ Effect: "Allow", Action: "*" }),
    /exactly one of Resource, NotResource/,
  );
  assert.throws(() => new MskArns("arn:aws:kafka:us-east-1:1:cluster/x"), /not an MSK cluster ARN/);
});

Deno.test("the stacks' rendered roles load, and say what infra/ says", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const roles = await renderLocalPolicies(dir, { region: "us-east-1", prefix: "pinpipe" });
    assert.deepEqual(roles.map((r) => r.file.split("/").pop()), [
      "client-InstanceRole.json",
      "client-TopicAdminRole.json",
      "connect-ExecutionRole.json",
    ]);
    const instance = await PolicySet.load([join(dir, "client-InstanceRole.json")]);
    assert.equal(instance.decide("kafka-cluster:WriteData", topic).allowed, true);
    assert.equal(instance.decide("kafka-cluster:CreateTopic", topic).allowed, false);
    assert.equal(
      instance.decide("kafka-cluster:WriteDataIdempotently", arns.cluster).allowed,
      true,
    );
    const connect = await PolicySet.load([join(dir, "connect-ExecutionRole.json")]);
    assert.equal(connect.decide("kafka-cluster:ReadData", topic).allowed, true);
    assert.equal(connect.decide("kafka-cluster:WriteData", topic).allowed, false);
    assert.equal(
      connect.decide("kafka-cluster:AlterGroup", arns.group("connect-pinpipe-s3-sink-abc")).allowed,
      true,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
