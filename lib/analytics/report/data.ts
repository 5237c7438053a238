/**
 * The report's data: what it is given (`ReportInput`), what it counts for itself over the
 * cleaned views (`reportContext`: group sizes, every category's count), and the plain rows and
 * figures the charts and the page draw, derived from those and the answers. Nothing here knows
 * HTML or Vega.
 * @module
 */
import { type QuarantinedLine, type TableName, TABLES, type TableStats } from "../clean.ts";
import type { DuckDBConnection } from "../../deps/duckdb.ts";
import { fmtBytes, fmtInt, fmtSec } from "../../shell/progress.ts";
import type { Answer } from "../questions.ts";
import type { Row } from "../../shell/table_format.ts";

/** The pipeline's own figures, which only a run of the whole pipeline knows (the demo). */
export interface PipelineFigures {
  /** Postings the emulator read from its source. */
  postings: number;
  /** Records sent (three per posting) and acknowledged by Kafka or the REST proxy. */
  sent: number;
  acknowledged: number;
  /** Records the broker holds on the three topics. */
  broker: number;
  /** Records the sink landed in the lake. */
  landed: number;
}

/** One group of a question: its size and, for the category questions, every category's count. */
export interface GroupContext {
  /** The group as `groupKey` spells it from an answer row (`Albania`, `2019`, `+50 2016`). */
  key: string;
  /** Postings the question counted in the group (for a median: those with a follower count). */
  n: number;
  /** Q3A: distinct posters in the country. */
  users?: number;
  /** Q1, Q2, Q4: every category's count, largest first. */
  categories?: { category: string; count: number }[];
}

/** Per question id, its groups. */
export type ReportContext = Record<string, GroupContext[]>;

/** What the report shows. */
export interface ReportInput {
  lake: string;
  prefix: string;
  generatedAt: Date;
  objects: number;
  bytes: number;
  tables: Record<TableName, TableStats>;
  /** The quarantined lines (the report lists the first ones). */
  quarantine: readonly QuarantinedLine[];
  answers: readonly Answer[];
  /** Seconds per step, in order. */
  timings: Record<string, number>;
  /** Group sizes and runner-ups (`reportContext`); without it the report shows the answers alone. */
  context?: ReportContext;
  /** The figures of the whole pipeline run, when the caller ran it (the demo). */
  pipeline?: PipelineFigures;
}

/** The age groups, youngest first, as `sql/pin_user.sql` names them. */
export const AGE_ORDER = ["18-24", "25-35", "36-50", "+50"];

/** Quarantined lines listed in the page; the rest are counted. */
export const QUARANTINE_SHOWN = 50;

/** Compares strings by code unit, as the answers' ORDER BY does. */
export const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------------------
// The context: group sizes and every category's count, from the cleaned views.

const PIN_GEO = "pin_clean AS p JOIN geo_clean AS g ON p.ind = g.ind";

/**
 * Per question, the postings each group holds, with the filters of its `sql/q*.sql` (the
 * report's own counting, in DuckDB only: it is not part of the answers both engines share).
 * Columns: `grp`, then `category` and `n` (every category's count) or `n` (and `users`).
 * Q4 to Q8 read the view `pin_user` (sql/pin_user.sql), where the age groups are defined.
 */
const CONTEXT_SQL: Record<string, string> = {
  q1: `SELECT g.country AS grp, p.category, COUNT(*) AS n FROM ${PIN_GEO}
    WHERE g.country IS NOT NULL AND p.category IS NOT NULL GROUP BY 1, 2`,
  q2: `SELECT CAST(year(g.timestamp) AS VARCHAR) AS grp, p.category, COUNT(*) AS n FROM ${PIN_GEO}
    WHERE year(g.timestamp) BETWEEN 2018 AND 2022 AND p.category IS NOT NULL GROUP BY 1, 2`,
  q3a: `SELECT g.country AS grp, COUNT(*) AS n, COUNT(DISTINCT p.poster_name) AS users
    FROM ${PIN_GEO}
    WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
    GROUP BY 1`,
  q4: `SELECT age_group AS grp, category, COUNT(*) AS n FROM pin_user
    WHERE category IS NOT NULL AND age_group IS NOT NULL GROUP BY 1, 2`,
  q5: `SELECT age_group AS grp, COUNT(*) AS n FROM pin_user
    WHERE follower_count IS NOT NULL AND age_group IS NOT NULL GROUP BY 1`,
  q6: `SELECT CAST(join_year AS VARCHAR) AS grp, COUNT(*) AS n FROM pin_user
    WHERE join_year BETWEEN 2015 AND 2020 GROUP BY 1`,
  q7: `SELECT CAST(join_year AS VARCHAR) AS grp, COUNT(*) AS n FROM pin_user
    WHERE follower_count IS NOT NULL AND join_year BETWEEN 2015 AND 2020 GROUP BY 1`,
  q8: `SELECT age_group || ' ' || CAST(join_year AS VARCHAR) AS grp, COUNT(*) AS n FROM pin_user
    WHERE follower_count IS NOT NULL AND join_year BETWEEN 2015 AND 2020
      AND age_group IS NOT NULL
    GROUP BY 1`,
};

/** The group an answer row belongs to, spelled as `GroupContext.key`. */
export function groupKey(id: string, row: Row): string {
  switch (id) {
    case "q1":
    case "q3a":
    case "q3b":
      return String(row.country);
    case "q2":
    case "q6":
    case "q7":
      return String(row.post_year);
    case "q8":
      return `${row.age_group} ${row.post_year}`;
    default:
      return String(row.age_group);
  }
}

/**
 * Counts, over the cleaned views `pin_clean`, `geo_clean` and `user_clean` on `conn`, the
 * postings of every group of every question (and every category's count for Q1, Q2, Q4),
 * for the report to show beside the answers.
 */
export async function reportContext(conn: DuckDBConnection): Promise<ReportContext> {
  const context: ReportContext = {};
  for (const [id, sql] of Object.entries(CONTEXT_SQL)) {
    let rows: Record<string, unknown>[];
    try {
      rows = (await conn.runAndReadAll(sql)).getRowObjectsJS();
    } catch (err) {
      throw new Error(`Cannot count the groups of ${id} for the report`, { cause: err });
    }
    context[id] = groupsOf(rows);
  }
  return context;
}

/** The groups of one question from its counting query's rows, in the answers' order. */
function groupsOf(rows: Record<string, unknown>[]): GroupContext[] {
  const groups = new Map<string, GroupContext>();
  for (const r of rows) {
    const key = String(r.grp);
    const g = groups.get(key) ?? { key, n: 0 };
    groups.set(key, g);
    const n = Number(r.n);
    g.n += n;
    if (r.category !== undefined) {
      (g.categories ??= []).push({ category: String(r.category), count: n });
    }
    if (r.users !== undefined) g.users = Number(r.users);
  }
  for (const g of groups.values()) {
    g.categories?.sort((a, b) => b.count - a.count || cmp(a.category, b.category));
  }
  return [...groups.values()].sort((a, b) => byGroup(a.key, b.key));
}

/** Group keys in the answers' order: age groups youngest first, then by name or year. */
function byGroup(a: string, b: string): number {
  const age = (k: string) => AGE_ORDER.indexOf(k.split(" ")[0]);
  return (age(a) - age(b)) || cmp(a, b);
}

/** A category question's group: who leads, by how much, out of how many. */
export interface Race {
  n: number;
  top: number;
  winners: string[];
  runnerUp?: { categories: string[]; count: number };
}

/** The race in a category question's group; undefined without its categories' counts. */
export function race(g: GroupContext): Race | undefined {
  const cats = g.categories;
  if (!cats?.length) return undefined;
  const top = cats[0].count;
  const winners = cats.filter((c) => c.count === top).map((c) => c.category);
  const rest = cats.filter((c) => c.count < top);
  const second = rest[0]?.count;
  return {
    n: g.n,
    top,
    winners,
    runnerUp: second === undefined ? undefined : {
      count: second,
      categories: rest.filter((c) => c.count === second).map((c) => c.category),
    },
  };
}

// ---------------------------------------------------------------------------------------
// The answers' rows with the context beside them.

/** Rows per group of an answer: more than one is a tie (every tied winner has its row). */
export function rowsPerGroup(answer: Answer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of answer.rows) {
    const k = groupKey(answer.id, r);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/**
 * Q1, Q2, Q4: each row with its group's n, the leader's share, the runner-up and the lead
 * (the tie is the answer's own `tied`); a warning where the report's own count of the leader
 * differs from the answer's, or the answer's `tied` from its rows.
 */
export function categoryRows(
  answer: Answer,
  groups: GroupContext[] | undefined,
): { rows: Row[]; warnings: string[] } {
  const byKey = new Map(groups?.map((g) => [g.key, g]));
  const ties = rowsPerGroup(answer);
  const warnings: string[] = [];
  const rows = answer.rows.map((r) => {
    const key = groupKey(answer.id, r);
    const g = byKey.get(key);
    const rc = g && race(g);
    if (rc && rc.top !== r.category_count) {
      warnings.push(
        `${answer.id}: the report counts ${rc.top} for "${key}", the answer ${r.category_count}`,
      );
    }
    if (r.tied !== undefined && r.tied !== ties.get(key)) {
      warnings.push(
        `${answer.id}: "${key}" has ${ties.get(key)} rows, its tied column says ${r.tied}`,
      );
    }
    return {
      ...r,
      n: g?.n ?? null,
      share: g ? r.category_count as number / g.n : null,
      runner_up: rc?.runnerUp?.categories.join(", ") ?? (rc ? "(none)" : null),
      runner_up_count: rc?.runnerUp?.count ?? null,
      // A tie leads by nothing; a sole leader by its distance to the runner-up.
      lead: !rc ? null : rc.winners.length > 1 ? 0 : rc.top - (rc.runnerUp?.count ?? 0),
    };
  });
  return { rows, warnings };
}

/** Q3A: each row with its country's n and its distinct posters. */
export function q3aRows(answer: Answer, groups: GroupContext[] | undefined): Row[] {
  const byKey = new Map(groups?.map((g) => [g.key, g]));
  return answer.rows.map((r) => {
    const g = byKey.get(String(r.country));
    return { ...r, n: g?.n ?? null, posters: g?.users ?? null };
  });
}

/** Q5 to Q8: each row with its group's n. */
export function groupSizeRows(answer: Answer, groups: GroupContext[] | undefined): Row[] {
  const byKey = new Map(groups?.map((g) => [g.key, g]));
  return answer.rows.map((r) => ({ ...r, n: byKey.get(groupKey(answer.id, r))?.n ?? null }));
}

/** Q3A's rows whose follower count is `value`: the countries tied for Q3B's answer. */
export function q3bTiedRows(q3a: Answer, value: number): Row[] {
  return q3a.rows.filter((r) => Number(r.follower_count) === value);
}

// ---------------------------------------------------------------------------------------
// The run's own figures.

/** Sums a figure over the three tables. */
export function sumTables(
  tables: Record<TableName, TableStats>,
  f: (s: TableStats) => number,
): number {
  return TABLES.reduce((n, k) => n + f(tables[k]), 0);
}

/** The run's figures: what was read, dropped and quarantined, and each step's time. */
export function runFigures(input: ReportInput): Row[] {
  const sum = (f: (s: TableStats) => number) => sumTables(input.tables, f);
  return [
    { figure: "objects read", value: fmtInt(input.objects) },
    { figure: "bytes read", value: fmtBytes(input.bytes) },
    { figure: "lines read", value: fmtInt(sum((s) => s.lines)) },
    { figure: "records", value: fmtInt(sum((s) => s.records)) },
    { figure: "duplicates dropped", value: fmtInt(sum((s) => s.duplicates)) },
    { figure: "lines quarantined", value: fmtInt(sum((s) => s.quarantined)) },
    ...Object.entries(input.timings).map(([step, sec]) => ({
      figure: `time: ${step}`,
      value: fmtSec(sec),
    })),
  ];
}

/** One row per table: objects, lines, records, duplicates, quarantined and cleaned rows. */
export function tableFigures(tables: Record<TableName, TableStats>): Row[] {
  return TABLES.map((n) => ({
    table: n,
    objects: tables[n].objects,
    lines: tables[n].lines,
    records: tables[n].records,
    duplicates_dropped: tables[n].duplicates,
    quarantined: tables[n].quarantined,
    rows_cleaned: tables[n].rows,
  }));
}

/** Per table and column, the values cleaning turned into NULL. */
export function nulledValues(tables: Record<TableName, TableStats>): Row[] {
  return TABLES.flatMap((n) =>
    Object.entries(tables[n].nulled).map(([column, count]) => ({ table: n, column, nulled: count }))
  );
}

/** The first quarantined lines, their text cut at 120 characters. */
export function quarantineShown(quarantine: readonly QuarantinedLine[]): Row[] {
  return quarantine.slice(0, QUARANTINE_SHOWN).map((q) => ({
    table: q.table,
    object: q.key,
    line: q.line,
    reason: q.reason,
    text: q.text.length > 120 ? `${q.text.slice(0, 120)}…` : q.text,
  }));
}
