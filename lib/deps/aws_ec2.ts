/**
 * AWS SDK v3 EC2 client: deploy picks the network's Availability Zones by zone ID
 * (`DescribeAvailabilityZones`), since zone names map to different zones in each account.
 * @module
 */
export { DescribeAvailabilityZonesCommand, EC2Client } from "npm:@aws-sdk/client-ec2@3.1169.0";
export type { AvailabilityZone } from "npm:@aws-sdk/client-ec2@3.1169.0";
