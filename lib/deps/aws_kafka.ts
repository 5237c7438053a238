/**
 * AWS SDK v3 MSK (kafka) client: CloudFormation has no bootstrap-broker attribute, so
 * deploy asks `GetBootstrapBrokers` between the msk stack and the stacks that need them;
 * `DescribeClusterV2` gives the broker count MSK Connect's internal topics are sized to.
 * (`CreateClusterV2` is for the tests, which make a cluster in moto.)
 * @module
 */
export {
  CreateClusterV2Command,
  DescribeClusterV2Command,
  GetBootstrapBrokersCommand,
  KafkaClient,
} from "npm:@aws-sdk/client-kafka@3.1169.0";
