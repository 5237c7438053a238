/**
 * The KIP-848 test files' Java side (tests/engine/broker_consumer_protocol_test.ts,
 * broker_kip848_kafka4_test.ts): tests/clients/java/Kip848.java compiled once per test
 * process against kafka-clients 4.x, its one-shot steps (create, produce, describe) and its
 * long-running group members, whose JSON lines tell what they were assigned and read.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { javaClientClasspath } from "./_engines.ts";
import { ROOT } from "./_fixtures.ts";
import { type Running, start } from "../bench/_process.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** The members' JVM: small, quick to start. */
const JVM = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"];

let classes: Promise<string> | undefined;

/** Kip848 compiled once for the file, against kafka-clients 4.x. */
function compiled(): Promise<string> {
  classes ??= (async () => {
    const cp = (await javaClientClasspath("4"))!.split(":").filter((p) => !p.endsWith("classes"))
      .join(":");
    const dir = await Deno.makeTempDir({ prefix: "pinpipe-kip848-" });
    const out = await new Deno.Command("javac", {
      args: ["-nowarn", "-cp", cp, "-d", dir, join(ROOT, "tests/clients/java/Kip848.java")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    return `${dir}:${cp}`;
  })();
  return classes;
}

async function javaArgs(cmd: string, args: Record<string, string>): Promise<string[]> {
  return [
    ...JVM,
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-cp",
    await compiled(),
    "Kip848",
    cmd,
    ...Object.entries(args).map(([k, v]) => `${k}=${v}`),
  ];
}

/** Runs one Kip848 step to its end; answers its JSON lines. */
export async function step(cmd: string, args: Record<string, string>): Promise<Any[]> {
  const out = await new Deno.Command("java", {
    args: await javaArgs(cmd, args),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l);
  if (out.code !== 0) {
    throw new Error(
      `Kip848 ${cmd} failed (${out.code}): ${lines.at(-1)}\n${
        new TextDecoder().decode(out.stderr).split("\n").slice(0, 30).join("\n")
      }`,
    );
  }
  return lines.map((l) => JSON.parse(l));
}

/** A group member process and what it printed. */
export class Member {
  private constructor(readonly name: string, readonly proc: Running) {}

  static async start(name: string, args: Record<string, string>): Promise<Member> {
    return new Member(name, start("java", await javaArgs("member", args), { what: name }));
  }

  lines(): Any[] {
    return this.proc.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l)
    );
  }

  /** Its latest whole assignment (after the last change). */
  assignment(): number[] {
    const a = this.lines().filter((l) => "assigned" in l || "lost" in l).at(-1);
    return a && "assigned" in a ? a.assigned : [];
  }

  /** Its latest whole assignment as "topic:partition" (after the last change). */
  topicPartitions(): string[] {
    const a = this.lines().filter((l) => "assigned" in l || "lost" in l).at(-1);
    return a && "tps" in a ? a.tps : [];
  }

  /** The values of the records it read. */
  records(): string[] {
    return this.lines().filter((l) => "record" in l).map((l) => l.record);
  }

  /** Whether every record it read is committed (commitSync after each poll, retried). */
  allCommitted(): boolean {
    const ls = this.lines();
    const read = ls.filter((l) => "record" in l).length;
    const committed = ls.filter((l) => "committed" in l).at(-1)?.committed ?? 0;
    return read === committed;
  }

  /** Its last lines but records, for a failure's message. */
  tail(): string {
    const ls = this.proc.stdout().split("\n").filter((l) => l && !l.includes('"record"'));
    return `${this.name}: ${ls.slice(-6).join(" ")} ${this.proc.stderr().slice(-400)}`;
  }

  /** Partitions it was asked to revoke, after line `from`. */
  revokedSince(from: number): number[] {
    return this.lines().slice(from).filter((l) => "revoked" in l).flatMap((l) => l.revoked);
  }

  failure(): string {
    const err = this.lines().find((l) => "error" in l);
    return err ? `${this.name}: ${err.error}` : "";
  }
}
