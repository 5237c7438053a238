/**
 * Listeners and the SASL state of a connection on a SASL listener, as Kafka's
 * SaslServerAuthenticator keeps it:
 *
 * - before authenticating, only ApiVersions and SaslHandshake (v1) are served, then only
 *   SaslAuthenticate; any other request closes the connection ("Unexpected Kafka request
 *   of type … during SASL handshake."), as Kafka closes it;
 * - a failed SaslAuthenticate is answered with SASL_AUTHENTICATION_FAILED, then the
 *   connection is closed, and the log says why (never with the secret);
 * - re-authentication (KIP-368): with `connections.max.reauth.ms` (`--reauth-ms`) above 0,
 *   or a credential that expires (IAM), SaslAuthenticate v1+ tells the client its session
 *   lifetime; the client authenticates again on the same connection (SaslHandshake and
 *   SaslAuthenticate, same mechanism and principal) before it ends, and a connection whose
 *   session ended sends nothing else: it is closed on its next request.
 *
 * Not supported: SaslHandshake v0 followed by raw (unframed) SASL tokens, which only
 * clients from before Kafka 1.0 send; such a client's next frame is refused as malformed.
 * @module
 */
import { MalformedRequestError } from "./codec.ts";
import type { BrokerState } from "./state.ts";
import type { Authorizer } from "./iam_policy.ts";
import type { SaslExchange, ScramStore } from "./scram.ts";
import { plainExchange, SCRAM_MECHANISMS, scramExchange, type ScramMechanism } from "./scram.ts";

/** Kafka's security protocols. */
export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;
export type SecurityProtocol = typeof SECURITY_PROTOCOLS[number];

/** What a SASL listener accepts. */
export interface SaslConfig {
  /** Enabled mechanisms, in the order SaslHandshake lists them. */
  mechanisms: string[];
  scram: ScramStore;
  /** Other mechanisms' exchanges (AWS_MSK_IAM, OAUTHBEARER), by name. */
  others?: Record<string, () => SaslExchange>;
  /** connections.max.reauth.ms: 0 = sessions last as long as the credential. */
  reauthMs: number;
}

/** A listener: its name, protocol and the address it is advertised at. */
export interface ListenerInfo {
  name: string;
  protocol: SecurityProtocol;
  host: string;
  port: number;
  /** On SASL_PLAINTEXT and SASL_SSL listeners. */
  sasl?: SaslConfig;
  /** The broker's SCRAM credentials (Describe/AlterUserScramCredentials on any listener). */
  scram?: ScramStore;
}

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

/** A connection's SASL state. */
export class SaslSession {
  /** handshake → authenticate → authenticated (→ authenticate again when re-authenticating). */
  stage: "handshake" | "authenticate" | "authenticated" = "handshake";
  mechanism?: string;
  principal?: string;
  /** When the session ends (ms since epoch); 0 = never. */
  expiresAt = 0;
  /** The authentication failed: the connection closes after its answer. */
  failed = false;
  /** Set when the principal's requests are authorized by IAM policies. */
  authz?: Authorizer;
  private exchange?: SaslExchange;

  constructor(readonly listener: ListenerInfo, private readonly state: BrokerState) {}

  get config(): SaslConfig {
    return this.listener.sasl!;
  }

  /** Throws (closing the connection) when `apiKey` may not be sent now. */
  admit(apiName: string, apiKey: number, now = Date.now()): void {
    if (this.stage === "authenticated") {
      if (this.expiresAt && now > this.expiresAt && apiKey !== SASL_HANDSHAKE) {
        throw new MalformedRequestError(
          `the SASL session of ${this.principal} ended ${now - this.expiresAt} ms ago and the ` +
            `client sent ${apiName} instead of re-authenticating`,
        );
      }
      return;
    }
    if (this.stage === "handshake" && (apiKey === API_VERSIONS || apiKey === SASL_HANDSHAKE)) {
      return;
    }
    if (this.stage === "authenticate" && apiKey === SASL_AUTHENTICATE) return;
    throw new MalformedRequestError(
      `Unexpected Kafka request of type ${apiName} during SASL ${this.stage}` +
        ` on listener ${this.listener.name}`,
    );
  }

  /** SaslHandshake: the error code, or 0 once `mechanism` is chosen. */
  handshake(mechanism: string): "unsupported" | "reauth-mismatch" | "ok" {
    const reauth = this.stage === "authenticated";
    if (!this.config.mechanisms.includes(mechanism)) return "unsupported";
    if (reauth && mechanism !== this.mechanism) return "reauth-mismatch";
    const exchange = exchangeFor(mechanism, this.config);
    if (!exchange) return "unsupported";
    this.exchange = exchange;
    this.mechanism = mechanism;
    this.stage = "authenticate";
    return "ok";
  }

  /** SaslAuthenticate: one step; throws AuthFailure. Returns the challenge and the session lifetime once done. */
  async authenticate(
    bytes: Uint8Array,
    now = Date.now(),
  ): Promise<{ challenge: Uint8Array; lifetimeMs: number }> {
    const step = await this.exchange!.step(bytes);
    if (!step.principal) return { challenge: step.challenge, lifetimeMs: 0 };
    if (this.principal && step.principal !== this.principal) {
      // KIP-368: re-authentication may not change who the connection is.
      this.failed = true;
      throw new ReauthPrincipalChange(this.principal, step.principal);
    }
    const reauth = this.principal !== undefined;
    this.principal = step.principal;
    this.authz = step.authz
      ? { principal: step.principal, ...step.authz, logged: this.authz?.logged ?? new Set() }
      : undefined;
    this.stage = "authenticated";
    this.exchange = undefined;
    const limits = [
      this.config.reauthMs > 0 ? this.config.reauthMs : Infinity,
      step.expiresAt ? Math.max(0, step.expiresAt - now) : Infinity,
    ];
    const lifetimeMs = Math.min(...limits);
    this.expiresAt = Number.isFinite(lifetimeMs) ? now + lifetimeMs : 0;
    this.state.log(
      `${
        reauth ? "re-authenticated" : "authenticated"
      } ${this.principal} with ${this.mechanism} on ` +
        `${this.listener.name}${this.expiresAt ? ` for ${lifetimeMs} ms` : ""}`,
    );
    return { challenge: step.challenge, lifetimeMs: Number.isFinite(lifetimeMs) ? lifetimeMs : 0 };
  }
}

/** Re-authentication tried to become someone else. */
export class ReauthPrincipalChange extends Error {
  constructor(readonly was: string, readonly now: string) {
    super(`re-authentication as ${now} on a connection of ${was}`);
  }
}

function exchangeFor(mechanism: string, config: SaslConfig): SaslExchange | undefined {
  if (mechanism in SCRAM_MECHANISMS) {
    return scramExchange(mechanism as ScramMechanism, config.scram);
  }
  if (mechanism === "PLAIN") return plainExchange(config.scram);
  return config.others?.[mechanism]?.();
}

/** The mechanisms a listener may enable, and which need TLS. */
export const KNOWN_MECHANISMS = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"];

/**
 * Parses `NAME=PROTO://HOST:PORT` (Kafka's listeners syntax, the name optional when it is the
 * protocol's); errors name the text and what is wrong.
 */
export function parseListener(
  text: string,
): { name: string; protocol: SecurityProtocol; host: string; port: number } {
  const m = /^(?:([A-Za-z][A-Za-z0-9_]*)=)?([A-Z_]+):\/\/(\[[^\]]+\]|[^:]*):(\d+)$/.exec(
    text.trim(),
  );
  if (!m) {
    throw new Error(
      `Cannot read the listener "${text}": expected NAME=PROTOCOL://HOST:PORT, e.g. ` +
        `TLS=SSL://127.0.0.1:9094`,
    );
  }
  const protocol = m[2] as SecurityProtocol;
  if (!SECURITY_PROTOCOLS.includes(protocol)) {
    throw new Error(
      `Cannot read the listener "${text}": unknown protocol ${m[2]} (have ${
        SECURITY_PROTOCOLS.join(", ")
      })`,
    );
  }
  const port = Number(m[4]);
  if (port > 65535) {
    throw new Error(`Cannot read the listener "${text}": port ${port} is over 65535`);
  }
  const host = m[3].replace(/^\[(.*)\]$/, "$1");
  if (!host) {
    throw new Error(`Cannot read the listener "${text}": give the host to bind and advertise`);
  }
  return { name: (m[1] ?? protocol).toUpperCase(), protocol, host, port };
}
