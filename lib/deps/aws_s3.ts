/**
 * AWS SDK v3 S3 client: the lake on S3 and the MWAA DAG bucket. (Bucket creation,
 * versioning and HeadBucket are for the tests, which run against moto.)
 * @module
 */
export {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "npm:@aws-sdk/client-s3@3.1169.0";
export type { S3ClientConfig } from "npm:@aws-sdk/client-s3@3.1169.0";
