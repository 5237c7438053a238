/**
 * AWS SDK v3 Secrets Manager client: deploy stores the Databricks connection that MWAA
 * reads through its Secrets Manager backend (3.1162.0 is the registry's newest).
 * @module
 */
export {
  PutSecretValueCommand,
  SecretsManagerClient,
} from "npm:@aws-sdk/client-secrets-manager@3.1162.0";
