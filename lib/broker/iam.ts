/**
 * MSK IAM authentication, checked: the two forms MSK accepts, verified against local
 * credentials instead of AWS's.
 *
 * - `AWS_MSK_IAM`, the mechanism of `software.amazon.msk:aws-msk-iam-auth` (the original
 *   guide's jar): a JSON payload of SigV4 query parameters for the broker's host; answered
 *   with `{"version":"2020_10_22","request-id":…}`.
 * - `OAUTHBEARER` with the token of `aws-msk-iam-sasl-signer-js` (and the Python and Go
 *   signers): a base64url presigned URL `https://kafka.<region>.amazonaws.com/?Action=
 *   kafka-cluster%3AConnect&X-Amz-…`, sent as RFC 7628's `n,,\x01auth=Bearer <token>\x01\x01`.
 *
 * Both are a presigned `GET /` with `Action=kafka-cluster:Connect`, signed (AWS4-HMAC-SHA256)
 * for the service `kafka-cluster`. The broker checks the algorithm, the action, the service
 * and region of the credential scope, the host (the listener's host for AWS_MSK_IAM, or on
 * loopback any loopback name, as Java signs for the name it resolved; the
 * region's endpoint for OAUTHBEARER), the date (at most 5 minutes ahead of the broker's
 * clock), the expiry (X-Amz-Expires at most 900 s, not passed), the access key id and
 * session token against the principals file, and the signature. A refusal answers
 * SASL_AUTHENTICATION_FAILED with `[<request id>]: Access denied`, the words MSK answers,
 * and logs the request id with the exact reason (never the secret or the signature).
 *
 * The principals file (`--iam-principals FILE`), JSON:
 *
 *     { "AKIAEXAMPLEKEYID": { "secretAccessKey": "…", "principal": "arn:aws:iam::111122223333:role/client",
 *                             "sessionToken": "…" (only for a role session's temporary keys) } }
 *
 * A successful session lasts until the token expires (Kafka's re-authentication, KIP-368).
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { AuthFailure, type SaslExchange, type SaslStep } from "./scram.ts";
import { localClusterArn, MskArns, policyBase, PolicySet } from "./iam_policy.ts";

/** MSK IAM's largest X-Amz-Expires, and its clock skew allowance. */
export const IAM_MAX_EXPIRES_S = 900;
export const IAM_MAX_SKEW_MS = 5 * 60 * 1000;
/** The mechanisms IAM adds to a SASL listener. */
export const IAM_MECHANISMS = ["AWS_MSK_IAM", "OAUTHBEARER"];
/** The region tokens must be signed for unless told. */
export const DEFAULT_IAM_REGION = "us-east-1";

/** One principal: its secret key, ARN and (for temporary credentials) session token. */
export interface IamPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  principal: string;
  sessionToken?: string;
  /** Its IAM policies; none = not authorized per request (every request allowed). */
  policies?: PolicySet;
}

/** The principals the broker knows, by access key id, and the region it is in. */
export class IamPrincipals {
  /** The cluster's ARNs, which policies name. */
  arns: MskArns;

  constructor(
    readonly byKey: Map<string, IamPrincipal>,
    readonly region: string,
    /** The clock tokens are checked by (a test hook). */
    readonly now: () => number = Date.now,
    clusterArn = localClusterArn(region),
  ) {
    this.arns = new MskArns(clusterArn);
  }

  /** Reads a principals file; errors name the file and the entry. */
  static async load(
    file: string,
    region: string,
    now: () => number = Date.now,
    clusterArn?: string,
  ): Promise<IamPrincipals> {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(file));
    } catch (err) {
      throw new Error(`Cannot read the IAM principals file ${file}: ${(err as Error).message}`);
    }
    const principals = IamPrincipals.from(json, file, region, now, clusterArn);
    for (const [key, raw] of Object.entries(json as Record<string, Record<string, unknown>>)) {
      if (raw.policies === undefined) continue;
      if (!Array.isArray(raw.policies) || raw.policies.some((p) => typeof p !== "string")) {
        throw new Error(`${file}: ${key}'s policies must be a list of policy files`);
      }
      principals.byKey.get(key)!.policies = await PolicySet.load(
        raw.policies as string[],
        policyBase(file),
      );
    }
    return principals;
  }

  static from(
    json: unknown,
    source: string,
    region: string,
    now: () => number = Date.now,
    clusterArn?: string,
  ): IamPrincipals {
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new Error(`${source}: expected a JSON object of access key id → principal`);
    }
    const byKey = new Map<string, IamPrincipal>();
    for (const [accessKeyId, v] of Object.entries(json as Record<string, unknown>)) {
      const e = v as Record<string, unknown>;
      if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId)) {
        throw new Error(`${source}: "${accessKeyId}" is not an access key id (A-Z, 0-9)`);
      }
      if (!e || typeof e.secretAccessKey !== "string" || !e.secretAccessKey) {
        throw new Error(`${source}: ${accessKeyId} needs a secretAccessKey`);
      }
      if (
        typeof e.principal !== "string" || !/^arn:aws[\w-]*:(iam|sts)::\d{12}:/.test(e.principal)
      ) {
        throw new Error(
          `${source}: ${accessKeyId} needs a principal ARN such as arn:aws:iam::111122223333:role/name`,
        );
      }
      if (e.sessionToken !== undefined && typeof e.sessionToken !== "string") {
        throw new Error(`${source}: ${accessKeyId}'s sessionToken must be a string`);
      }
      byKey.set(accessKeyId, {
        accessKeyId,
        secretAccessKey: e.secretAccessKey,
        principal: e.principal,
        sessionToken: e.sessionToken as string | undefined,
      });
    }
    return new IamPrincipals(byKey, region, now, clusterArn);
  }
}

/** What was verified: who, and until when. */
export interface IamIdentity {
  principal: string;
  accessKeyId: string;
  expiresAt: number;
  policies?: PolicySet;
}

/** The SASL step of a verified identity, after MSK's Connect check; throws the refusal. */
function connected(
  id: IamIdentity,
  principals: IamPrincipals,
  requestId: string,
  challenge: Uint8Array,
): SaslStep {
  const policies = id.policies;
  if (policies) {
    const d = policies.decide("kafka-cluster:Connect", principals.arns.cluster);
    if (!d.allowed) {
      throw refusal(
        requestId,
        `${id.principal} may not kafka-cluster:Connect to ${principals.arns.cluster}: ${d.why}`,
      );
    }
  }
  return {
    challenge,
    principal: id.principal,
    expiresAt: id.expiresAt,
    authz: policies ? { policies, arns: principals.arns } : undefined,
  };
}

/** RFC 3986 encoding, as SigV4's canonical query string wants it. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** SHA-256 of an empty payload: what the SDKs sign a presigned GET with. */
const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

/** Parses X-Amz-Date (`20261207T061900Z`) to ms, or NaN. */
function amzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

/**
 * Verifies a presigned `GET https://<host>/?<params>`: answers who signed it, or throws
 * Error with the exact reason (the caller turns it into MSK's refusal).
 */
export function verifyPresigned(
  host: string,
  params: Map<string, string>,
  principals: IamPrincipals,
  expectHost: string | string[],
  now = principals.now(),
): IamIdentity {
  const need = (k: string) => {
    const v = params.get(k);
    if (v === undefined || v === "") throw new Error(`the signed request has no ${k}`);
    return v;
  };
  if (need("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") {
    throw new Error(`unsupported signing algorithm ${params.get("X-Amz-Algorithm")}`);
  }
  const action = need("Action");
  if (action !== "kafka-cluster:Connect") {
    throw new Error(`the signed action is ${action}, not kafka-cluster:Connect`);
  }
  const credential = need("X-Amz-Credential");
  const [accessKeyId, day, region, service, terminator, ...rest] = credential.split("/");
  if (rest.length || terminator !== "aws4_request" || !accessKeyId) {
    throw new Error(
      `malformed X-Amz-Credential scope (${credential.split("/").slice(1).join("/")})`,
    );
  }
  if (service !== "kafka-cluster") {
    throw new Error(`signed for the service ${service}, not kafka-cluster`);
  }
  if (region !== principals.region) {
    throw new Error(`signed for the region ${region}; this cluster is in ${principals.region}`);
  }
  const hosts = [expectHost].flat().map((h) => h.toLowerCase());
  if (!hosts.includes(host.toLowerCase())) {
    throw new Error(`signed for the host ${host}, not ${hosts.join(" or ")}`);
  }
  const date = need("X-Amz-Date");
  const signedAt = amzDate(date);
  if (Number.isNaN(signedAt)) throw new Error(`malformed X-Amz-Date ${date}`);
  if (date.slice(0, 8) !== day) {
    throw new Error(`the credential scope's date ${day} is not X-Amz-Date's ${date.slice(0, 8)}`);
  }
  if (signedAt - now > IAM_MAX_SKEW_MS) {
    throw new Error(
      `signed ${Math.round((signedAt - now) / 1000)} s in the future (${date}); ` +
        `at most ${IAM_MAX_SKEW_MS / 1000} s of clock skew is allowed`,
    );
  }
  const expiresS = Number(need("X-Amz-Expires"));
  if (!Number.isInteger(expiresS) || expiresS < 1 || expiresS > IAM_MAX_EXPIRES_S) {
    throw new Error(
      `X-Amz-Expires ${params.get("X-Amz-Expires")} is not 1 to ${IAM_MAX_EXPIRES_S} s`,
    );
  }
  const expiresAt = signedAt + expiresS * 1000;
  if (now >= expiresAt) {
    throw new Error(
      `the token expired ${Math.round((now - expiresAt) / 1000)} s ago (signed at ${date}, ` +
        `valid for ${expiresS} s)`,
    );
  }
  const who = principals.byKey.get(accessKeyId);
  if (!who) throw new Error(`unknown access key id ${accessKeyId}`);
  const token = params.get("X-Amz-Security-Token");
  if (who.sessionToken !== undefined && token !== who.sessionToken) {
    throw new Error(
      token
        ? `the session token of ${accessKeyId} does not match`
        : `${accessKeyId} is a role session's key: the request has no X-Amz-Security-Token`,
    );
  }
  if (who.sessionToken === undefined && token) {
    throw new Error(`${accessKeyId} is a long-term key, yet the request carries a session token`);
  }
  const signedHeaders = need("X-Amz-SignedHeaders");
  if (signedHeaders !== "host") {
    throw new Error(`signed headers "${signedHeaders}", expected "host"`);
  }
  const signature = need("X-Amz-Signature");
  const query = [...params]
    .filter(([k]) => k !== "X-Amz-Signature" && k !== "User-Agent")
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const scope = `${day}/${region}/${service}/aws4_request`;
  let key: Buffer = hmac(`AWS4${who.secretAccessKey}`, day);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, "aws4_request");
  const given = Buffer.from(signature, "hex");
  for (const payload of [EMPTY_SHA256, "UNSIGNED-PAYLOAD"]) {
    const canonical = `GET\n/\n${query}\nhost:${host.toLowerCase()}\n\nhost\n${payload}`;
    const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${
      createHash("sha256").update(canonical).digest("hex")
    }`;
    const expected = hmac(key, toSign);
    if (given.byteLength === expected.byteLength && timingSafeEqual(given, expected)) {
      return { principal: who.principal, accessKeyId, expiresAt, policies: who.policies };
    }
  }
  throw new Error(
    `the signature does not match: the request was not signed with ${accessKeyId}'s secret ` +
      `access key (or was changed after signing)`,
  );
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/** MSK's refusal, with the request id the log line names. */
function refusal(requestId: string, reason: string): AuthFailure {
  return new AuthFailure(`[${requestId}]: Access denied`, `request ${requestId}: ${reason}`);
}

/**
 * The names a client may sign AWS_MSK_IAM for on a listener at `host`: that host, and on
 * loopback the loopback names (Java signs for the name it resolved, "localhost").
 */
export function listenerHostNames(host: string): string[] {
  const loopback = ["127.0.0.1", "localhost", "::1"];
  return loopback.includes(host) ? [host, ...loopback.filter((h) => h !== host)] : [host];
}

/** The server side of `AWS_MSK_IAM` for a listener at `listenerHost`. */
export function mskIamExchange(principals: IamPrincipals, listenerHost: string): SaslExchange {
  return {
    step(response) {
      const requestId = randomUUID();
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(dec.decode(response));
      } catch {
        throw refusal(requestId, "the AWS_MSK_IAM payload is not JSON");
      }
      if (json.version !== "2020_10_22") {
        throw refusal(requestId, `unsupported AWS_MSK_IAM payload version ${json.version}`);
      }
      const params = new Map<string, string>();
      const names: Record<string, string> = {
        "action": "Action",
        "x-amz-algorithm": "X-Amz-Algorithm",
        "x-amz-credential": "X-Amz-Credential",
        "x-amz-date": "X-Amz-Date",
        "x-amz-expires": "X-Amz-Expires",
        "x-amz-security-token": "X-Amz-Security-Token",
        "x-amz-signedheaders": "X-Amz-SignedHeaders",
        "x-amz-signature": "X-Amz-Signature",
      };
      for (const [k, q] of Object.entries(names)) {
        if (typeof json[k] === "string") params.set(q, json[k] as string);
      }
      try {
        const id = verifyPresigned(
          String(json.host ?? ""),
          params,
          principals,
          listenerHostNames(listenerHost),
        );
        return connected(
          id,
          principals,
          requestId,
          enc.encode(JSON.stringify({ version: "2020_10_22", "request-id": requestId })),
        );
      } catch (err) {
        if (err instanceof AuthFailure) throw err;
        throw refusal(requestId, (err as Error).message);
      }
    },
  };
}

/** The server side of `OAUTHBEARER` carrying an MSK IAM signer's token. */
export function oauthIamExchange(principals: IamPrincipals): SaslExchange {
  return {
    step(response) {
      const requestId = randomUUID();
      // RFC 7628: gs2 header, then \x01-separated key=value pairs, ending \x01\x01.
      const parts = dec.decode(response).split("\x01");
      const auth = parts.find((p) => p.startsWith("auth="));
      const m = auth && /^auth=Bearer\s+(\S+)$/i.exec(auth);
      if (!m) throw refusal(requestId, "no Bearer token in the OAUTHBEARER message");
      let url: URL;
      try {
        url = new URL(Buffer.from(m[1], "base64url").toString("utf8"));
      } catch {
        throw refusal(requestId, "the Bearer token is not an MSK IAM token (a base64url URL)");
      }
      const params = new Map<string, string>();
      for (const [k, v] of url.searchParams) params.set(k, v);
      try {
        const id = verifyPresigned(
          url.host,
          params,
          principals,
          `kafka.${principals.region}.amazonaws.com`,
        );
        return connected(id, principals, requestId, new Uint8Array(0));
      } catch (err) {
        if (err instanceof AuthFailure) throw err;
        throw refusal(requestId, (err as Error).message);
      }
    },
  };
}
