/**
 * s3rver as a process of its own, so a test can kill it (SIGKILL) and start it again on the
 * same port and directory: `deno run -A tests/_s3rver_main.ts PORT DIR BUCKET…` prints
 * `ready` on stdout once it listens, and serves until killed.
 *
 * One repair, so the server keeps S3's promise that an acknowledged PUT is whole and
 * durable: s3rver 3.7.1 answers a PUT once the body has passed into a file stream, not once
 * it is written, and writes the object in place; killed in between, it would lose or cut an
 * object it acknowledged, a loss no client can prevent. Here the body is written to a temp
 * name, awaited and renamed into place before the answer. Nothing else is changed.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { S3rver } from "./deps/s3rver.ts";

/** The part of s3rver's FilesystemStore the repair uses. */
interface Store {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: S3Object): Promise<{ size: number; md5: string }>;
}

interface S3Object {
  bucket: string;
  key: string;
  metadata: unknown;
  content: AsyncIterable<Uint8Array> | Uint8Array;
}

const [port, directory, ...buckets] = Deno.args;
const srv = new S3rver({
  port: Number(port),
  address: "127.0.0.1",
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
const store = (srv as unknown as { store: Store }).store;
store.putObject = async (object) => {
  const path = store.getResourcePath(object.bucket, object.key, "object");
  await mkdir(dirname(path), { recursive: true });
  let content: Buffer;
  if (object.content instanceof Uint8Array) {
    content = Buffer.from(object.content);
  } else {
    const chunks: Uint8Array[] = [];
    for await (const c of object.content) chunks.push(c);
    content = Buffer.concat(chunks);
  }
  const md5 = createHash("md5").update(content).digest("hex");
  const tmp = `${path}.tmp-${Deno.pid}`;
  await writeFile(tmp, content);
  await rename(tmp, path);
  await store.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: content.length, md5 };
};
await srv.run();
console.log("ready");
