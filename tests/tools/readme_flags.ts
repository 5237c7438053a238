#!/usr/bin/env -S deno run -A
/**
 * The README's tables of flags and its pasted `--help` texts, made from the tasks' own flag
 * tables (each task's exported `FLAGS`, or `SERVE_FLAGS` and `CONFIG_FLAGS`, and `RETIRED`),
 * so the documentation cannot drift from what the tasks read:
 *
 * - between `<!-- flags:shared -->` and `<!-- /flags:shared -->`: every flag that two or more
 *   tasks take with the same variable, with its default and the tasks;
 * - between `<!-- flags:retired -->` and `<!-- /flags:retired -->`: the names refused now;
 * - every block ```` ```text\n$ deno task <name> --help ```` … : that task's HELP.
 *
 *     deno run -A tests/tools/readme_flags.ts --write   # rewrite README.md, then deno fmt it
 *
 * tests/unit/tasks_contract_test.ts checks that README.md is what this makes.
 * @module
 */
import { join } from "node:path";
import { argOf, defaultOf, type FlagDef, type FlagTable } from "../../lib/shell/flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** What a task module declares. */
export interface TaskFlags {
  /** `sink`, `rest-proxy`, … */
  task: string;
  tables: FlagTable[];
  retired: Readonly<Record<string, string>>;
  help: string;
}

/** Every task's flag tables, in file order. */
export async function taskFlags(): Promise<TaskFlags[]> {
  const files = [...Deno.readDirSync(join(ROOT, "tasks"))]
    .filter((e) => e.isFile && e.name.endsWith(".ts")).map((e) => e.name).sort();
  const out: TaskFlags[] = [];
  for (const file of files) {
    const mod = await import(join(ROOT, "tasks", file));
    const tables = [mod.FLAGS, mod.SERVE_FLAGS, mod.CONFIG_FLAGS].filter(Boolean) as FlagTable[];
    out.push({
      task: file.replace(/\.ts$/, "").replaceAll("_", "-"),
      tables,
      retired: mod.RETIRED ?? {},
      help: mod.HELP,
    });
  }
  return out;
}

/** `--name ARG` as --help shows it. */
function flagWithArg(name: string, def: FlagDef): string {
  return `--${name}${def.type === "boolean" ? "" : ` ${argOf(name, def)}`}`;
}

/** What a flag is for, in a few words: its help up to the first ";" or "(". */
function idea(def: FlagDef): string {
  return def.idea ?? def.help.split(/;| \(/)[0].trim();
}

/** The markdown rows of the flags two or more tasks share with the same variable. */
export function sharedTable(tasks: TaskFlags[]): string {
  const byKey = new Map<string, { name: string; uses: { task: string; def: FlagDef }[] }>();
  for (const t of tasks) {
    const seen = new Set<string>();
    for (const table of t.tables) {
      for (const [name, def] of Object.entries(table)) {
        const key = `${name} ${def.env ?? "-"}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const row = byKey.get(key) ?? { name, uses: [] };
        row.uses.push({ task: t.task, def });
        byKey.set(key, row);
      }
    }
  }
  const rows = [...byKey.values()].filter((r) => r.uses.length >= 2)
    .sort((a, b) => b.uses.length - a.uses.length || a.name.localeCompare(b.name));
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const lines = [
    "| flag | variable | default | tasks | what |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const def = mostCommon(r.uses.map((u) => u.def), (d) => idea(d));
    lines.push(
      `| \`${cell(flagWithArg(r.name, def))}\` | ${def.env ? `\`${def.env}\`` : "(flag only)"} | ${
        cell(defaults(r.uses))
      } | ${r.uses.map((u) => u.task).join(", ")} | ${cell(idea(def))} |`,
    );
  }
  return lines.join("\n");
}

/** The default every task gives a flag, or each task's where they differ. */
function defaults(uses: { task: string; def: FlagDef }[]): string {
  const of = (def: FlagDef) => defaultOf(def) ?? "";
  const values = new Map<string, string[]>();
  for (const u of uses) values.set(of(u.def), [...values.get(of(u.def)) ?? [], u.task]);
  if (values.size === 1) return [...values.keys()][0];
  return [...values].map(([v, ts]) => `${ts.join(", ")}: ${v || "none"}`).join("; ");
}

/** The item whose key most of `items` share (the shortest key on a tie). */
function mostCommon<T>(items: T[], key: (t: T) => string): T {
  const count = new Map<string, number>();
  for (const i of items) count.set(key(i), (count.get(key(i)) ?? 0) + 1);
  return [...items].sort((a, b) =>
    count.get(key(b))! - count.get(key(a))! || key(a).length - key(b).length
  )[0];
}

/** The markdown rows of the names refused now, with what to use instead. */
export function retiredTable(tasks: TaskFlags[]): string {
  const lines = ["| task | old name | use now |", "| --- | --- | --- |"];
  for (const t of tasks) {
    for (const [old, now] of Object.entries(t.retired)) {
      lines.push(`| ${t.task} | \`${old}\` | ${now.replace(/^(\S+)/, "`$1`")} |`);
    }
  }
  return lines.join("\n");
}

/** A markdown table with its cells' padding taken out, to compare tables however formatted. */
export function normalizeTables(text: string): string {
  return text.split("\n").map((line) =>
    line.startsWith("|")
      ? line.split(/(?<!\\)\|/).map((c) => c.trim().replace(/^-+$/, "---")).join("|")
      : line
  ).join("\n");
}

/** `readme` with its generated parts made again from `tasks`. */
export function renderReadme(readme: string, tasks: TaskFlags[]): string {
  const section = (text: string, name: string, body: string) => {
    const open = `<!-- flags:${name} -->`;
    const close = `<!-- /flags:${name} -->`;
    const a = text.indexOf(open);
    const b = text.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} section`);
    return `${text.slice(0, a + open.length)}\n\n${body}\n\n${text.slice(b)}`;
  };
  let out = section(readme, "shared", sharedTable(tasks));
  out = section(out, "retired", retiredTable(tasks));
  const helps = new Map(tasks.map((t) => [t.task, t.help]));
  out = out.replace(
    /^```text\n\$ deno task ([a-z-]+) --help\n[\s\S]*?^```$/gm,
    (block, task: string) =>
      helps.has(task) ? `\`\`\`text\n$ deno task ${task} --help\n${helps.get(task)}\`\`\`` : block,
  );
  return out;
}

if (import.meta.main) {
  const path = join(ROOT, "README.md");
  const readme = await Deno.readTextFile(path);
  const next = renderReadme(readme, await taskFlags());
  if (Deno.args.includes("--write")) {
    await Deno.writeTextFile(path, next);
    await new Deno.Command(Deno.execPath(), { args: ["fmt", path] }).output();
    console.log("README.md: flag tables and --help texts written");
  } else {
    console.log(normalizeTables(next) === normalizeTables(readme) ? "up to date" : "stale");
  }
}
