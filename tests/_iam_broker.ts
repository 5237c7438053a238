/**
 * An in-process embedded broker whose IAM listener (SASL_PLAINTEXT, OAUTHBEARER) lets
 * principals in, each with one policy document, beside a PLAINTEXT listener where nothing is
 * decided (to set up and check); and raw connections logged in with MSK IAM tokens of
 * aws-msk-iam-sasl-signer-js. Shared by the unit tests of lib/broker/iam_authz.ts.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateAuthTokenFromCredentialsProvider } from "../lib/deps/msk_iam.ts";
import { parseListener } from "../lib/broker/sasl.ts";
import type { BrokerOptions } from "../lib/broker/broker.ts";
import { startTestBroker } from "./_fixtures.ts";
import { WireClient } from "./_kafka_wire.ts";

/** Who logs in, in which region, with which policy document. */
export interface IamPrincipal {
  region: string;
  key: string;
  secret: string;
  principal: string;
  policy: unknown;
}

/** The running broker: its two listeners' bootstraps and its log lines. */
export interface IamBroker {
  iam: string;
  plain: string;
  lines: string[];
  close(): Promise<void>;
}

/**
 * A broker with an IAM listener for `who` (principals of one region) and a PLAINTEXT one;
 * `extra` options on top.
 */
export async function startIamBroker(
  who: IamPrincipal | IamPrincipal[],
  extra: BrokerOptions = {},
): Promise<IamBroker> {
  const all = Array.isArray(who) ? who : [who];
  const dir = await Deno.makeTempDir({ prefix: "pinpipe-iam-" });
  const entries: Record<string, unknown> = {};
  for (const [i, p] of all.entries()) {
    await Deno.writeTextFile(join(dir, `policy-${i}.json`), JSON.stringify(p.policy));
    entries[p.key] = {
      secretAccessKey: p.secret,
      principal: p.principal,
      policies: [`policy-${i}.json`],
    };
  }
  const principals = join(dir, "principals.json");
  await Deno.writeTextFile(principals, JSON.stringify(entries));
  const lines: string[] = [];
  const broker = await startTestBroker({
    dataDir: join(dir, "data"),
    iamPrincipalsFile: principals,
    iamRegion: all[0].region,
    saslMechanisms: ["OAUTHBEARER"],
    listeners: [
      parseListener("IAM=SASL_PLAINTEXT://127.0.0.1:0"),
      parseListener("PLAINTEXT://127.0.0.1:0"),
    ],
    logger: (l) => lines.push(l),
    ...extra,
  });
  const at = (name: string) => broker.listeners.find((l) => l.name === name)!.bootstrap;
  return {
    iam: at("IAM"),
    plain: at("PLAINTEXT"),
    lines,
    async close() {
      await broker.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** An MSK IAM token (aws-msk-iam-sasl-signer-js) for `who`'s credentials. */
export async function iamToken(who: IamPrincipal): Promise<string> {
  return (await generateAuthTokenFromCredentialsProvider({
    region: who.region,
    awsCredentialsProvider: () =>
      Promise.resolve({ accessKeyId: who.key, secretAccessKey: who.secret }),
  })).token;
}

/** A raw connection to `bootstrap` logged in with an OAUTHBEARER MSK IAM token of `who`. */
export async function iamLogin(bootstrap: string, who: IamPrincipal): Promise<WireClient> {
  const c = await WireClient.open(bootstrap);
  assert.equal((await c.call("SaslHandshake", 1, { mechanism: "OAUTHBEARER" })).errorCode, 0);
  const bytes = new TextEncoder().encode(`n,,\x01auth=Bearer ${await iamToken(who)}\x01\x01`);
  const done = await c.call("SaslAuthenticate", 2, { authBytes: bytes });
  assert.equal(done.errorCode, 0, done.errorMessage);
  return c;
}
