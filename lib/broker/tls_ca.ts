/**
 * The broker's local certificate authority (tls.ts loads this module only when a TLS
 * listener needs it): a CA and a server certificate made once into the data dir and the
 * PKCS12 truststore Java clients read, with node-forge's X.509 and PKCS12 code.
 * @module
 */
import { join } from "node:path";
import { forge } from "../deps/node_forge.ts";

/** How long generated certificates are valid: ten years. */
const VALID_DAYS = 3650;
/** Oracle's trustedKeyUsage bag attribute: Java takes a PKCS12 certificate without it for no trust anchor. */
const JAVA_TRUSTED_KEY_USAGE = "2.16.840.1.113894.746875.1.1";
/** anyExtendedKeyUsage, the value Java's keytool gives that attribute. */
const ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

/** The PEM key and certificate chain a listener serves, and where the CA is (tls.ts TlsMaterial). */
export interface LocalCertificates {
  cert: string;
  key: string;
  caFile: string;
  truststoreFile: string;
}

/**
 * The local CA and server certificate in `dir` (made when missing, or when the server
 * certificate does not name every one of `hosts`, or expires within a month); the
 * truststore written with `truststorePassword`.
 */
export async function localCertificates(
  dir: string,
  hosts: string[],
  truststorePassword: string,
): Promise<LocalCertificates> {
  const tlsDir = join(dir, "tls");
  const files = {
    ca: join(tlsDir, "ca.pem"),
    caKey: join(tlsDir, "ca.key"),
    cert: join(tlsDir, "server.pem"),
    key: join(tlsDir, "server.key"),
    truststore: join(tlsDir, "truststore.p12"),
  };
  const names = [...new Set(["localhost", "127.0.0.1", "::1", ...hosts])];
  const existing = await readOptional(files.cert, files.key, files.ca);
  if (existing && serverCertFits(existing[0], names)) {
    return {
      cert: existing[0] + existing[2],
      key: existing[1],
      caFile: files.ca,
      truststoreFile: files.truststore,
    };
  }
  await Deno.mkdir(tlsDir, { recursive: true });
  const { pki } = forge;
  // A CA whose key is kept lets the server certificate be remade for a new host.
  const kept = await readOptional(files.ca, files.caKey);
  let caCert: forge.pki.Certificate;
  let caKey: forge.pki.rsa.PrivateKey;
  if (kept) {
    caCert = pki.certificateFromPem(kept[0]);
    caKey = pki.privateKeyFromPem(kept[1]) as forge.pki.rsa.PrivateKey;
  } else {
    const keys = pki.rsa.generateKeyPair({ bits: 2048 });
    caKey = keys.privateKey;
    caCert = makeCert(keys.publicKey, caKey, null, "pinpipe local CA", [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ]);
  }
  const serverKeys = pki.rsa.generateKeyPair({ bits: 2048 });
  const serverCert = makeCert(serverKeys.publicKey, caKey, caCert, "pinpipe broker", [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: names.map((n) => isIp(n) ? { type: 7, ip: n } : { type: 2, value: n }),
    },
  ]);
  const caPem = pki.certificateToPem(caCert);
  const certPem = pki.certificateToPem(serverCert);
  // PKCS#8 ("BEGIN PRIVATE KEY"): what Kafka's PEM keystores also read.
  const keyPem = pki.privateKeyInfoToPem(
    pki.wrapRsaPrivateKey(pki.privateKeyToAsn1(serverKeys.privateKey)),
  );
  await Deno.writeTextFile(files.ca, caPem);
  await Deno.writeFile(files.truststore, javaTruststore(caCert, truststorePassword));
  await Deno.writeTextFile(files.caKey, pki.privateKeyToPem(caKey), { mode: 0o600 });
  await Deno.writeTextFile(files.key, keyPem, { mode: 0o600 });
  await Deno.writeTextFile(files.cert, certPem);
  return { cert: certPem + caPem, key: keyPem, caFile: files.ca, truststoreFile: files.truststore };
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

async function readOptional(...files: string[]): Promise<string[] | null> {
  try {
    return await Promise.all(files.map((f) => Deno.readTextFile(f)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** True when the PEM certificate names every host and is valid for another month. */
function serverCertFits(pem: string, hosts: string[]): boolean {
  const cert = forge.pki.certificateFromPem(pem);
  if (cert.validity.notAfter.getTime() < Date.now() + 30 * 86_400_000) return false;
  const san = cert.getExtension("subjectAltName") as
    | { altNames: { type: number; value?: string; ip?: string }[] }
    | null;
  const have = new Set((san?.altNames ?? []).map((a) => a.ip ?? a.value));
  return hosts.every((h) => have.has(h));
}

function makeCert(
  publicKey: forge.pki.PublicKey,
  signingKey: forge.pki.rsa.PrivateKey,
  issuer: forge.pki.Certificate | null,
  commonName: string,
  extensions: unknown[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive 128-bit serial: distinct certificates never share one.
  cert.serialNumber = "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + VALID_DAYS * 86_400_000);
  const subject = [{ name: "commonName", value: commonName }, {
    name: "organizationName",
    value: "pinpipe",
  }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  cert.setExtensions([...extensions, { name: "subjectKeyIdentifier" }]);
  cert.sign(signingKey, forge.md.sha256.create());
  return cert;
}

/**
 * A PKCS12 truststore holding `ca` as a trusted certificate entry, as Java's keytool
 * writes one: the certificate bag carries the trustedKeyUsage attribute (without it Java
 * loads no trust anchor), and the whole is MACed (HMAC-SHA1) with the password.
 */
export function javaTruststore(ca: forge.pki.Certificate, password: string): Uint8Array {
  const { asn1, pki } = forge;
  const U = asn1.Class.UNIVERSAL;
  const T = asn1.Type;
  const seq = (v: forge.asn1.Asn1[]) => asn1.create(U, T.SEQUENCE, true, v);
  const set = (v: forge.asn1.Asn1[]) => asn1.create(U, T.SET, true, v);
  const oid = (o: string) => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
  const octets = (b: string) => asn1.create(U, T.OCTETSTRING, false, b);
  const explicit0 = (v: forge.asn1.Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [v]);
  const data = (v: forge.asn1.Asn1) =>
    seq([oid(pki.oids.data), explicit0(octets(asn1.toDer(v).getBytes()))]);

  const certBag = seq([
    oid(pki.oids.certBag),
    explicit0(seq([
      oid(pki.oids.x509Certificate),
      explicit0(octets(asn1.toDer(pki.certificateToAsn1(ca)).getBytes())),
    ])),
    set([
      seq([
        oid(pki.oids.friendlyName),
        set([asn1.create(U, T.BMPSTRING, false, bmp("pinpipe-ca"))]),
      ]),
      seq([oid(JAVA_TRUSTED_KEY_USAGE), set([oid(ANY_EXTENDED_KEY_USAGE)])]),
    ]),
  ]);
  const authSafe = seq([data(seq([certBag]))]);
  const salt = forge.random.getBytesSync(20);
  const count = 10_000;
  const macKey = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, count, 20);
  const hmac = forge.hmac.create();
  hmac.start("sha1", macKey);
  hmac.update(asn1.toDer(authSafe).getBytes());
  const macData = seq([
    seq([
      seq([oid(pki.oids.sha1), asn1.create(U, T.NULL, false, "")]),
      octets(hmac.digest().getBytes()),
    ]),
    octets(salt),
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(count).getBytes()),
  ]);
  const pfx = seq([
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(3).getBytes()),
    data(authSafe),
    macData,
  ]);
  const der = asn1.toDer(pfx).getBytes();
  return Uint8Array.from(der, (c) => c.charCodeAt(0));
}

/** A string as BMPString bytes (UTF-16 big-endian, in forge's binary-string form). */
function bmp(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += String.fromCharCode(c >> 8, c & 0xff);
  }
  return out;
}
