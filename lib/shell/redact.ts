/**
 * Keeps secrets out of logs, output and error messages: URL passwords (with or without a
 * scheme) and every value registered as a secret are replaced by `***`. lib/shell/log.ts is the
 * one path that prints through it.
 * @module
 */

const secrets = new Set<string>();

/** Registers a secret value (a password, a token, an API key) to be masked from now on. */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  secrets.add(value);
  // The same secret as it appears inside a URL.
  const encoded = encodeURIComponent(value);
  if (encoded !== value) secrets.add(encoded);
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

/**
 * `scheme://user:password@`: the password runs to the last `@` before the next space or
 * quote, so one with an `@` or `/` typed raw is masked whole (at worst a little more).
 */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"'`]*):([^\s"'`]+)@/gi;
/** `user:password@host` typed without a scheme (`--source root:pw@db:3306/x`). */
const BARE_PASSWORD = /(^|[\s"'`=(<,[{])([^\s:/?#@"'`]+):([^\s"'`]+)@(?=[^\s@"'`])/g;

/** True when `text` holds a password inside a URL: `scheme://user:pw@…` or `user:pw@host…`. */
export function hasUrlPassword(text: string): boolean {
  const found = (re: RegExp, pw: number) =>
    [...text.matchAll(re)].some((m) => m[pw] !== "" && !m[pw].startsWith("//"));
  return found(URL_PASSWORD, 2) || found(BARE_PASSWORD, 3);
}

/** `text` with URL passwords and every registered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, "$1:***@");
  // A scheme's `//` after the colon means a URL, handled (or deliberately left) above.
  out = out.replace(
    BARE_PASSWORD,
    (m, lead: string, user: string, pw: string) => pw.startsWith("//") ? m : `${lead}${user}:***@`,
  );
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}
