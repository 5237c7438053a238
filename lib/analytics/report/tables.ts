/**
 * The report's tables in HTML: a table the page's script can sort and filter, and each
 * question's table: the answer's own columns (SPEC §5, and `tied`: tied rows shaded) with the
 * report's context columns set apart (n, the leader's share, the runner-up), its headline, and
 * Q3B's tied countries.
 * @module
 */
import { fmtInt } from "../../shell/progress.ts";
import type { Answer } from "../questions.ts";
import { cellText, type Row } from "../../shell/table_format.ts";
import {
  categoryRows,
  type GroupContext,
  groupSizeRows,
  q3aRows,
  q3bTiedRows,
  race,
  type ReportContext,
  rowsPerGroup,
} from "./data.ts";
import { escapeHtml, listText, num, pct } from "./format.ts";

/** A column of a report table. */
export interface Column {
  name: string;
  /** Right-aligned, sorted as numbers. */
  numeric: boolean;
  /** Added by the report (not in the answer files): set apart. */
  context?: boolean;
  /** Shown in the header's tooltip. */
  help?: string;
  /** The cell's text (default: the value, digits grouped except in years). */
  text?: (row: Row) => string;
}

/** A cell's HTML: its text escaped, NULL set apart. */
function cellHtml(value: unknown, column: Column, row: Row): string {
  if (column.text) return escapeHtml(column.text(row));
  if (value === null || value === undefined) {
    return '<span class="null">NULL</span>';
  }
  return escapeHtml(
    typeof value === "number" && !column.name.endsWith("year") ? num(value) : cellText(
      value as string,
    ),
  );
}

/**
 * A table that the page's script can sort (click a header) and filter (the box above it).
 * `rowClass` marks rows (ties).
 */
export function htmlTable(
  columns: readonly Column[],
  rows: readonly Row[],
  opts: {
    label: string;
    rowClass?: (row: Row) => string | undefined;
    /** false: a plain table (no sorting); otherwise sortable, with a filter box past 10 rows. */
    tools?: boolean;
    /** Extra class of the wrapper (`answer` for a question's own table). */
    cls?: string;
  } = { label: "rows" },
): string {
  const head = columns.map((c) => {
    const cls = [c.numeric ? "n" : "", c.context ? "ctx" : ""].filter(Boolean).join(" ");
    return `<th${cls ? ` class="${cls}"` : ""}${
      c.help ? ` title="${escapeHtml(c.help)}"` : ""
    } scope="col">${escapeHtml(c.name)}</th>`;
  }).join("");
  const body = rows.map((r) => {
    const cls = opts.rowClass?.(r);
    return `<tr${cls ? ` class="${cls}"` : ""}>${
      columns.map((c) => {
        const v = r[c.name];
        const cls = [c.numeric ? "n" : "", c.context ? "ctx" : ""].filter(Boolean).join(" ");
        const sortValue = c.numeric && typeof v === "number" ? ` data-v="${v}"` : "";
        return `<td${cls ? ` class="${cls}"` : ""}${sortValue}>${cellHtml(v, c, r)}</td>`;
      }).join("")
    }</tr>`;
  }).join("\n");
  const table = `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
  if (opts.tools === false) return table;
  const tools = rows.length > 10
    ? `<div class="tools"><input type="search" placeholder="filter rows" aria-label="filter the ${
      escapeHtml(opts.label)
    }"> <span class="shown">${fmtInt(rows.length)} rows</span></div>`
    : "";
  return `<div class="tbl${opts.cls ? ` ${opts.cls}` : ""}">
${tools}<div class="table-wrap">${table}</div>
</div>`;
}

/** A column of `rows` named `name`, numeric when no row holds a string there. */
export const answerColumn = (name: string, rows: readonly Row[]): Column => ({
  name,
  numeric: rows.length > 0 && rows.every((r) => typeof r[name] !== "string"),
});

const N_HELP =
  "Postings the question counted in this group: a lead or a median from few postings is weak";

/** What a question's table shows: its columns and rows, whether ties are marked, its headline. */
interface AnswerView {
  columns: Column[];
  rows: Row[];
  /** Rows whose `tied` is over 1 (a group with more than one winner) are shaded. */
  ties: boolean;
  headline: string;
  warnings: string[];
}

/** The answer's own columns, then the report's context columns, and a headline. */
export function answerTable(answer: Answer, context?: ReportContext): {
  table: string;
  headline: string;
  warnings: string[];
} {
  const view = answerView(answer, context?.[answer.id]);
  return {
    table: htmlTable(view.columns, view.rows, {
      label: `${answer.id.toUpperCase()} rows`,
      rowClass: view.ties ? (r) => (Number(r.tied) > 1 ? "tie" : undefined) : undefined,
      cls: "answer",
    }),
    headline: view.headline,
    warnings: view.warnings,
  };
}

/** What the answers' `tied` column holds, in its header's tooltip. */
const TIED_HELP: Record<string, string> = {
  q3a: "Posters sharing the top in this country (1: no tie)",
  q3b: "Countries sharing the top (1: no tie); the first row is SPEC §5's answer",
};

function answerView(answer: Answer, groups: GroupContext[] | undefined): AnswerView {
  const own = answer.columns.map((c): Column => ({
    ...answerColumn(c, answer.rows),
    ...(c === "tied"
      ? { help: TIED_HELP[answer.id] ?? "Categories sharing the lead in this group (1: no tie)" }
      : {}),
  }));
  switch (answer.id) {
    case "q1":
    case "q2":
    case "q4":
      return categoryView(answer, groups, own);
    case "q3a":
      return q3aView(answer, groups, own);
    case "q3b": {
      // SPEC §5's one row first, every country tied with it after (their users: q3bTies).
      const tie = answer.rows.length > 1;
      return {
        columns: tie
          ? [...own, {
            name: "answer",
            numeric: false,
            context: true,
            help: "SPEC §5 asks for one row, ties broken by country name: the first",
          }]
          : own,
        rows: answer.rows.map((r, i) => ({
          ...r,
          ...(tie ? { answer: i === 0 ? "SPEC §5's one row" : "" } : {}),
        })),
        ties: true,
        headline: "",
        warnings: [],
      };
    }
    default:
      return groupSizeView(answer, groups, own);
  }
}

/** The context columns of a category question (Q1, Q2, Q4) when its groups are counted. */
const CATEGORY_CONTEXT: Column[] = [
  { name: "n", numeric: true, context: true, help: N_HELP },
  {
    name: "share",
    numeric: true,
    context: true,
    help: "The leader's postings out of n",
    text: (r) => (r.share === null ? "" : `${(Number(r.share) * 100).toFixed(1)}%`),
  },
  {
    name: "lead",
    numeric: true,
    context: true,
    help: "Postings ahead of the runner-up",
  },
  { name: "runner_up", numeric: false, context: true, help: "The next category" },
  { name: "runner_up_count", numeric: true, context: true },
];

/** Q1, Q2, Q4: who leads each group, by how much, out of how many; ties as ties. */
function categoryView(
  answer: Answer,
  groups: GroupContext[] | undefined,
  own: Column[],
): AnswerView {
  const { rows, warnings } = categoryRows(answer, groups);
  const columns = [...own, ...(groups ? CATEGORY_CONTEXT : [])];
  return { columns, rows, ties: true, headline: categoryHeadline(answer, groups), warnings };
}

/**
 * How many groups one category leads and in how many there is a tie; with the groups
 * counted, their sizes, and for Q1 how many have no clear favourite, for Q2 and Q4 each
 * group's race in a sentence.
 */
function categoryHeadline(answer: Answer, groups: GroupContext[] | undefined): string {
  const perGroup = rowsPerGroup(answer);
  const nGroups = perGroup.size;
  const tied = [...perGroup.values()].filter((n) => n > 1).length;
  const groupWord = answer.id === "q1" ? "countries" : answer.id === "q2" ? "years" : "groups";
  const parts = [
    `${fmtInt(nGroups)} ${groupWord}: in ${fmtInt(nGroups - tied)} one category leads${
      tied ? `, in ${fmtInt(tied)} two or more tie for the lead (a row for each tied category)` : ""
    }.`,
  ];
  if (groups?.length) {
    const sizes = groups.map((g) => g.n).sort((a, b) => a - b);
    parts.push(
      `Postings per ${answer.id === "q1" ? "country" : answer.id === "q2" ? "year" : "group"}: ${
        sizes.length > 2
          ? `from ${fmtInt(sizes[0])} to ${fmtInt(sizes[sizes.length - 1])}, median ${
            fmtInt(sizes[Math.floor((sizes.length - 1) / 2)])
          }`
          : sizes.map(fmtInt).join(" and ")
      }.`,
    );
    if (answer.id === "q1") {
      const close = groups.map((g) =>
        race(g)!
      ).filter(Boolean).filter((l) =>
        l.winners.length === 1 && l.top - (l.runnerUp?.count ?? 0) <= 1
      ).length;
      parts.push(
        `In ${fmtInt(close)} more the leader is one posting ahead: with the ties, ${
          fmtInt(close + tied)
        } of ${fmtInt(nGroups)} countries have no clear favourite.`,
      );
    } else {
      parts.push(groups.map(raceSentence).join("; ") + ".");
    }
  }
  return parts.join(" ");
}

/** One group's race: `2019: diy 8 of 20 (40.0%), ahead of art by 1`. */
function raceSentence(g: GroupContext): string {
  const r = race(g)!;
  return `${g.key}: ${listText(r.winners)}${r.winners.length > 1 ? " (tie)" : ""} ${
    fmtInt(r.top)
  } of ${fmtInt(r.n)} (${pct(r.top, r.n)})${
    r.runnerUp
      ? `, ahead of ${listText(r.runnerUp.categories)} by ${fmtInt(r.top - r.runnerUp.count)}`
      : ""
  }`;
}

/** Q3A: each country's most followed posters, with n and the posters counted; ties as ties. */
function q3aView(answer: Answer, groups: GroupContext[] | undefined, own: Column[]): AnswerView {
  const columns = [...own];
  if (groups) {
    columns.push(
      {
        name: "n",
        numeric: true,
        context: true,
        help: "Postings with a poster and a follower count",
      },
      { name: "posters", numeric: true, context: true, help: "Distinct posters in the country" },
    );
  }
  const perGroup = rowsPerGroup(answer);
  const tied = [...perGroup.values()].filter((n) => n > 1).length;
  const max = Math.max(...answer.rows.map((r) => Number(r.follower_count)));
  const atMax = new Set(
    answer.rows.filter((r) => Number(r.follower_count) === max).map((r) => String(r.country)),
  );
  const headline = `${fmtInt(perGroup.size)} countries; in ${
    fmtInt(tied)
  } of them two or more posters share the top (a row for each). The most followed top user has ${
    num(max)
  } followers, in ${fmtInt(atMax.size)} ${atMax.size === 1 ? "country" : "countries"}.`;
  return { columns, rows: q3aRows(answer, groups), ties: true, headline, warnings: [] };
}

/** Q5 to Q8: one value per group (a median or a count) with the group's n. */
function groupSizeView(
  answer: Answer,
  groups: GroupContext[] | undefined,
  own: Column[],
): AnswerView {
  const columns = [...own];
  let headline = "";
  if (groups) {
    columns.push({
      name: "n",
      numeric: true,
      context: true,
      help: answer.id === "q6"
        ? "Postings by the users who joined that year"
        : "Postings with a follower count: the median's sample",
    });
    const sizes = groups.map((g) => g.n);
    if (sizes.length) {
      headline = `${answer.id === "q6" ? "Postings" : "Medians over"} ${
        sizes.length > 1
          ? `${fmtInt(Math.min(...sizes))} to ${fmtInt(Math.max(...sizes))}`
          : fmtInt(sizes[0])
      } postings per group${answer.id === "q6" ? "" : " with a follower count"}.`;
    }
  }
  return { columns, rows: groupSizeRows(answer, groups), ties: false, headline, warnings: [] };
}

/**
 * Q3B: the note over its rows (SPEC §5's one row first, every country tied with it after):
 * whether countries tie, which row is the answer, and with Q3A, the tied countries' users.
 */
export function q3bTies(q3b: Answer, q3a?: Answer): string {
  const row = q3b.rows[0];
  if (!row) return "";
  const value = Number(row.follower_count);
  const tied = q3b.rows.map((r) => String(r.country));
  if (tied.length <= 1) {
    return `<p class="headline">One country holds the most followed user: ${
      escapeHtml(String(row.country))
    }, ${num(value)} followers. No tie.</p>`;
  }
  const note = `<p class="headline tie-note"><strong>${
    fmtInt(tied.length)
  } countries tie</strong> at ${
    num(value)
  } followers; the answer is the first by name (SPEC §5: one row, ties broken by country name): ${
    escapeHtml(String(row.country))
  }. The table has a row for each tied country.</p>`;
  if (!q3a) return note;
  const countries = new Set(tied);
  const users = q3bTiedRows(q3a, value).filter((r) => countries.has(String(r.country)));
  return `${note}
<details class="ties" open><summary>The ${
    fmtInt(tied.length)
  } tied countries and their users</summary>
${
    htmlTable(
      [
        { name: "country", numeric: false },
        { name: "poster_name", numeric: false },
        { name: "follower_count", numeric: true },
      ],
      users,
      { label: "tied countries", cls: "ties" },
    )
  }
</details>`;
}
