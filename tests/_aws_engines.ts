/**
 * The AWS half's extra engines, beside tests/_engines.ts's: Airflow's amazon provider in the
 * engine venv (tests/engines/requirements-aws.txt, under the venv's constraints), and checkov
 * in a venv of its own (tests/engines/checkov.txt; its pins clash with Airflow's). Each has a
 * stamp of its requirements file, so a changed file installs again and the rest is reused.
 * @module
 */
import { join } from "node:path";
import { ENGINES_DIR, venvBin } from "./_engines.ts";
import { run } from "../bench/_process.ts";

const INPUTS = new URL("./engines/", import.meta.url).pathname;
const CHECKOV_DIR = join(ENGINES_DIR, "checkov");

async function stampOf(file: string): Promise<string> {
  const text = await Deno.readTextFile(join(INPUTS, file));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function stamped(path: string, file: string): Promise<boolean> {
  try {
    return (await Deno.readTextFile(path)).trim() === await stampOf(file);
  } catch {
    return false;
  }
}

async function pip(bin: string, args: string[]): Promise<string | undefined> {
  const out = await run(join(bin, "pip"), [
    "install",
    "--disable-pip-version-check",
    "-q",
    ...args,
  ]);
  if (out.code === 0) return undefined;
  return out.stderr.trim().split("\n").slice(-15).join("\n");
}

/** The engine venv's bin/ when the amazon provider is installed in it, else undefined. */
export async function awsVenvBin(): Promise<string | undefined> {
  const bin = await venvBin();
  if (!bin) return undefined;
  return await stamped(join(bin, "..", ".stamp-aws"), "requirements-aws.txt") ? bin : undefined;
}

/** checkov's venv python, when provisioned, else undefined. */
export async function checkovPython(): Promise<string | undefined> {
  return await stamped(join(CHECKOV_DIR, ".stamp"), "checkov.txt")
    ? join(CHECKOV_DIR, "bin", "python")
    : undefined;
}

/** Installs what is missing; returns one line per engine (an error's last lines on failure). */
export async function provisionAwsEngines(): Promise<string[]> {
  const lines: string[] = [];
  const bin = await venvBin();
  if (!bin) lines.push("aws engines: the engine venv is missing, so no amazon provider");
  else if (!(await awsVenvBin())) {
    const err = await pip(bin, [
      "-r",
      join(INPUTS, "requirements-aws.txt"),
      "-c",
      join(INPUTS, "constraints.txt"),
    ]);
    if (err) lines.push(`aws engines: the amazon provider could not be installed:\n${err}`);
    else {
      await Deno.writeTextFile(
        join(bin, "..", ".stamp-aws"),
        await stampOf("requirements-aws.txt"),
      );
      lines.push("aws engines: amazon provider installed");
    }
  } else lines.push("aws engines: amazon provider cached");
  if (await checkovPython()) lines.push("aws engines: checkov cached");
  else {
    // A venv is not relocatable: built in place, the stamp written last marks it whole.
    await Deno.remove(CHECKOV_DIR, { recursive: true }).catch(() => {});
    const venv = await run("python3", ["-m", "venv", CHECKOV_DIR]);
    const err = venv.code === 0
      ? await pip(join(CHECKOV_DIR, "bin"), ["-r", join(INPUTS, "checkov.txt")])
      : "python3 -m venv failed";
    if (err) lines.push(`aws engines: checkov could not be installed:\n${err}`);
    else {
      await Deno.writeTextFile(join(CHECKOV_DIR, ".stamp"), await stampOf("checkov.txt"));
      lines.push("aws engines: checkov installed");
    }
  }
  return lines;
}
