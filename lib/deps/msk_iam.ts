/**
 * The AWS MSK IAM SASL signer, for `--auth aws-iam` (OAUTHBEARER tokens); the tests sign
 * with given credentials through generateAuthTokenFromCredentialsProvider.
 * @module
 */
export {
  generateAuthToken,
  generateAuthTokenFromCredentialsProvider,
} from "npm:aws-msk-iam-sasl-signer-js@1.0.3";
