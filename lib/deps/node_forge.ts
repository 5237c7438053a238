/**
 * node-forge, for the embedded broker's local certificate authority: RSA keys, X.509
 * certificates and the PKCS12 truststore Java clients read (lib/broker/tls.ts).
 * @module
 */
// @deno-types="npm:@types/node-forge@1.3.14"
import forge from "npm:node-forge@1.4.3";
export { forge };
