/**
 * AWS Signature Version 4 for `emulate --rest-auth iam` (API Gateway with `AWS_IAM`), and the
 * SDK's default credential chain (environment, profile, SSO, container or instance role).
 * Loaded lazily: only a signed run downloads it.
 * @module
 */
export { SignatureV4 } from "npm:@smithy/signature-v4@5.7.5";
export { Sha256 } from "npm:@aws-crypto/sha256-js@5.2.0";
export { defaultProvider } from "npm:@aws-sdk/credential-provider-node@3.972.97";
