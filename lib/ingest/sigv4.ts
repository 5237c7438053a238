/**
 * SigV4-signed requests for `emulate --rest-auth iam`: API Gateway with the `AWS_IAM`
 * authorizer (`api.Authorization=IAM`) accepts a request only when it carries a Signature
 * Version 4 of the caller's AWS credentials for the service `execute-api`. The signer and the
 * SDK's default credential chain (environment variables, a profile, SSO, a container or
 * instance role) are loaded only by a run that signs.
 * @module
 */
import { importLazily } from "../shell/lazy.ts";

/** What signs: the region, and credentials (default: the SDK's chain). */
export interface SigV4Options {
  region: string;
  /** `execute-api` for API Gateway. */
  service?: string;
  /** For tests; default the SDK's default credential provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** For tests: the signing time. */
  now?: () => Date;
}

/**
 * The region of an API Gateway invoke URL
 * (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`), or undefined for another host.
 */
export function regionOfInvokeUrl(url: string): string | undefined {
  try {
    return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/
      .exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/** Body text or bytes of a request the producer makes (it sends strings or nothing). */
function bodyOf(init: RequestInit | undefined): string | Uint8Array | undefined {
  const b = init?.body;
  if (b === undefined || b === null) return undefined;
  if (typeof b === "string" || b instanceof Uint8Array) return b;
  throw new Error("a signed request needs its body as text or bytes");
}

/**
 * A `fetch` that signs every request with SigV4 before `base` sends it. Credentials are
 * resolved once, at the first request; none found is an error saying where they are looked for.
 */
export function sigV4Fetch(base: typeof fetch, opts: SigV4Options): typeof fetch {
  type Sdk = typeof import("../deps/aws_sigv4.ts");
  let signer: Promise<InstanceType<Sdk["SignatureV4"]>> | undefined;
  const load = async () => {
    const sdk = await importLazily<Sdk>(
      new URL("../deps/aws_sigv4.ts", import.meta.url),
    );
    let credentials = opts.credentials;
    if (!credentials) {
      try {
        credentials = await sdk.defaultProvider()();
      } catch (err) {
        throw new Error(
          `--rest-auth iam found no AWS credentials (looked in AWS_ACCESS_KEY_ID/` +
            `AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, SSO, the container and instance ` +
            `roles): ${(err as Error).message}`,
        );
      }
    }
    return new sdk.SignatureV4({
      service: opts.service ?? "execute-api",
      region: opts.region,
      sha256: sdk.Sha256,
      credentials: credentials!,
    });
  };
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const s = await (signer ??= load());
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers: Record<string, string> = { host: url.host };
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const signed = await s.sign({
      method: (init?.method ?? "GET").toUpperCase(),
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers,
      body: bodyOf(init),
    }, opts.now ? { signingDate: opts.now() } : undefined);
    const out = new Headers(signed.headers as Record<string, string>);
    out.delete("host"); // fetch sets it from the URL
    return base(input, { ...init, headers: out });
  }) as typeof fetch;
}
