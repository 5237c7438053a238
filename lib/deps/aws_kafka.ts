/**
 * AWS SDK v3 MSK (kafka) client: CloudFormation has no bootstrap-broker attribute, so
 * deploy asks `GetBootstrapBrokers` between the msk stack and the stacks that need them.
 * @module
 */
export { GetBootstrapBrokersCommand, KafkaClient } from "npm:@aws-sdk/client-kafka@3.1169.0";
