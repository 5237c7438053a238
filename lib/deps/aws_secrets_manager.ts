/**
 * AWS SDK v3 Secrets Manager client: deploy stores the Databricks connection that MWAA
 * reads through its Secrets Manager backend (3.1162.0 is the registry's newest). Create and
 * Get are for the tests, which run it against moto.
 * @module
 */
export {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "npm:@aws-sdk/client-secrets-manager@3.1162.0";
