/**
 * The client side of SCRAM-SHA-512 (RFC 5802), for tests that log in over raw
 * SaslHandshake/SaslAuthenticate frames: the client-first message, and the client-final one
 * with its proof computed from the server-first message and the password.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";

/** One SCRAM-SHA-512 login of `user`: what to send first, and the final message for a reply. */
export function scramClient(user: string, password: string, nonce = "testclientnonce") {
  const bare = `n=${user},r=${nonce}`;
  return {
    /** The client-first message. */
    first: `n,,${bare}`,
    /** The client-final message (with its proof) answering `serverFirst`. */
    final(serverFirst: string): string {
      const attrs = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
      const salted = pbkdf2Sync(
        password,
        Buffer.from(attrs.s, "base64"),
        Number(attrs.i),
        64,
        "sha512",
      );
      const clientKey = createHmac("sha512", salted).update("Client Key").digest();
      const storedKey = createHash("sha512").update(clientKey).digest();
      const withoutProof = `c=biws,r=${attrs.r}`;
      const signature = createHmac("sha512", storedKey)
        .update(`${bare},${serverFirst},${withoutProof}`).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i])).toString("base64");
      return `${withoutProof},p=${proof}`;
    },
  };
}
