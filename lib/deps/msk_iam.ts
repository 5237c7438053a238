/**
 * The AWS MSK IAM SASL signer, for `--auth aws-iam` (OAUTHBEARER tokens).
 * @module
 */
export { generateAuthToken } from "npm:aws-msk-iam-sasl-signer-js@1.0.3";
