/**
 * SCRAM (RFC 5802, RFC 7677) and PLAIN for the broker's SASL listeners, and the user
 * credentials they check, stored as Kafka stores them: per user and mechanism a salt, the
 * iteration count, StoredKey and ServerKey, never the password. PLAIN checks a password
 * against the same stored keys.
 *
 * The users file (`--sasl-users FILE`) is JSON: `{"alice": "password", "bob": {"SCRAM-SHA-512":
 * {"salt": "<base64>", "iterations": 4096, "storedKey": "<base64>", "serverKey": "<base64>"}}}`;
 * a password becomes credentials for both SCRAM mechanisms at 4096 iterations (Kafka's
 * default) and is not kept. Credentials changed with AlterUserScramCredentials are kept in
 * the data dir (`scram-credentials.json`, mode 0600), in memory without one.
 * @module
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { MskArns, PolicySet } from "./iam_policy.ts";

/** The SCRAM mechanisms, with their hash and Kafka's mechanism number (AlterUserScramCredentials). */
export const SCRAM_MECHANISMS = {
  "SCRAM-SHA-256": { hash: "sha256", id: 1, keyBytes: 32 },
  "SCRAM-SHA-512": { hash: "sha512", id: 2, keyBytes: 64 },
} as const;
export type ScramMechanism = keyof typeof SCRAM_MECHANISMS;
/** Kafka's default and least iteration count. */
export const SCRAM_MIN_ITERATIONS = 4096;
/** Kafka's greatest. */
export const SCRAM_MAX_ITERATIONS = 16384;

/** One user's credential for one mechanism, as Kafka keeps it. */
export interface ScramCredential {
  salt: Uint8Array;
  iterations: number;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
}

/** Why an authentication failed: what the client is told, and what the log says. */
export class AuthFailure extends Error {
  constructor(readonly clientMessage: string, readonly reason: string) {
    super(reason);
  }
}

function hmac(hash: string, key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac(hash, key).update(data).digest();
}

/** The credential for `saltedPassword` (what AlterUserScramCredentials sends). */
export function credentialFromSalted(
  mechanism: ScramMechanism,
  salt: Uint8Array,
  iterations: number,
  saltedPassword: Uint8Array,
): ScramCredential {
  const { hash } = SCRAM_MECHANISMS[mechanism];
  const clientKey = hmac(hash, saltedPassword, "Client Key");
  return {
    salt,
    iterations,
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, saltedPassword, "Server Key"),
  };
}

/** Hi() of RFC 5802: PBKDF2 with the mechanism's HMAC. */
export function saltPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Uint8Array {
  const { hash, keyBytes } = SCRAM_MECHANISMS[mechanism];
  return pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, keyBytes, hash);
}

/** A new credential for `password` with a random salt. */
export function credentialFor(
  mechanism: ScramMechanism,
  password: string,
  iterations = SCRAM_MIN_ITERATIONS,
): ScramCredential {
  const salt = randomBytes(32);
  return credentialFromSalted(
    mechanism,
    salt,
    iterations,
    saltPassword(mechanism, password, salt, iterations),
  );
}

type StoredJson = Record<string, Partial<Record<ScramMechanism, Record<string, string | number>>>>;

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

/** The users and their SCRAM credentials. */
export class ScramStore {
  private users = new Map<string, Map<ScramMechanism, ScramCredential>>();

  /** `file`: where AlterUserScramCredentials' changes are kept (none: in memory). */
  constructor(private readonly file?: string) {}

  /** The store of a data dir (or in memory), with what it kept and the users file's users. */
  static async open(dataDir: string | undefined, usersFile?: string): Promise<ScramStore> {
    const store = new ScramStore(dataDir ? join(dataDir, "scram-credentials.json") : undefined);
    if (usersFile) store.load(await readJson(usersFile, "the SASL users file"), usersFile);
    if (store.file) {
      try {
        store.load(JSON.parse(await Deno.readTextFile(store.file)), store.file);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return store;
  }

  /** Adds the users of a users file's JSON; errors name the file and the user. */
  load(json: unknown, source: string): void {
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new Error(`${source}: expected a JSON object of user name → password or credentials`);
    }
    for (const [user, v] of Object.entries(json as Record<string, unknown>)) {
      if (!user) throw new Error(`${source}: a user with an empty name`);
      if (typeof v === "string") {
        if (!v) throw new Error(`${source}: user "${user}" has an empty password`);
        for (const m of Object.keys(SCRAM_MECHANISMS) as ScramMechanism[]) {
          this.set(user, m, credentialFor(m, v));
        }
        continue;
      }
      if (!v || typeof v !== "object") {
        throw new Error(`${source}: user "${user}" needs a password string or credentials`);
      }
      for (const [m, c] of Object.entries(v as Record<string, Record<string, unknown>>)) {
        if (!(m in SCRAM_MECHANISMS)) {
          throw new Error(
            `${source}: user "${user}": unknown mechanism "${m}" (have ${
              Object.keys(SCRAM_MECHANISMS).join(", ")
            })`,
          );
        }
        const { salt, iterations, storedKey, serverKey } = c ?? {};
        if (
          typeof salt !== "string" || typeof storedKey !== "string" ||
          typeof serverKey !== "string" || typeof iterations !== "number"
        ) {
          throw new Error(
            `${source}: user "${user}" ${m} needs salt, storedKey, serverKey (base64) and iterations`,
          );
        }
        this.set(user, m as ScramMechanism, {
          salt: unb64(salt),
          iterations,
          storedKey: unb64(storedKey),
          serverKey: unb64(serverKey),
        });
      }
    }
  }

  get(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.users.get(user)?.get(mechanism);
  }

  /** The mechanisms `user` has credentials for (empty for an unknown user). */
  mechanisms(user: string): ScramMechanism[] {
    return [...this.users.get(user)?.keys() ?? []];
  }

  /** Every user with a credential. */
  names(): string[] {
    return [...this.users.keys()];
  }

  set(user: string, mechanism: ScramMechanism, c: ScramCredential): void {
    let m = this.users.get(user);
    if (!m) this.users.set(user, m = new Map());
    m.set(mechanism, c);
  }

  /** Removes a credential; false when there was none. */
  delete(user: string, mechanism: ScramMechanism): boolean {
    const m = this.users.get(user);
    if (!m?.delete(mechanism)) return false;
    if (m.size === 0) this.users.delete(user);
    return true;
  }

  /** Keeps the credentials in the data dir (nothing to do in memory). */
  async save(): Promise<void> {
    if (!this.file) return;
    const out: StoredJson = {};
    for (const [user, m] of this.users) {
      out[user] = {};
      for (const [mech, c] of m) {
        out[user][mech] = {
          salt: b64(c.salt),
          iterations: c.iterations,
          storedKey: b64(c.storedKey),
          serverKey: b64(c.serverKey),
        };
      }
    }
    const tmp = `${this.file}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(out, null, 1) + "\n", { mode: 0o600 });
    await Deno.rename(tmp, this.file);
  }

  /** True when `password` is `user`'s (checked against any of its SCRAM credentials). */
  checkPassword(user: string, password: string): boolean {
    for (const [mech, c] of this.users.get(user) ?? []) {
      const again = credentialFromSalted(
        mech,
        c.salt,
        c.iterations,
        saltPassword(mech, password, c.salt, c.iterations),
      );
      return equal(again.storedKey, c.storedKey);
    }
    return false;
  }
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new Error(`Cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${file} is not JSON: ${(err as Error).message}`);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** One step of a server-side SASL exchange. */
export interface SaslStep {
  /** The bytes to send back. */
  challenge: Uint8Array;
  /** Set once the client is authenticated. */
  principal?: string;
  /** When the credential it presented expires (ms since epoch), if it does. */
  expiresAt?: number;
  /** The principal's IAM policies and the cluster's ARNs, when requests are authorized (iam_authz.ts). */
  authz?: { policies: PolicySet; arns: MskArns };
}

/** A server-side SASL exchange: one call per SaslAuthenticate; throws AuthFailure. */
export interface SaslExchange {
  step(response: Uint8Array): SaslStep | Promise<SaslStep>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The SCRAM server of RFC 5802 for `mechanism`, over `store`. */
export function scramExchange(mechanism: ScramMechanism, store: ScramStore): SaslExchange {
  const { hash } = SCRAM_MECHANISMS[mechanism];
  // Kafka's words for any bad credential: the client learns nothing of which part was wrong.
  const invalid = (reason: string) =>
    new AuthFailure(
      `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
      reason,
    );
  let first: { bare: string; gs2: string; user: string; nonce: string } | undefined;
  let serverFirst = "";
  let cred: ScramCredential | undefined;
  let done = false;
  return {
    step(response) {
      const text = dec.decode(response);
      if (done) throw invalid("a SCRAM message after the exchange ended");
      if (!first) {
        // gs2-header "n,," or "y,," (or with a=authzid), then n=user,r=nonce[,extensions]
        const m = /^([nyp](?:=[^,]*)?),(a=[^,]*)?,(.*)$/s.exec(text);
        if (!m || m[1].startsWith("p")) throw invalid("a malformed SCRAM client-first message");
        const bare = m[3];
        const attrs = scramAttrs(bare);
        const user = attrs.get("n");
        const nonce = attrs.get("r");
        if (user === undefined || !nonce) {
          throw invalid("a SCRAM client-first message without a user name or nonce");
        }
        const name = user.replaceAll("=2C", ",").replaceAll("=3D", "=");
        if (m[2] && m[2].slice(2) !== name) {
          throw invalid(`authorization id "${m[2].slice(2)}" differs from user "${name}"`);
        }
        first = { bare, gs2: `${m[1]},${m[2] ?? ""},`, user: name, nonce };
        cred = store.get(name, mechanism);
        if (!cred) throw invalid(`user "${name}" has no ${mechanism} credential`);
        const serverNonce = first.nonce + randomBytes(24).toString("base64url");
        serverFirst = `r=${serverNonce},s=${b64(cred.salt)},i=${cred.iterations}`;
        return { challenge: enc.encode(serverFirst) };
      }
      done = true;
      const attrs = scramAttrs(text);
      const proof = attrs.get("p");
      const nonce = attrs.get("r");
      const channel = attrs.get("c");
      if (!proof || !nonce || channel === undefined) {
        throw invalid("a malformed SCRAM client-final message");
      }
      if (channel !== b64(enc.encode(first.gs2))) {
        throw invalid("the SCRAM channel binding does not match the client-first header");
      }
      // Kafka checks only that it ends with the server's (librdkafka repeats the client's part).
      if (!nonce.endsWith(/r=([^,]*)/.exec(serverFirst)![1])) {
        throw invalid("the SCRAM client-final nonce is not the server's");
      }
      const withoutProof = text.slice(0, text.lastIndexOf(",p="));
      const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
      const c = cred!;
      const clientSignature = hmac(hash, c.storedKey, authMessage);
      const clientProof = unb64(proof);
      if (clientProof.byteLength !== clientSignature.byteLength) {
        throw invalid(`wrong password for user "${first.user}"`);
      }
      const clientKey = clientProof.map((b, i) => b ^ clientSignature[i]);
      if (!equal(createHash(hash).update(clientKey).digest(), c.storedKey)) {
        throw invalid(`wrong password for user "${first.user}"`);
      }
      const serverSignature = hmac(hash, c.serverKey, authMessage);
      return {
        challenge: enc.encode(`v=${b64(serverSignature)}`),
        principal: `User:${first.user}`,
      };
    },
  };
}

function scramAttrs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    const i = part.indexOf("=");
    if (i === 1) out.set(part[0], part.slice(2));
  }
  return out;
}

/** PLAIN (RFC 4616): "authzid\0user\0password", checked against the stored SCRAM keys. */
export function plainExchange(store: ScramStore): SaslExchange {
  // Kafka's PlainSaslServer words.
  const invalid = (reason: string) =>
    new AuthFailure("Authentication failed: Invalid username or password", reason);
  return {
    step(response) {
      const parts = dec.decode(response).split("\0");
      if (parts.length !== 3) throw invalid("a malformed PLAIN message");
      const [authz, user, password] = parts;
      if (!user || !password) throw invalid("a PLAIN message without a user name or password");
      if (authz && authz !== user) {
        throw new AuthFailure(
          "Authentication failed: Client requested an authorization id that is different from username",
          `authorization id "${authz}" differs from user "${user}"`,
        );
      }
      if (store.mechanisms(user).length === 0) throw invalid(`unknown user "${user}"`);
      if (!store.checkPassword(user, password)) throw invalid(`wrong password for user "${user}"`);
      return { challenge: new Uint8Array(0), principal: `User:${user}` };
    },
  };
}
