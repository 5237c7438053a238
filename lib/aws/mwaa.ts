/**
 * Amazon MWAA for `deno task dags`: the DAG rendered for a prefix, the upload of the DAG
 * files and requirements.txt to the environment's bucket (skipping files whose content is
 * already there), and the Airflow CLI through `CreateCliToken` and
 * `POST https://<webserver>/aws_mwaa/cli` (the registry's @aws-sdk/client-mwaa stops at
 * 3.523.0, before InvokeRestApi), used to unpause, trigger and follow a DAG run.
 * @module
 */
import { createHash } from "node:crypto";
import { CreateCliTokenCommand, GetEnvironmentCommand, MWAAClient } from "../deps/aws_mwaa.ts";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "../deps/aws_s3.ts";
import { RetriableError } from "../shell/errors.ts";
import type { FlagDef } from "../shell/flags.ts";
import { fmtBytes } from "../shell/progress.ts";
import { delay, retry } from "../shell/retry.ts";

/** `--dag-bucket`: MWAA's DAG bucket (the lake's is `--bucket`, lib/lake/lake.ts). */
export const DAG_BUCKET_FLAG = {
  type: "string",
  arg: "B",
  help: "the MWAA DAG bucket",
  env: "PINPIPE_DAG_BUCKET",
  config: "dagBucket",
} as const satisfies FlagDef;

/** How long `triggerDag` follows a run by default (the run goes on after). */
export const DEFAULT_DAG_TIMEOUT_MS = 2 * 3600_000;
/** How often `triggerDag` asks for the run's state by default. */
export const DEFAULT_DAG_POLL_MS = 15_000;

/** The prefix the shipped DAG (dags/pinpipe_dag.py) is written for. */
export const DAG_SOURCE_PREFIX = "pinpipe";

/** The DAG id for `prefix`. */
export function dagId(prefix: string): string {
  return `${prefix}_dag`;
}

/** The shipped DAG's source rewritten for `prefix`: only its `PREFIX = "…"` line changes. */
export function renderDag(source: string, prefix: string): string {
  const line = /^PREFIX = "[^"\n]*"$/m;
  const hits = source.match(new RegExp(line.source, "gm")) ?? [];
  if (hits.length !== 1) {
    throw new Error(`Cannot render the DAG: expected one PREFIX = "…" line, found ${hits.length}`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new Error(`Cannot render the DAG for prefix "${prefix}": use letters, digits, _ . -`);
  }
  return source.replace(line, `PREFIX = "${prefix}"`);
}

/** A file to put in the DAG bucket. */
export interface DagFile {
  /** Object key, e.g. `dags/pinpipe_dag.py`. */
  key: string;
  body: Uint8Array;
}

/** The DAG (rendered for `prefix`) and requirements.txt, read next to this module. */
export async function dagFiles(prefix: string): Promise<DagFile[]> {
  const read = async (name: string) => {
    const url = new URL(`../../dags/${name}`, import.meta.url);
    const res = await fetch(url);
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`Cannot read "${url.href}": HTTP ${res.status}`);
    }
    return await res.text();
  };
  const enc = new TextEncoder();
  const dag = renderDag(await read(`${DAG_SOURCE_PREFIX}_dag.py`), prefix);
  return [
    { key: `dags/${dagId(prefix)}.py`, body: enc.encode(dag) },
    { key: "requirements.txt", body: enc.encode(await read("requirements.txt")) },
  ];
}

/** What `uploadDagFiles` did with each file. */
export interface UploadResult {
  uploaded: { key: string; bytes: number; versionId?: string }[];
  unchanged: string[];
}

const hex = (algo: string, body: Uint8Array) => createHash(algo).update(body).digest("hex");

/**
 * Puts each file in `bucket` unless the object there already has the same content (by the
 * SHA-256 we store as metadata, or for objects put by others a plain MD5 ETag).
 */
export async function uploadDagFiles(
  s3: S3Client,
  bucket: string,
  files: DagFile[],
  opts: { dryRun?: boolean } = {},
): Promise<UploadResult> {
  const result: UploadResult = { uploaded: [], unchanged: [] };
  for (const f of files) {
    const sha256 = hex("sha256", f.body);
    let same = false;
    try {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: f.key }));
      same = head.Metadata?.sha256 === sha256 ||
        head.ETag?.replaceAll('"', "") === hex("md5", f.body);
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if ((err as Error).name !== "NotFound" && status !== 404) {
        throw new Error(`Cannot check "s3://${bucket}/${f.key}"`, { cause: err });
      }
    }
    if (same) {
      result.unchanged.push(f.key);
      continue;
    }
    if (opts.dryRun) {
      result.uploaded.push({ key: f.key, bytes: f.body.length });
      continue;
    }
    try {
      const out = await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: f.key,
          Body: f.body,
          ContentType: f.key.endsWith(".py") ? "text/x-python" : "text/plain",
          Metadata: { sha256 },
        }),
      );
      result.uploaded.push({ key: f.key, bytes: f.body.length, versionId: out.VersionId });
    } catch (err) {
      throw new Error(`Cannot upload "s3://${bucket}/${f.key}"`, { cause: err });
    }
  }
  return result;
}

/** Output of one Airflow CLI command on MWAA. */
export interface CliOutput {
  stdout: string;
  stderr: string;
}

/** Options of `MwaaCli`. */
export interface MwaaCliOptions {
  fetch?: typeof fetch;
  /** The CLI endpoint for a webserver host (tests point it at a local server). */
  cliUrl?: (host: string) => string;
  signal?: AbortSignal;
}

/**
 * The Airflow CLI of one MWAA environment. Each command gets a fresh token: they live
 * about 60 seconds, and MWAA wants one command at a time.
 */
export class MwaaCli {
  constructor(
    readonly mwaa: MWAAClient,
    readonly environment: string,
    readonly opts: MwaaCliOptions = {},
  ) {}

  /** Runs `command` (e.g. `dags trigger pinpipe_dag`) and returns its decoded output. */
  async run(command: string): Promise<CliOutput> {
    return await retry(async () => {
      let token;
      try {
        token = await this.mwaa.send(new CreateCliTokenCommand({ Name: this.environment }));
      } catch (err) {
        throw new Error(`Cannot get an Airflow CLI token for "${this.environment}"`, {
          cause: err,
        });
      }
      const host = token.WebServerHostname ?? "";
      const url = (this.opts.cliUrl ?? ((h) => `https://${h}/aws_mwaa/cli`))(host);
      let res: Response;
      try {
        res = await (this.opts.fetch ?? fetch)(url, {
          method: "POST",
          headers: { Authorization: `Bearer ${token.CliToken}`, "Content-Type": "text/plain" },
          body: command,
          signal: this.opts.signal,
        });
      } catch (err) {
        if (this.opts.signal?.aborted) throw err;
        throw new RetriableError(`Cannot run "airflow ${command}" at ${host}`, { cause: err });
      }
      const text = await res.text();
      if (res.status === 429 || res.status >= 500) {
        throw new RetriableError(`Cannot run "airflow ${command}" at ${host}: HTTP ${res.status}`);
      }
      if (!res.ok) {
        throw new Error(
          `Cannot run "airflow ${command}" at ${host}: HTTP ${res.status} ${text.slice(0, 200)}`,
        );
      }
      let body: { stdout?: string; stderr?: string };
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new Error(`Cannot run "airflow ${command}" at ${host}: the answer is not JSON`, {
          cause: err,
        });
      }
      const dec = (b64?: string) =>
        new TextDecoder().decode(Uint8Array.from(atob(b64 ?? ""), (c) => c.charCodeAt(0)));
      return { stdout: dec(body.stdout), stderr: dec(body.stderr) };
    }, { maxAttempts: 4, baseMs: 1000, maxMs: 10_000, signal: this.opts.signal });
  }

  /**
   * Runs `command` and parses the JSON its `-o json` output holds (see `parseJsonOutput`).
   */
  async json<T>(command: string): Promise<T> {
    const out = await this.run(command);
    const parsed = parseJsonOutput<T>(out);
    if (parsed === undefined) {
      throw new Error(
        `Cannot read the output of "airflow ${command}": ${firstError(out) ?? "no JSON in it"}`,
      );
    }
    return parsed;
  }
}

/**
 * The JSON an `-o json` command printed. Log lines such as
 * `[2026-01-02T00:00:00] {x.py:1} INFO - …` may come first, so the JSON is the first
 * line-start `[` or `{` from which the rest parses; undefined when there is none.
 */
export function parseJsonOutput<T>(out: CliOutput): T | undefined {
  const text = out.stdout.trimEnd();
  for (const m of text.matchAll(/^[ \t]*[[{]/gm)) {
    try {
      return JSON.parse(text.slice(m.index)) as T;
    } catch {
      // a log line that starts with a bracket: try the next line
    }
  }
  return undefined;
}

/** The most telling line of a failed command's stderr, if any. */
function firstError(out: CliOutput): string | undefined {
  const lines = out.stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.reverse().find((l) => /error|exception|not found|invalid/i.test(l)) ?? lines[0];
}

/** How `triggerDag` runs and follows. */
export interface TriggerOptions {
  dagId: string;
  /** The run's conf (a JSON object). */
  conf?: Record<string, unknown>;
  /** Run id; default `pinpipe__<UTC timestamp>`. */
  runId?: string;
  pollMs?: number;
  /** Give up following after this long (the run goes on). */
  timeoutMs?: number;
  /** How long to wait for MWAA to pick up a freshly uploaded DAG. */
  dagWaitMs?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  now?: () => number;
}

/** The end of a DAG run. */
export interface RunResult {
  dagId: string;
  runId: string;
  state: string;
  /** The run's logical date (execution date), as Airflow printed it. */
  logicalDate?: string;
  seconds: number;
  /** True when the DAG was paused, so this trigger also started its schedule. */
  unpaused: boolean;
}

interface DagRunRow {
  run_id?: string;
  state?: string;
}

interface DagRow {
  dag_id?: string;
  is_paused?: string | boolean | null;
}

interface TriggeredRun {
  dag_run_id?: string;
  logical_date?: string;
  state?: string;
}

/** `True`/`False` as `dags list -o json` prints them (or booleans); undefined when unknown. */
function pausedOf(row: DagRow): boolean | undefined {
  const v = row.is_paused;
  if (v === true || v === "True" || v === "true") return true;
  if (v === false || v === "False" || v === "false") return false;
  return undefined;
}

/** Single-quotes `s` for the CLI endpoint, which splits the command like a shell. */
function quoteArg(s: string): string {
  return /^[A-Za-z0-9_.:+=\/-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * Waits for the environment to be AVAILABLE and the DAG to be in Airflow's database,
 * triggers a run and follows it until it succeeds or fails. A paused DAG (MWAA starts new
 * DAGs paused) is unpaused right after the trigger, and its run takes the logical date of
 * the next scheduled run (`dags next-execution`): with catchup off, unpausing makes the
 * scheduler create the latest interval's run at once, and it leaves a date that already
 * has a run alone, so the notebook runs once, not twice. The run id comes from
 * `dags trigger -o json` (a terminal-less table folds long cells across lines).
 */
export async function triggerDag(cli: MwaaCli, opts: TriggerOptions): Promise<RunResult> {
  const now = opts.now ?? (() => Date.now());
  const pollMs = opts.pollMs ?? DEFAULT_DAG_POLL_MS;
  const log = opts.log ?? (() => {});
  const started = now();
  const deadline = started + (opts.timeoutMs ?? DEFAULT_DAG_TIMEOUT_MS);
  const pause = async (what: string) => {
    if (now() > deadline) {
      throw new Error(
        `Cannot follow ${what}: gave up after ${Math.round((now() - started) / 1000)} s`,
      );
    }
    await delay(pollMs, opts.signal);
  };

  for (;;) {
    const env = await cli.mwaa.send(new GetEnvironmentCommand({ Name: cli.environment }));
    const status = env.Environment?.Status ?? "UNKNOWN";
    if (status === "AVAILABLE") break;
    if (!/^(CREATING|UPDATING|CREATING_SNAPSHOT|PENDING|MAINTENANCE)$/.test(status)) {
      throw new Error(
        `Cannot trigger "${opts.dagId}": environment "${cli.environment}" is ${status}`,
      );
    }
    log(`environment ${cli.environment} is ${status}; waiting`);
    await pause(`environment "${cli.environment}"`);
  }

  // Listed with is_paused once the DAG processor has stored it: before that, Airflow can
  // parse the file but cannot trigger it.
  const dagDeadline = now() + (opts.dagWaitMs ?? 5 * 60_000);
  let paused: boolean | undefined;
  for (;;) {
    const dags = await cli.json<DagRow[]>("dags list -o json");
    const row = dags.find((d) => d.dag_id === opts.dagId);
    paused = row ? pausedOf(row) : undefined;
    if (paused !== undefined) break;
    if (now() > dagDeadline) {
      throw new Error(
        `Cannot trigger "${opts.dagId}": MWAA has not loaded it after ${
          Math.round((opts.dagWaitMs ?? 300_000) / 1000)
        } s (look for import errors in the Airflow UI)`,
      );
    }
    log(`waiting for MWAA to load ${opts.dagId}`);
    await pause(`the loading of "${opts.dagId}"`);
  }

  let logicalDate: string | undefined;
  if (paused) {
    const next = await cli.run(`dags next-execution ${opts.dagId}`);
    const last = next.stdout.trim().split("\n").at(-1)?.trim() ?? "";
    if (/^\d{4}-\d{2}-\d{2}T/.test(last)) logicalDate = last;
    else log(`no next scheduled run of ${opts.dagId} to stand in for: triggering for now`);
  }
  const stamp = new Date(now()).toISOString().replace(/[-:]|\.\d+/g, "");
  const runId = opts.runId ?? `pinpipe__${stamp}`;
  const conf = opts.conf ? ` -c ${quoteArg(JSON.stringify(opts.conf))}` : "";
  const trigger = (date?: string) =>
    cli.run(
      `dags trigger ${opts.dagId} -r ${quoteArg(runId)}${date ? ` -e ${date}` : ""}${conf} -o json`,
    );
  let trig = await trigger(logicalDate);
  if (logicalDate && /DagRunAlreadyExists|already exists/i.test(trig.stderr)) {
    // A run holds that date already (the DAG ran before it was paused): trigger for now.
    logicalDate = undefined;
    trig = await trigger();
  }
  const created = parseJsonOutput<TriggeredRun[]>(trig)?.find((r) => r.dag_run_id === runId);
  if (!created) {
    throw new Error(
      `Cannot trigger "${opts.dagId}": ${firstError(trig) ?? "Airflow said nothing"}`,
    );
  }
  log(
    `triggered ${opts.dagId} run ${runId}${
      created.logical_date ? ` (logical date ${created.logical_date})` : ""
    }`,
  );

  if (paused) {
    const unpause = await cli.run(`dags unpause ${opts.dagId}`);
    // Airflow prints a table naming the DAG, or, when it was unpaused meanwhile (another
    // trigger, the UI), "No paused DAGs were found": both mean it is unpaused now.
    if (
      !unpause.stdout.includes(opts.dagId) && !/No paused DAGs were found/.test(unpause.stdout)
    ) {
      throw new Error(
        `Cannot unpause "${opts.dagId}": ${firstError(unpause) ?? "Airflow said nothing"}`,
      );
    }
    log(`unpaused ${opts.dagId}: it now also runs on its schedule`);
  }

  let last = "";
  for (;;) {
    const runs = await cli.json<DagRunRow[]>(`dags list-runs -d ${opts.dagId} -o json`);
    const state = runs.find((r) => r.run_id === runId)?.state ?? "not listed yet";
    if (state !== last) log(`${opts.dagId} ${runId}: ${state}`);
    last = state;
    if (state === "success" || state === "failed") {
      return {
        dagId: opts.dagId,
        runId,
        state,
        logicalDate: created.logical_date,
        seconds: (now() - started) / 1000,
        unpaused: !!paused,
      };
    }
    await pause(`run "${runId}" of "${opts.dagId}" (${state})`);
  }
}

/** What `runDags` did. */
export interface DagsResult {
  prefix: string;
  dagId: string;
  bucket?: string;
  written?: string[];
  upload?: UploadResult;
  run?: RunResult;
}

/** Dependencies of `runDags` (tests pass mocked clients and a local CLI endpoint). */
export interface DagsDeps {
  s3: S3Client;
  mwaa: MWAAClient;
  cli?: MwaaCli;
  files?: (prefix: string) => Promise<DagFile[]>;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** What `runDags` is asked to do. */
export interface DagsJob {
  prefix: string;
  /** The DAG bucket (unless `out`). */
  bucket: string;
  /** The MWAA environment (for `trigger`). */
  environment: string;
  trigger: boolean;
  conf?: Record<string, unknown>;
  timeoutMs: number;
  pollMs: number;
  /** Write the rendered files under this directory instead of uploading. */
  out?: string;
  dryRun: boolean;
}

/** Uploads (or writes) the DAG files and, when asked, triggers and follows a run. */
export async function runDags(opts: DagsJob, deps: DagsDeps): Promise<DagsResult> {
  const log = deps.log ?? (() => {});
  const files = await (deps.files ?? dagFiles)(opts.prefix);
  const result: DagsResult = { prefix: opts.prefix, dagId: dagId(opts.prefix) };
  if (opts.out) {
    result.written = [];
    for (const f of files) {
      const path = `${opts.out.replace(/\/+$/, "")}/${f.key}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, f.body);
      result.written.push(path);
    }
    return result;
  }
  result.bucket = opts.bucket;
  result.upload = await uploadDagFiles(deps.s3, opts.bucket, files, { dryRun: opts.dryRun });
  for (const u of result.upload.uploaded) {
    log(
      `${opts.dryRun ? "would upload" : "uploaded"} s3://${opts.bucket}/${u.key} (${
        fmtBytes(u.bytes)
      })`,
    );
  }
  for (const key of result.upload.unchanged) log(`unchanged s3://${opts.bucket}/${key}`);
  if (result.upload.uploaded.some((u) => u.key === "requirements.txt")) {
    log(
      "requirements.txt changed: MWAA installs it on an environment update, so run deno task deploy --only mwaa",
    );
  }
  if (opts.trigger && !opts.dryRun) {
    const cli = deps.cli ?? new MwaaCli(deps.mwaa, opts.environment, { signal: deps.signal });
    result.run = await triggerDag(cli, {
      dagId: result.dagId,
      conf: opts.conf,
      pollMs: opts.pollMs,
      timeoutMs: opts.timeoutMs,
      log,
      signal: deps.signal,
    });
  }
  return result;
}

/** What `runDags` did, as lines a person reads. */
export function formatDags(result: DagsResult, dryRun: boolean): string {
  if (result.written) return result.written.join("\n");
  const lines = [
    ...(result.upload?.uploaded ?? []).map((u) =>
      `${dryRun ? "would upload" : "uploaded"}  s3://${result.bucket}/${u.key}`
    ),
    ...(result.upload?.unchanged ?? []).map((k) => `unchanged  s3://${result.bucket}/${k}`),
  ];
  const run = result.run;
  if (run) {
    lines.push(`run ${run.runId} of ${run.dagId}: ${run.state} (${Math.round(run.seconds)} s)`);
  }
  return lines.join("\n");
}
