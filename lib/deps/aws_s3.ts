/**
 * AWS SDK v3 S3 client: the lake on S3 and the MWAA DAG bucket.
 * @module
 */
export {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from "npm:@aws-sdk/client-s3@3.1169.0";
export type { S3ClientConfig } from "npm:@aws-sdk/client-s3@3.1169.0";
