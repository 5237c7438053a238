/**
 * TLS for the broker's SSL and SASL_SSL listeners: the certificate and key given
 * (`--tls-cert/--tls-key`), or a local certificate authority and a server certificate made
 * once into the data dir (`tls/`) and reused on every start, so clients keep trusting it:
 *
 *     tls/ca.pem            the CA certificate: kcat's ssl.ca.location, kafkajs's ssl.ca,
 *                           Java's ssl.truststore.type=PEM
 *     tls/truststore.p12    the same CA as a PKCS12 truststore for Java (password "pinpipe",
 *                           a truststore's password guards nothing secret)
 *     tls/server.pem        the server certificate (for localhost, 127.0.0.1, ::1 and the bound host)
 *     tls/server.key        its private key (mode 0600)
 *     tls/ca.key            the CA's key (mode 0600), to make the server certificate again
 *
 * A server certificate that no longer names the bound host, or is about to expire, is made
 * again under the same CA only if the CA's key is still there, else CA and server are made
 * anew (and clients must fetch the new ca.pem). The X.509 and PKCS12 work is node-forge's, in
 * tls_ca.ts, loaded only when a TLS listener has no certificate given (node-forge takes ~45 ms
 * to load: a plaintext broker starts without it).
 * @module
 */

/** The password of the generated PKCS12 truststore (it holds only the public CA certificate). */
export const TRUSTSTORE_PASSWORD = "pinpipe";

/** The PEM key and certificate chain a TLS listener serves. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** Where the CA is, when the broker made it (for the log line and the clients). */
  caFile?: string;
  truststoreFile?: string;
}

/** Reads `--tls-cert` and `--tls-key`, with errors naming the file. */
export async function readTlsFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const read = async (file: string, what: string, marker: RegExp) => {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      throw new Error(`Cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
    }
    if (!marker.test(text)) {
      throw new Error(`The TLS ${what} ${file} is not PEM (no "-----BEGIN ${what.toUpperCase()}")`);
    }
    return text;
  };
  return {
    cert: await read(certFile, "certificate", /-----BEGIN CERTIFICATE-----/),
    key: await read(keyFile, "key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  };
}

/**
 * The local CA and server certificate in `dir` (made when missing, or when the server
 * certificate does not name every one of `hosts`, or expires within a month); tls_ca.ts.
 */
export async function localCertificates(dir: string, hosts: string[]): Promise<TlsMaterial> {
  // A computed URL: the module and node-forge load only here, not with the broker.
  const ca: typeof import("./tls_ca.ts") = await import(
    new URL("./tls_ca.ts", import.meta.url).href
  );
  return await ca.localCertificates(dir, hosts, TRUSTSTORE_PASSWORD);
}
