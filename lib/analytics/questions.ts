/**
 * The eight questions of SPEC §5 (Q3 in two parts), each answered by one shared SQL file
 * (`sql/q1.sql` … `sql/q8.sql`) over the views `pin_clean`, `geo_clean` and `user_clean`.
 * The Databricks notebook runs the same files; this list is what both agree on.
 * @module
 */
import type { DuckDBConnection } from "../deps/duckdb.ts";
import { readSql } from "./read_sql.ts";
import {
  type Cell,
  cellText,
  formatTable,
  type Row,
  TABLE_WIDTH,
  wrapText,
} from "../shell/table_format.ts";
import type { FlagDef } from "../shell/flags.ts";

/** Rows shown per answer on stdout by default (the files always hold every row). */
export const DEFAULT_SHOW = 10;

/** `--show N`, shared by transform and the demo. */
export const SHOW_FLAG = {
  type: "int",
  help: "rows shown per answer on stdout, 0 = all; the files always hold every row",
  env: "PINPIPE_SHOW",
  default: DEFAULT_SHOW,
  min: 0,
} as const satisfies FlagDef;

/** One question: its id, its SQL file, what it asks and the columns it answers with. */
export interface Question {
  id: string;
  file: string;
  title: string;
  columns: readonly string[];
  /** The years the question asks about (the end of its title) and the column holding them. */
  years?: { column: string; from: number; to: number };
}

/** The questions in SPEC order. */
export const QUESTIONS: readonly Question[] = [
  {
    id: "q1",
    file: "q1.sql",
    title: "Most popular category in each country",
    columns: ["country", "category", "category_count", "tied"],
  },
  {
    id: "q2",
    file: "q2.sql",
    title: "Most popular category each year, 2018-2022",
    columns: ["post_year", "category", "category_count", "tied"],
    years: { column: "post_year", from: 2018, to: 2022 },
  },
  {
    id: "q3a",
    file: "q3a.sql",
    title: "User with the most followers in each country",
    columns: ["country", "poster_name", "follower_count", "tied"],
  },
  {
    id: "q3b",
    file: "q3b.sql",
    title: "Country of the user with the most followers",
    columns: ["country", "follower_count", "tied"],
  },
  {
    id: "q4",
    file: "q4.sql",
    title: "Most popular category in each age group",
    columns: ["age_group", "category", "category_count", "tied"],
  },
  {
    id: "q5",
    file: "q5.sql",
    title: "Median follower count in each age group",
    columns: ["age_group", "median_follower_count"],
  },
  {
    id: "q6",
    file: "q6.sql",
    title: "Users joined each year, 2015-2020",
    columns: ["post_year", "number_users_joined"],
    years: { column: "post_year", from: 2015, to: 2020 },
  },
  {
    id: "q7",
    file: "q7.sql",
    title: "Median follower count by year joined, 2015-2020",
    columns: ["post_year", "median_follower_count"],
    years: { column: "post_year", from: 2015, to: 2020 },
  },
  {
    id: "q8",
    file: "q8.sql",
    title: "Median follower count by age group and year joined, 2015-2020",
    columns: ["age_group", "post_year", "median_follower_count"],
    years: { column: "post_year", from: 2015, to: 2020 },
  },
];

/** A question with its answer. */
export interface Answer extends Question {
  rows: Row[];
  /** Seconds the query took. */
  sec: number;
}

/** A DuckDB value as a plain cell: integers and doubles as numbers, the rest as text. */
export function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number" || typeof value === "string") return value;
  return String(value);
}

/** Runs every question's SQL and returns the answers, checking each returns its columns. */
export async function answerQuestions(
  conn: DuckDBConnection,
  opts: { signal?: AbortSignal; onQuestion?: (q: Question) => void } = {},
): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const q of QUESTIONS) {
    opts.signal?.throwIfAborted();
    opts.onQuestion?.(q);
    const sql = await readSql(q.file);
    const t0 = performance.now();
    let reader;
    try {
      reader = await conn.runAndReadAll(sql);
    } catch (err) {
      throw new Error(`Cannot answer ${q.id} ("${q.title}") with sql/${q.file}`, { cause: err });
    }
    const names = reader.columnNames();
    if (names.join(",") !== q.columns.join(",")) {
      throw new Error(
        `Cannot answer ${q.id} with sql/${q.file}: it returned the columns ${names.join(", ")}, ` +
          `expected ${q.columns.join(", ")}`,
      );
    }
    const rows = reader.getRowsJS().map((values) =>
      Object.fromEntries(names.map((n, i) => [n, toCell(values[i])]))
    );
    answers.push({ ...q, title: answerTitle(q, rows), rows, sec: (performance.now() - t0) / 1000 });
  }
  return answers;
}

/**
 * A question's title for its answer: where the question asks about years and the answer has
 * fewer, the title says which it has (`Users joined each year, 2015-2020 (the data has
 * 2015-2017)`); otherwise the question's own.
 */
export function answerTitle(q: Question, rows: readonly Row[]): string {
  if (!q.years) return q.title;
  const { column, from, to } = q.years;
  const years = rows.map((r) => Number(r[column])).filter((y) => y >= from && y <= to);
  if (years.length === 0) return `${q.title} (the data has none of these years)`;
  const first = Math.min(...years);
  const last = Math.max(...years);
  if (first === from && last === to) return q.title;
  return `${q.title} (the data has ${first === last ? `${first} only` : `${first}-${last}`})`;
}

/**
 * What a reader must know beside an answer's rows: for Q3B, that countries tie and which
 * row is SPEC §5's one-row answer (the first).
 */
export function tieNote(a: Answer): string | undefined {
  if (a.id !== "q3b" || a.rows.length < 2) return undefined;
  const first = a.rows[0];
  return `${a.rows.length} countries tie at ${cellText(first.follower_count)} followers; ` +
    `the first row, ${
      cellText(first.country)
    }, is the one-row answer (ties broken by country name)`;
}

/** The answers as aligned tables with their titles, for a terminal, in 80 columns. */
export function formatAnswers(answers: readonly Answer[], opts: { maxRows?: number } = {}): string {
  return answers
    .map((a) => {
      const note = tieNote(a);
      const wrapped = note ? `\n${wrapText(note, TABLE_WIDTH).join("\n")}` : "";
      return `${heading(a)}\n${formatTable(a.columns, a.rows, opts)}${wrapped}`;
    })
    .join("\n\n");
}

/** `Q1  <title>`, the title wrapped to TABLE_WIDTH under itself. */
function heading(a: Answer): string {
  const indent = a.id.length + 2;
  return wrapText(a.title, TABLE_WIDTH - indent)
    .map((line, i) => (i === 0 ? `${a.id.toUpperCase()}  ` : " ".repeat(indent)) + line)
    .join("\n");
}
