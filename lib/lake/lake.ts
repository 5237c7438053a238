/**
 * The lake: the Confluent S3 sink's object layout (SPEC §3) on a local directory or on
 * S3, behind one small interface that the sink writes through and the transform reads.
 *
 * `topics/<topic>/partition=<p>/<topic>+<p>+<startOffset padded to 10>.json`
 *
 * Folder `lib/lake/`: the lake and what writes it: the S3 sink's layout on disk or S3 (lake.ts),
 * the sink that consumes the topics into it (sink.ts, made of sink_plan.ts, sink_consumer.ts,
 * partition_writer.ts, rotation.ts and lake_retry.ts), and the direct writer tests and benchmarks
 * use (write_lake.ts). May import: `lib/shell/`, `lib/deps/`.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { S3Client } from "../deps/aws_s3.ts";
import { importLazily } from "../shell/lazy.ts";
import { isRetriable, UsageError } from "../shell/errors.ts";
import {
  type DefaultContext,
  type FlagDef,
  type FlagTable,
  REGION_FLAG,
  urlCheck,
} from "../shell/flags.ts";

/** The S3 connector's `topics.dir`. */
export const TOPICS_DIR = "topics";
/** Where records that cannot be written as JSON lines go, beside `topics/`. */
export const QUARANTINE_DIR = "quarantine";
/** The S3 connector's `filename.offset.zero.pad.width`. */
export const OFFSET_PAD = 10;

/** The object key the S3 sink gives the file starting at `startOffset`. */
export function objectKey(
  topic: string,
  partition: number,
  startOffset: number | bigint,
  dir = TOPICS_DIR,
): string {
  const off = String(startOffset).padStart(OFFSET_PAD, "0");
  return `${dir}/${topic}/partition=${partition}/${topic}+${partition}+${off}.json`;
}

/** Topic, partition and start offset of a key in the sink layout, or undefined. */
export function parseObjectKey(
  key: string,
): { dir: string; topic: string; partition: number; startOffset: number } | undefined {
  const m = /^(?:(.*)\/)?([^/]+)\/([^/]+)\/partition=(\d+)\/([^/]+)\+(\d+)\+(\d+)\.json$/.exec(key);
  if (!m || m[3] !== m[5] || m[4] !== m[6]) return undefined;
  return { dir: m[2], topic: m[3], partition: Number(m[4]), startOffset: Number(m[7]) };
}

/** One object in a listing. */
export interface LakeObject {
  key: string;
  size: number;
}

/** A lake on disk or on S3; keys are relative to the lake's root. */
export interface Lake {
  /** How to show this lake to a person (no credentials). */
  readonly url: string;
  /** Writes `body` under `key`; when it resolves the object is durable and whole. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Writes several objects; durable and whole when it resolves (order not kept). */
  putMany(objects: { key: string; body: Uint8Array }[]): Promise<void>;
  /** The object's bytes, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<LakeObject>;
  /** Removes an object (no error if absent). */
  delete(key: string): Promise<void>;
  /** For a local lake, the file path of `key` (DuckDB reads it directly). */
  localPath?(key: string): string;
  /**
   * Checks that the lake can be written at all (a local root that is a directory, or can
   * be made one), throwing one clear, non-retriable error when not.
   */
  check?(): Promise<void>;
  /**
   * Removes the temporary files that writers killed mid-write (or stopped by a full disk)
   * left under `prefix`; returns how many. Lakes whose writes are atomic have none.
   */
  removeTemps?(prefix: string): Promise<number>;
}

/** The temporary name FileLake writes an object under before renaming it into place. */
const TEMP_NAME = /\.tmp-(\d+)-[0-9a-f]{8}$/;

/** Objects FileLake writes at once: enough to overlap fsyncs, few enough to spare descriptors. */
const FILE_WRITES_AT_ONCE = 64;

/**
 * Network failures a retry may cure, as Node's sockets (which the AWS SDK uses) name them in
 * `code`: refused or reset connections, timeouts, a network or host unreachable for now, a
 * DNS answer that may come later. A name that does not resolve at all (`ENOTFOUND`) is not
 * among them: a mistyped `--s3-endpoint` should fail at once.
 */
const RETRIABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** S3's names for answers that pass: throttling, an internal error, a timeout on its side. */
const RETRIABLE_NAMES = new Set([
  "TimeoutError",
  "NetworkingError",
  "RequestTimeout",
  "RequestTimeoutException",
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "InternalError",
  "ServiceUnavailable",
]);

/**
 * True when a lake operation's failure may pass on a retry: a network error, S3 throttling
 * or a 5xx, an interrupted system call. A path that is a file, a missing permission, a full
 * disk, a bucket that does not exist are permanent and retrying them only delays the error.
 * The AWS SDK v3 gives a refused connection as a plain `Error` whose `code` says
 * `ECONNREFUSED` (and `$metadata` without a status), so codes are read, on the error and on
 * each of its causes.
 */
export function isRetriableLakeError(err: unknown): boolean {
  let e = err as {
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    name?: string;
    code?: unknown;
    cause?: unknown;
  } | undefined;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++, e = e.cause as typeof e) {
    if (isRetriable(e)) return true;
    if (
      e instanceof Deno.errors.Interrupted || e instanceof Deno.errors.TimedOut ||
      e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.ConnectionReset ||
      e instanceof Deno.errors.ConnectionAborted
    ) {
      return true;
    }
    if (e.$retryable) return true;
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined) return status >= 500 || status === 429 || status === 408;
    if (typeof e.code === "string" && RETRIABLE_CODES.has(e.code)) return true;
    if (RETRIABLE_NAMES.has(e.name ?? "")) return true;
  }
  return false;
}

/** A parsed `--lake` value. */
export type LakeLocation =
  | { kind: "file"; root: string }
  | { kind: "s3"; bucket: string; prefix: string };

/** Parses `file:///abs`, a plain path, or `s3://bucket/prefix`. */
export function parseLakeUrl(url: string, cwd = "."): LakeLocation {
  if (url.startsWith("s3://")) {
    const rest = url.slice(5);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UsageError(`Invalid lake "${url}": "${bucket}" is not a valid S3 bucket name`);
    }
    return { kind: "s3", bucket, prefix };
  }
  if (url.startsWith("file://")) {
    try {
      return { kind: "file", root: fileURLToPath(url) };
    } catch (err) {
      throw new UsageError(`Invalid lake "${url}": not a file URL with an absolute path`, {
        cause: err,
      });
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new UsageError(
      `Invalid lake "${url}": expected file:///path, a path or s3://bucket/prefix`,
    );
  }
  // "s3:/bucket" or "file:lake" is a mistyped URL, not a folder named "s3:" (a one-letter
  // scheme is a Windows drive).
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(url);
  if (scheme) {
    throw new UsageError(
      `Invalid lake "${url}": a URL needs two slashes after "${scheme[1]}:" ` +
        `(s3://bucket/prefix or file:///path)`,
    );
  }
  return { kind: "file", root: resolve(cwd, url) };
}

/** How to reach S3 for an `s3://` lake. */
export interface S3Options {
  /** An S3-compatible endpoint (s3rver, MinIO); path-style addressing is used with it. */
  endpoint?: string;
  region?: string;
  /** A ready client (tests, shared credentials). */
  client?: S3Client;
}

/**
 * How long an S3 request may take to connect, and to go without a byte either way, before it
 * fails as a retriable `TimeoutError` (`ETIMEDOUT`).
 */
export const S3_TIMEOUTS = {
  connectionTimeout: 5_000,
  requestTimeout: 30_000,
  throwOnRequestTimeout: true,
};

/** Opens the lake at `url` (see `parseLakeUrl`). */
export function openLake(url: string, s3: S3Options = {}): Lake {
  const loc = parseLakeUrl(url);
  if (loc.kind === "file") return new FileLake(loc.root);
  return new S3Lake(s3.client ?? s3, loc.bucket, loc.prefix);
}

/** The AWS S3 SDK's module. */
type S3Sdk = typeof import("../deps/aws_s3.ts");

/** The AWS S3 SDK, loaded when an S3 lake is first used: a local run never downloads it. */
function loadS3Sdk(): Promise<S3Sdk> {
  return importLazily<S3Sdk>(new URL("../deps/aws_s3.ts", import.meta.url));
}

/** A lake in a local directory. Writes go to a temp file, are fsynced and renamed into place. */
export class FileLake implements Lake {
  readonly url: string;
  /**
   * `url` is how the lake is shown, by default `file://<root>`; the demo, which builds a
   * lake in a staging folder and moves it into place when complete, shows the final one.
   */
  constructor(readonly root: string, url?: string) {
    this.url = url ?? `file://${root}`;
  }

  localPath(key: string): string {
    return join(this.root, ...key.split("/"));
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.putMany([{ key, body }]);
  }

  async putMany(objects: { key: string; body: Uint8Array }[]): Promise<void> {
    const dirs = new Set<string>();
    for (const o of objects) dirs.add(dirname(this.localPath(o.key)));
    await Promise.all([...dirs].map((d) => Deno.mkdir(d, { recursive: true })));
    const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    // Temp files not yet renamed, removed again if anything fails (a full disk, a kill of
    // the write by an error elsewhere): a failed write leaves nothing behind.
    const pending = new Set<string>();
    let next = 0;
    let failed = false;
    const writeOne = async (o: { key: string; body: Uint8Array }) => {
      const path = this.localPath(o.key);
      const tmp = `${path}.tmp-${tag}`;
      pending.add(tmp);
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      try {
        let written = 0;
        while (written < o.body.length) written += await file.write(o.body.subarray(written));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, path);
      pending.delete(tmp);
    };
    const worker = async () => {
      while (!failed && next < objects.length) {
        try {
          await writeOne(objects[next++]);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const workers = Math.min(FILE_WRITES_AT_ONCE, objects.length);
    const results = await Promise.allSettled(Array.from({ length: workers }, worker));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) {
      await Promise.all([...pending].map((t) => Deno.remove(t).catch(() => {})));
      throw failure.reason;
    }
    // The renames are durable only once their directories are.
    await Promise.all([...dirs].map(syncDir));
  }

  /**
   * Makes nothing: a run refused after the check (Kafka unreachable, a group's offsets that do
   * not fit this lake) leaves no empty lake folder behind; the first object written makes the
   * folders. Checks that the root, or the nearest folder above it that exists, is a writable
   * directory.
   */
  async check(): Promise<void> {
    let dir = this.root;
    for (;;) {
      let st: Deno.FileInfo | undefined;
      try {
        st = await Deno.stat(dir);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
          throw new Error(`Cannot use the lake "${this.url}": ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      if (st && !st.isDirectory) {
        throw new Error(
          dir === this.root
            ? `Cannot use the lake "${this.url}": "${this.root}" is a file, not a directory`
            : `Cannot use the lake "${this.url}": a folder on the way to "${this.root}" is a file`,
        );
      }
      if (st || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
    // Writable? (a read-only mount or a directory owned by someone else)
    const probe = join(
      dir,
      `.pinpipe-write-check.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
    );
    try {
      await Deno.writeFile(probe, new Uint8Array(0));
      await Deno.remove(probe);
    } catch (err) {
      await Deno.remove(probe).catch(() => {});
      throw new Error(
        `Cannot use the lake "${this.url}": cannot write in "${dir}": ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async removeTemps(prefix: string): Promise<number> {
    const cut = prefix.lastIndexOf("/");
    const base = cut < 0 ? "" : prefix.slice(0, cut);
    const found: string[] = [];
    await this.walk(base, prefix, [], found);
    let removed = 0;
    for (const key of found) {
      const path = this.localPath(key);
      const pid = Number(TEMP_NAME.exec(key)![1]);
      if (!(await staleTemp(path, pid))) continue;
      try {
        await Deno.remove(path);
        removed++;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return removed;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(this.localPath(key));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<LakeObject> {
    // Walk only the directories that can hold keys with this prefix.
    const cut = prefix.lastIndexOf("/");
    const base = cut < 0 ? "" : prefix.slice(0, cut);
    const out: LakeObject[] = [];
    await this.walk(base, prefix, out);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* out;
  }

  /** Collects the objects under `rel` matching `prefix` into `out`, temp files into `temps`. */
  private async walk(
    rel: string,
    prefix: string,
    out: LakeObject[],
    temps?: string[],
  ): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(rel ? this.localPath(rel) : this.root));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return;
      throw err;
    }
    await Promise.all(entries.map(async (e) => {
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) {
          await this.walk(key, prefix, out, temps);
        }
      } else if (e.isFile && key.startsWith(prefix) && /\.tmp-[^/]+$/.test(key)) {
        if (TEMP_NAME.test(key)) temps?.push(key);
      } else if (e.isFile && key.startsWith(prefix) && !temps) {
        // statSync: ~6x faster than async stat over tens of thousands of small objects.
        const st = Deno.statSync(this.localPath(key));
        out.push({ key, size: st.size });
      }
    }));
  }

  async delete(key: string): Promise<void> {
    try {
      await Deno.remove(this.localPath(key));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/**
 * True when the temp file at `path`, written by process `pid`, has no live writer: that
 * process is gone (or is this one: the caller holds the only writer of those keys), or,
 * where processes cannot be looked up, the file is older than any write takes.
 */
async function staleTemp(path: string, pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true;
  if (await exists("/proc/self")) {
    if (!(await exists(`/proc/${pid}`))) return true;
  }
  try {
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? Date.now();
    return Date.now() - mtime > 10 * 60_000;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const d = await Deno.open(dir, { read: true });
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename still happened.
  } finally {
    d.close();
  }
}

/** A lake under `s3://bucket/prefix`. A PUT that S3 acknowledged is durable and whole. */
export class S3Lake implements Lake {
  readonly url: string;
  private ready?: Promise<{ sdk: S3Sdk; client: S3Client }>;

  /** `client`: a ready S3 client, or how to make one (on first use, with the SDK). */
  constructor(
    private readonly client: S3Client | S3Options,
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.url = `s3://${bucket}${prefix ? `/${prefix}` : ""}`;
  }

  /** The SDK and the client, loaded and made on first use. */
  private s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.ready ??= loadS3Sdk().then((sdk) => {
      if ("send" in this.client) return { sdk, client: this.client };
      const o = this.client;
      const client = new sdk.S3Client({
        region: o.region ?? "us-east-1",
        ...(o.endpoint ? { endpoint: o.endpoint, forcePathStyle: true } : {}),
        // Without these a server that stops answering (a hung process, a dropped route) holds
        // a request forever, and the sink's retries never start: the SDK only warns.
        requestHandler: S3_TIMEOUTS,
      });
      return { sdk, client };
    });
    return this.ready;
  }

  private full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const { sdk, client } = await this.s3();
    await client.send(
      new sdk.PutObjectCommand({
        Bucket: this.bucket,
        Key: this.full(key),
        Body: body,
        ContentType: "application/json",
      }),
    );
  }

  async putMany(objects: { key: string; body: Uint8Array }[]): Promise<void> {
    const limit = 16;
    for (let i = 0; i < objects.length; i += limit) {
      await Promise.all(objects.slice(i, i + limit).map((o) => this.put(o.key, o.body)));
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const { sdk, client } = await this.s3();
    try {
      const res = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }),
      );
      return await res.Body!.transformToByteArray();
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === "NoSuchKey" || name === "NotFound") return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<LakeObject> {
    const { sdk, client } = await this.s3();
    let token: string | undefined;
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    do {
      const res = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.full(prefix),
          ContinuationToken: token,
        }),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key) yield { key: o.Key.slice(strip), size: o.Size ?? 0 };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const { sdk, client } = await this.s3();
    await client.send(
      new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) }),
    );
  }
}

/** Why `url` is not a lake URL (the part after "Invalid lake …: "), or undefined. */
export function lakeUrlProblem(url: string): string | undefined {
  try {
    parseLakeUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^Invalid lake "[^]*?": /, "");
  }
}

/** The default lake: the deployed bucket once deploy wrote the config, else a local folder. */
export const DEFAULT_LOCAL_LAKE = ".pinpipe/lake";

/** The flags of every task that reads or writes the lake. */
export const LAKE_FLAGS = {
  lake: {
    type: "string",
    arg: "URL",
    help: "file:///path, a path, or s3://bucket/prefix",
    env: "PINPIPE_LAKE",
    default: ({ config }: DefaultContext) =>
      typeof config.bucket === "string" && config.bucket
        ? `s3://${config.bucket}`
        : DEFAULT_LOCAL_LAKE,
    defaultText: `s3://<config bucket> when deployed, else ${DEFAULT_LOCAL_LAKE}`,
    check: urlCheck(undefined, lakeUrlProblem),
  },
  "s3-endpoint": {
    type: "string",
    arg: "URL",
    help: "an S3-compatible endpoint (MinIO, moto), addressed path-style",
    env: "PINPIPE_S3_ENDPOINT",
    defaultText: "AWS",
    check: urlCheck(),
  },
  region: REGION_FLAG,
} as const satisfies FlagTable;

/** `--bucket`: the lake's bucket (the DAG bucket is `--dag-bucket`, lib/aws/mwaa.ts). */
export const BUCKET_FLAG = {
  type: "string",
  arg: "B",
  help: "the lake bucket",
  env: "PINPIPE_BUCKET",
  config: "bucket",
} as const satisfies FlagDef;

/** The S3 side of the lake flags, for `openLake`. */
export function lakeS3Options(
  v: { s3Endpoint?: string; region: string },
): S3Options {
  return { endpoint: v.s3Endpoint, region: v.region };
}
