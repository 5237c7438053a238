/**
 * The transform job: reads a lake (a local folder or S3) in the sink's layout, cleans the
 * three topics with DuckDB and the shared SQL (SPEC §4), answers the eight questions
 * (SPEC §5) and writes everything under one output folder:
 *
 * - `pin.parquet`, `geo.parquet`, `user.parquet`: the cleaned tables
 * - `answers/<id>.csv`, `answers/<id>.json`: each answer
 * - `quarantine.jsonl`: the lines that were not records, with object key and line number
 * - `summary.json`: the figures of the run and the answers
 * - `report.html`: the self-contained report (lib/analytics/report.ts and report/)
 *
 * The outputs are written into a staging folder inside `out` and moved into place only once
 * all of them are complete, so an interrupted or failed run leaves the previous ones as they
 * were. A lake with no objects for the prefix is an error naming what was looked for and
 * the prefixes the lake does hold (unless `allowEmpty`), and so is a run in which every
 * line was quarantined: neither replaces the previous outputs with empty answers.
 *
 * An S3 lake is copied object by object into a temporary folder first: DuckDB's httpfs
 * extension cannot be installed offline, and local files are what DuckDB reads fastest.
 *
 * Folder `lib/analytics/`: from the lake to the answers: the shared SQL's loader (read_sql.ts),
 * cleaning (clean.ts), the eight questions (questions.ts), this job, and the report (report.ts,
 * its parts in report/).
 * May import: `lib/lake/`, `lib/shell/`, `lib/deps/`.
 * @module
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cleanLake,
  type CleanResult,
  type LakeFile,
  type QuarantinedLine,
  type TableName,
  TABLES,
  type TableStats,
} from "./clean.ts";
import { type DuckDBConnection, DuckDBInstance } from "../deps/duckdb.ts";
import {
  type Lake,
  type LakeObject,
  openLake,
  parseObjectKey,
  type S3Options,
  TOPICS_DIR,
} from "../lake/lake.ts";
import {
  fmtInt,
  fmtRate,
  fmtSec,
  Progress,
  type ProgressSink,
  readProgress,
  silentSink,
} from "../shell/progress.ts";
import { type Answer, answerQuestions, QUESTIONS } from "./questions.ts";
import { renderReport } from "./report.ts";
import { type PipelineFigures, type ReportContext, reportContext } from "./report/data.ts";
import { Staging } from "../shell/staging.ts";
import { toCsv } from "../shell/table_format.ts";

/** Where the transform writes by default. */
export const DEFAULT_TRANSFORM_OUT = ".pinpipe/transform";
/** DuckDB's memory limit by default: 1 GiB. */
export const DEFAULT_DUCKDB_MEMORY = 1024 ** 3;

/** What to transform and where to put the results. */
export interface TransformOptions {
  /** `file:///path`, a path, or `s3://bucket/prefix`. */
  lake: string;
  /** Topic prefix: topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`. */
  prefix: string;
  /** Output folder (created; files in it are replaced). */
  out: string;
  /** How to reach S3 for an `s3://` lake. */
  s3?: S3Options;
  /** DuckDB threads. Default: every core. */
  threads?: number;
  /** DuckDB memory limit in bytes. Default DEFAULT_DUCKDB_MEMORY. */
  memoryLimitBytes?: number;
  /** Write report.html. Default true. */
  report?: boolean;
  /** S3 objects downloaded at once. Default 32. */
  downloadConcurrency?: number;
  /** Write empty tables and answers when the lake holds no objects for the prefix. */
  allowEmpty?: boolean;
  /** The whole pipeline's figures for the report's top, when the caller ran it (the demo). */
  pipeline?: PipelineFigures;
  /** Objects read per DuckDB statement at most (default: clean.ts's; tests use small ones). */
  readBatchObjects?: number;
}

/** What the job may be handed instead of making it. */
export interface TransformDeps {
  /** An opened lake (tests); otherwise `opts.lake` is opened. */
  lake?: Lake;
  /** Where progress goes. Default: nowhere. */
  progress?: ProgressSink;
  signal?: AbortSignal;
  /** The clock for the report's date. */
  now?: () => Date;
}

/** What the job did and found. */
export interface TransformResult {
  lake: string;
  prefix: string;
  out: string;
  objects: number;
  bytes: number;
  /** Non-blank lines read, records among them, exact duplicates dropped, lines quarantined. */
  lines: number;
  records: number;
  duplicates: number;
  quarantined: number;
  tables: Record<TableName, TableStats>;
  /** The lines that were not records (also in quarantine.jsonl). */
  quarantine: QuarantinedLine[];
  answers: Answer[];
  /** Seconds per step and in all. */
  timings: {
    list: number;
    download: number;
    clean: number;
    questions: number;
    write: number;
    total: number;
  };
  /** The files written, relative to `out`. */
  files: string[];
}

/** The files a run writes (relative to `out`); a run replaces them and only them. */
export function outputNames(withReport: boolean): string[] {
  return [
    ...TABLES.map((t) => `${t}.parquet`),
    ...QUESTIONS.flatMap((q) => [`answers/${q.id}.csv`, `answers/${q.id}.json`]),
    "quarantine.jsonl",
    ...(withReport ? ["report.html"] : []),
    "summary.json",
  ];
}

/** The staging folders of runs inside `out`: `.transform-<pid>-<8 hex>` (lib/shell/staging.ts). */
const STAGING = ".transform-";

/**
 * What a lake that holds nothing for `prefix` does hold: the folder is missing, it has no
 * `topics/`, or the prefixes of the topics it has (a topic `<p>.pin`, `<p>.geo` or `<p>.user`
 * names prefix `p`), for an error that says what to try instead.
 */
async function whatTheLakeHolds(lake: Lake): Promise<string> {
  const topics = new Set<string>();
  if (lake.localPath) {
    const root = lake.localPath("");
    try {
      if (!(await Deno.stat(root)).isDirectory) return "it is not a folder";
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return "the folder does not exist";
      throw err;
    }
    try {
      for await (const e of Deno.readDir(lake.localPath(TOPICS_DIR))) {
        if (e.isDirectory) topics.add(e.name);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  } else {
    let seen = 0;
    for await (const o of lake.list(`${TOPICS_DIR}/`)) {
      const topic = o.key.split("/")[1];
      if (topic) topics.add(topic);
      if (++seen >= 10_000) break; // enough to name the prefixes
    }
  }
  if (topics.size === 0) return `it holds no ${TOPICS_DIR}/ folder`;
  const prefixes = [
    ...new Set(
      [...topics].map((t) => /^(.+)\.(pin|geo|user)$/.exec(t)?.[1]).filter((p) => p !== undefined),
    ),
  ].sort();
  return prefixes.length
    ? `it holds the prefixes ${prefixes.map((p) => `"${p}"`).join(", ")} (--prefix)`
    : `its topics are ${[...topics].sort().map((t) => `"${t}"`).join(", ")}, none of them ` +
      `<prefix>.pin, <prefix>.geo or <prefix>.user`;
}

/** The objects of `<prefix>.<table>` in the sink layout, in key order. */
async function listTopic(lake: Lake, topic: string): Promise<LakeObject[]> {
  const out: LakeObject[] = [];
  for await (const o of lake.list(`${TOPICS_DIR}/${topic}/`)) {
    const k = parseObjectKey(o.key);
    if (k && k.dir === TOPICS_DIR && k.topic === topic) out.push(o);
  }
  return out;
}

/** Copies `objects` of an S3 lake into `dir`, keeping their keys as paths. */
async function download(
  lake: Lake,
  objects: LakeObject[],
  dir: string,
  concurrency: number,
  onProgress: (done: number) => void,
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const paths = new Map<string, string>();
  const dirs = new Set(objects.map((o) => join(dir, ...o.key.split("/").slice(0, -1))));
  await Promise.all([...dirs].map((d) => Deno.mkdir(d, { recursive: true })));
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < objects.length) {
      signal?.throwIfAborted();
      const o = objects[next++];
      const body = await lake.get(o.key);
      if (!body) {
        throw new Error(
          `Cannot read object "${o.key}" of ${lake.url}: it is gone since it was listed`,
        );
      }
      const path = join(dir, ...o.key.split("/"));
      await Deno.writeFile(path, body);
      paths.set(o.key, path);
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, worker));
  return paths;
}

/** What one run's steps share. */
interface Run {
  opts: TransformOptions;
  lake: Lake;
  progress: Progress;
  signal?: AbortSignal;
  /** Seconds per step, filled in as the steps end. */
  timings: TransformResult["timings"];
}

/** The lake's objects for the prefix, per table and in all. */
interface Listing {
  listed: Record<TableName, LakeObject[]>;
  all: LakeObject[];
  bytes: number;
  /** What was looked for, for messages: `topics/<prefix>.{pin,geo,user}/`. */
  looked: string;
}

const since = (t: number) => (performance.now() - t) / 1000;

/** Cleans the lake, answers the eight questions and writes the results under `opts.out`. */
export async function transform(
  opts: TransformOptions,
  deps: TransformDeps = {},
): Promise<TransformResult> {
  const signal = deps.signal;
  const run: Run = {
    opts,
    lake: deps.lake ?? openLake(opts.lake, opts.s3),
    progress: new Progress("transform", { sink: deps.progress ?? silentSink }),
    signal,
    timings: { list: 0, download: 0, clean: 0, questions: 0, write: 0, total: 0 },
  };
  const t0 = performance.now();
  const listing = await listLake(run);

  const staging = await Staging.create(opts.out, STAGING);
  const work = await Deno.makeTempDir({ dir: tmpdir(), prefix: "pinpipe-transform-" });
  try {
    let t = performance.now();
    const files = await lakeFiles(run, listing, join(work, "lake"));
    run.timings.download = since(t);

    t = performance.now();
    const result = await withDuckDB(run, work, async (conn) => {
      const cleaned = await cleanTables(run, conn, files, listing, staging.path, work);
      run.timings.clean = since(t);
      t = performance.now();
      const answers = await answerQuestions(conn, {
        signal,
        onQuestion: (q) => run.progress.update(`answering ${q.id}`, { textOnly: true }),
      });
      run.timings.questions = since(t);
      t = performance.now();
      const result = resultOf(run, listing, cleaned, answers);
      run.progress.update("writing results", { force: true, textOnly: true });
      const context = (opts.report ?? true) ? await reportContext(conn) : undefined;
      const now = deps.now?.() ?? new Date();
      result.files = await writeResults(result, staging.path, opts, now, signal, context);
      run.timings.write = since(t);
      run.timings.total = since(t0);
      return result;
    });
    const { quarantine: _, ...summary } = result;
    await Deno.writeTextFile(
      join(staging.path, "summary.json"),
      `${JSON.stringify(summary, null, 2)}\n`,
    );
    // Every output is complete: only now do they replace the previous ones. An interrupt
    // from here on finishes the swap (a few renames) rather than leave a mix.
    signal?.throwIfAborted();
    await staging.swapInto(opts.out, outputNames(true));
    run.progress.done(
      `${fmtInt(result.records)} records from ${fmtInt(result.objects)} objects, ` +
        `${fmtInt(result.duplicates)} duplicates dropped, ${
          fmtInt(result.quarantined)
        } lines quarantined, ` +
        `${result.answers.length} answers in ${fmtSec(run.timings.total)} (${
          fmtRate(result.lines, run.timings.total)
        })`,
    );
    return result;
  } catch (err) {
    if (signal?.aborted) throw new Error("Transform interrupted", { cause: signal.reason ?? err });
    throw err;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await staging.discard().catch(() => {});
  }
}

/**
 * Lists the three topics' objects; a lake with none is an error naming what it does hold
 * (nothing is written), unless `allowEmpty`.
 */
async function listLake(run: Run): Promise<Listing> {
  const { lake, opts, progress } = run;
  progress.update(`listing ${lake.url}`, true);
  const t = performance.now();
  const listed = {} as Record<TableName, LakeObject[]>;
  await Promise.all(TABLES.map(async (table) => {
    listed[table] = await listTopic(lake, `${opts.prefix}.${table}`);
  }));
  run.timings.list = since(t);
  const all = TABLES.flatMap((table) => listed[table]);
  const looked = `${TOPICS_DIR}/${opts.prefix}.{pin,geo,user}/`;
  if (all.length === 0) {
    if (!opts.allowEmpty) {
      throw new Error(
        `Cannot transform the lake "${lake.url}": no objects under ${looked}; ${await whatTheLakeHolds(
          lake,
        )}. Nothing was written (--allow-empty writes empty answers)`,
      );
    }
    progress.log(`no objects under ${lake.url}/${looked}: writing empty answers (--allow-empty)`);
  }
  return { listed, all, bytes: all.reduce((n, o) => n + o.size, 0), looked };
}

/** The objects as local files: read in place from a local lake, else copied into `dir`. */
async function lakeFiles(
  run: Run,
  listing: Listing,
  dir: string,
): Promise<Record<TableName, LakeFile[]>> {
  const { lake, progress } = run;
  const { listed, all } = listing;
  let path = (key: string) => lake.localPath?.(key);
  if (!lake.localPath) {
    const paths = await download(
      lake,
      all,
      dir,
      run.opts.downloadConcurrency ?? 32,
      (done) =>
        progress.update(`downloading ${fmtInt(done)}/${fmtInt(all.length)} objects`, {
          done,
          total: all.length,
          unit: "objects",
        }),
      run.signal,
    );
    path = (key) => paths.get(key);
  }
  const files = {} as Record<TableName, LakeFile[]>;
  for (const table of TABLES) {
    files[table] = listed[table].map((o) => ({ key: o.key, path: path(o.key)!, size: o.size }));
  }
  return files;
}

/** Runs `fn` on a connection to a fresh in-memory DuckDB, interrupted when the run is. */
async function withDuckDB<T>(
  run: Run,
  work: string,
  fn: (conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(":memory:", {
    threads: String(run.opts.threads ?? navigator.hardwareConcurrency ?? 2),
    memory_limit: `${
      Math.floor((run.opts.memoryLimitBytes ?? DEFAULT_DUCKDB_MEMORY) / 1024 ** 2)
    }MiB`,
    temp_directory: join(work, "spill"),
    // Row order is not kept (answers are ORDER BY'd): faster and about a quarter less memory.
    preserve_insertion_order: "false",
  });
  try {
    const conn = await instance.connect();
    const onAbort = () => conn.interrupt();
    run.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await fn(conn);
    } finally {
      run.signal?.removeEventListener("abort", onAbort);
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * Cleans the three tables into `staged` (the Parquet files), showing objects and lines read;
 * a run in which every line was quarantined is an error (nothing is written).
 */
async function cleanTables(
  run: Run,
  conn: DuckDBConnection,
  files: Record<TableName, LakeFile[]>,
  listing: Listing,
  staged: string,
  work: string,
): Promise<CleanResult> {
  const { progress } = run;
  // While it reads: objects and lines read, the rate, and a bar and ETA by bytes.
  const reading = readProgress(progress, {
    objects: listing.all.length,
    bytes: listing.bytes,
    unit: "lines",
  });
  const cleaned = await cleanLake(conn, files, staged, {
    signal: run.signal,
    workDir: work,
    batchObjects: run.opts.readBatchObjects,
    onStep: (step) => progress.update(step, { force: true, textOnly: true }),
    onRead: (table, objects, lines) => {
      // Each topic's objects are counted against its own number, not the lake's.
      if (reading.what !== `reading ${table}`) {
        reading.begin(`reading ${table}`, files[table].length);
      }
      // One batch is one step: its objects all finished now, so the rate sees one sample.
      reading.batch(objects.length, lines, objects.reduce((n, o) => n + (o.size ?? 0), 0));
    },
  });
  const records = TABLES.reduce((n, k) => n + cleaned.tables[k].records, 0);
  if (records === 0 && cleaned.quarantine.length > 0) {
    const shown = cleaned.quarantine.slice(0, 3).map((q) => `${q.key} line ${q.line}: ${q.reason}`);
    throw new Error(
      `Cannot transform the lake "${run.lake.url}": all ${cleaned.quarantine.length} lines under ` +
        `${listing.looked} were quarantined (${shown.join("; ")}${
          cleaned.quarantine.length > 3 ? "; …" : ""
        }). Nothing was written`,
    );
  }
  return cleaned;
}

/** The run's result (its files not written yet). */
function resultOf(
  run: Run,
  listing: Listing,
  cleaned: CleanResult,
  answers: Answer[],
): TransformResult {
  const sum = (f: (s: TableStats) => number) =>
    TABLES.reduce((n, k) => n + f(cleaned.tables[k]), 0);
  return {
    lake: run.lake.url,
    prefix: run.opts.prefix,
    out: run.opts.out,
    objects: listing.all.length,
    bytes: listing.bytes,
    lines: sum((s) => s.lines),
    records: sum((s) => s.records),
    duplicates: sum((s) => s.duplicates),
    quarantined: sum((s) => s.quarantined),
    tables: cleaned.tables,
    quarantine: cleaned.quarantine,
    answers,
    timings: run.timings,
    files: [],
  };
}

/**
 * Writes the answers, the quarantine and the report into `out` (the staging folder);
 * returns the names of every output file, summary.json included (written last).
 */
async function writeResults(
  result: TransformResult,
  out: string,
  opts: TransformOptions,
  now: Date,
  signal?: AbortSignal,
  context?: ReportContext,
): Promise<string[]> {
  const files = TABLES.map((t) => `${t}.parquet`);
  await Deno.mkdir(join(out, "answers"), { recursive: true });
  for (const a of result.answers) {
    signal?.throwIfAborted();
    await Deno.writeTextFile(join(out, "answers", `${a.id}.csv`), toCsv(a.columns, a.rows));
    await Deno.writeTextFile(
      join(out, "answers", `${a.id}.json`),
      `${
        JSON.stringify({ id: a.id, title: a.title, columns: a.columns, rows: a.rows }, null, 2)
      }\n`,
    );
    files.push(`answers/${a.id}.csv`, `answers/${a.id}.json`);
  }
  await Deno.writeTextFile(
    join(out, "quarantine.jsonl"),
    result.quarantine.map((q) => JSON.stringify(q) + "\n").join(""),
  );
  files.push("quarantine.jsonl");
  signal?.throwIfAborted();
  if (opts.report ?? true) {
    const html = await renderReport({
      lake: result.lake,
      prefix: result.prefix,
      generatedAt: now,
      objects: result.objects,
      bytes: result.bytes,
      tables: result.tables,
      quarantine: result.quarantine,
      answers: result.answers,
      timings: {
        list: result.timings.list,
        download: result.timings.download,
        clean: result.timings.clean,
        questions: result.timings.questions,
      },
      context,
      pipeline: opts.pipeline,
    });
    await Deno.writeTextFile(join(out, "report.html"), html);
    files.push("report.html");
  }
  files.push("summary.json");
  return files;
}
