/**
 * Keeps secrets out of logs, output and error messages.
 * @module
 */

const secrets = new Set<string>();

/** Registers a secret value (a password, a token, an API key) to be masked from now on. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

const ENV_SECRETS = [
  "PINPIPE_MYSQL_PASSWORD",
  "PINPIPE_API_KEY",
  "PINPIPE_KAFKA_PASSWORD",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "DATABRICKS_TOKEN",
];

/** Registers the values of the well-known secret environment variables, where readable. */
export function registerEnvSecrets(env: Record<string, string | undefined>): void {
  for (const name of ENV_SECRETS) registerSecret(env[name]);
}

/** `text` with URL passwords and every registered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/\s]+)@/gi, "$1:***@");
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}
