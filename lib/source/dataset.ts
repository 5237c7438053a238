/**
 * The synthetic Pinterest dataset: three tables (`pinterest_data`, `geolocation_data`,
 * `user_data`) with the shape, value domains and dirt of the private RDS database the
 * original pipeline read (SPEC §1), generated deterministically and lazily.
 *
 * How it is built, so that the same seed gives the same bytes in any access order:
 * - every posting is derived from (seed, key) alone, by a small fast generator (sfc32)
 *   seeded from a hash of the two, so `posting(7528)` does not depend on which postings
 *   were generated before it, nor on `rows` (a smaller dataset is a prefix of a larger);
 * - the text (titles, descriptions, poster names, tags) and the people (names, ages,
 *   join dates, coordinates, countries) come from @faker-js/faker, drawn into fixed-size
 *   pools whose entry `i` is generated on first use from (seed, pool, i). Picking pool
 *   entries per key is what makes users, posters and coordinates repeat across keys, as
 *   they do in the real data, and keeps memory bounded whatever `rows` is.
 * - follower counts follow the user, as in every public run of the original pipeline
 *   (peer-pipelines §4.1: the median falls with age group and with join year): each key
 *   draws its user first, and the poster is picked by rank in a pool whose entry `i` has
 *   the `i`-th smallest follower count, with a rank biased by the user's age group and join
 *   year such that over all users every rank stays equally likely, so the format shares
 *   of follower_count do not move.
 *
 * Folder `lib/source/`: where postings come from: the synthetic dataset (dataset.ts) and the MySQL
 * database the original read them from (mysql_source.ts, mysql_url.ts), both behind
 * `PostingSource`. May import: `lib/shell/`, `lib/deps/`.
 * @module
 */
import { fakerEL, fakerEN, fakerJA, fakerRU } from "../deps/faker_locales.ts";
import type { Faker, LocaleDefinition, Randomizer } from "../deps/faker_locales.ts";
import type { FlagDef } from "../shell/flags.ts";

/** Rows per table in the original database. */
export const DEFAULT_ROWS = 11_153;
/** The original emulator's `random.seed(100)`. */
export const DEFAULT_SEED = 100;

/** `--rows N`, rows of the built-in dataset (seed-db, emulate, demo). */
export const ROWS_FLAG = {
  type: "int",
  help: "rows of the built-in dataset",
  env: "PINPIPE_ROWS",
  default: DEFAULT_ROWS,
  min: 0,
} as const satisfies FlagDef;

/** `--seed N`: the same seed gives the same rows (seed-db, emulate, demo). */
export const SEED_FLAG = {
  type: "int",
  help: "dataset seed: the same seed gives the same rows",
  env: "PINPIPE_SEED",
  default: DEFAULT_SEED,
  min: 0,
} as const satisfies FlagDef;

/** The 13 categories, in alphabetical order (SPEC §1). */
export const CATEGORIES: readonly string[] = [
  "art",
  "beauty",
  "christmas",
  "diy-and-crafts",
  "education",
  "event-planning",
  "finance",
  "home-decor",
  "mens-fashion",
  "quotes",
  "tattoos",
  "travel",
  "vehicles",
];

/** The placeholder strings of the real data, exactly (SPEC §1). */
export const PLACEHOLDERS: {
  title: string;
  description: readonly string[];
  poster_name: string;
  follower_count: string;
  tag_list: string;
  image_src: string;
} = {
  title: "No Title Data Available",
  description: ["No description available Story format", "No description available"],
  poster_name: "User Info Error",
  follower_count: "User Info Error",
  tag_list: "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
  image_src: "Image src error.",
};

/** `is_image_or_video` of a normal row and of a story-format (placeholder) row. */
export const MEDIA_TYPES = { image: "image", story: "multi-video(story page format)" } as const;

/** A `pinterest_data` row, properties in source column order. */
export interface PinRow {
  index: number;
  unique_id: string;
  title: string;
  description: string;
  poster_name: string;
  follower_count: string;
  tag_list: string;
  is_image_or_video: string;
  image_src: string;
  downloaded: number;
  save_location: string;
  category: string;
}

/** A `geolocation_data` row, properties in source column order. */
export interface GeoRow {
  ind: number;
  timestamp: string;
  latitude: number;
  longitude: number;
  country: string;
}

/** A `user_data` row, properties in source column order. */
export interface UserRow {
  ind: number;
  first_name: string;
  last_name: string;
  age: number;
  date_joined: string;
}

/** One posting: the rows with the same key in the three tables. */
export interface Posting {
  key: number;
  pin: PinRow;
  geo: GeoRow;
  user: UserRow;
}

/** A deterministic, lazily generated dataset. */
export interface Dataset {
  readonly rows: number;
  readonly seed: number;
  /** The posting with key `key` (0 <= key < rows); the same object contents on every call. */
  posting(key: number): Posting;
  /** Postings `from` (default 0) up to `to` (default rows, exclusive), in key order, lazily. */
  postings(from?: number, to?: number): Iterable<Posting>;
}

/**
 * Faker's English country list, with the spellings the real data has where faker-js
 * 10.6.0 differs from the (Python) Faker that generated it: `Antarctica (the territory
 * South of 60 deg S)`, `Bouvet Island (Bouvetoya)`, `Cote d'Ivoire`, `Korea`, `Swaziland`.
 */
const COUNTRY_SPELLINGS: Record<string, string> = {
  "Antarctica": "Antarctica (the territory South of 60 deg S)",
  "Bouvet Island": "Bouvet Island (Bouvetoya)",
  "Côte d'Ivoire": "Cote d'Ivoire",
  "Eswatini": "Swaziland",
  "Republic of Korea": "Korea",
  "Democratic People's Republic of Korea": "Korea",
};

/** The countries geo rows draw from (Faker's en list, real-data spellings). */
export const COUNTRIES: readonly string[] = [
  ...new Set(
    (fakerEN.rawDefinitions.location?.country ?? []).map((c) => COUNTRY_SPELLINGS[c] ?? c),
  ),
];

// Shares of the real data (peer-pipelines §1.3). Story rows carry every placeholder,
// so they are the 1.5% of rows whose follower_count is "User Info Error".
const STORY_SHARE = 0.015;
const FOLLOWER_K = 0.74 / (1 - STORY_SHARE);
const FOLLOWER_DIGITS = 0.175 / (1 - STORY_SHARE);
// How strongly the poster's follower rank follows the user's (Gaussian copula
// correlation), and how many age groups one year of joining earlier is worth. Tuned to
// the public runs (peer-pipelines §4.1): medians of about 145k / 45k / 12k / 4k by age
// group (real 130k / 22k / 7k / 3k) and 120k / 19k / 2k by join year (real 160k / 20k / 4k).
const FOLLOWER_RHO = 0.55;
const JOIN_YEAR_WEIGHT = 1.5;
// Individual placeholders on otherwise normal rows.
const TITLE_MISSING = 0.01;
const DESCRIPTION_MISSING = 0.02;
const TAGS_MISSING = 0.01;

// Mildly uneven, so "most popular category" questions have winners.
const CATEGORY_WEIGHTS = [9, 8, 8, 9, 7, 8, 7, 8, 8, 7, 8, 9, 7];
const CATEGORY_CDF = (() => {
  const total = CATEGORY_WEIGHTS.reduce((a, b) => a + b, 0);
  let acc = 0;
  return CATEGORY_WEIGHTS.map((w) => (acc += w) / total);
})();

const USER_POOL = 4096;
const POSTER_POOL = 2048;
const TITLE_POOL = 8192;
const DESCRIPTION_POOL = 8192;
const TAG_POOL = 1024;

// Geo timestamps: 2017-12-01 00:00:00 .. 2022-12-31 23:59:59 UTC (seconds).
const TS_FROM = Date.UTC(2017, 11, 1) / 1000;
const TS_SPAN = Date.UTC(2023, 0, 1) / 1000 - TS_FROM;
// date_joined: 2015-01-01 .. 2017-12-31 23:59:59.
const JOINED_FROM = Date.UTC(2015, 0, 1) / 1000;
const JOINED_SPAN = Date.UTC(2018, 0, 1) / 1000 - JOINED_FROM;
const JOINED_YEARS = [2015, 2016, 2017];
// Ages are uniform in AGE_MIN..AGE_MAX.
const AGE_MIN = 20;
const AGE_MAX = 59;

const HEX = "0123456789abcdef";
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => HEX[i >> 4] + HEX[i & 15]);

/** murmur3's 32-bit finaliser: a cheap, well-mixing hash step. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32: a small, fast generator with good statistical quality, reseeded per key. */
class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  /** Restarts the sequence for (x, y, z). */
  reset(x: number, y: number, z: number): void {
    this.a = mix32(x ^ 0x9e3779b9);
    this.b = mix32(y + 0x7f4a7c15);
    this.c = mix32(z ^ 0x2545f491);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits. */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [0, 1) with 53 bits (Faker's large ranges). */
  float53(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n), n <= 2^32. */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** `n` lowercase hex digits (n even). */
  hex(n: number): string {
    let s = "";
    let w = 0;
    for (let i = 0; i < n; i += 2) {
      if ((i & 7) === 0) w = this.u32();
      s += BYTE_HEX[w & 255];
      w >>>= 8;
    }
    return s;
  }
}

/** Faker's Randomizer on top of Rng, so reseeding per pool entry costs nothing. */
class PoolRandomizer implements Randomizer {
  readonly rng = new Rng();
  // Arrow properties: Faker calls `next` detached from the object.
  next = (): number => this.rng.float53();
  seed = (seed: number | number[]): void => {
    const s = Array.isArray(seed) ? seed : [seed];
    this.rng.reset(s[0] ?? 0, s[1] ?? 0, s[2] ?? 0);
  };
}

/** The Faker instances (one randomizer) the pools draw from. */
interface Fakers {
  en: Faker;
  ru: Faker;
  el: Faker;
  ja: Faker;
  /** Uniform in [0, 1), from the same stream as the fakers. */
  r: () => number;
  /** Uniform integer in [min, max]. */
  int: (min: number, max: number) => number;
}

function cap(s: string): string {
  return s.length ? s[0].toUpperCase() + s.slice(1) : s;
}

function titleCase(s: string): string {
  return s.split(" ").map(cap).join(" ");
}

/** The first element whose cumulative share exceeds `u`. */
function pick<T>(u: number, choices: [number, () => T][]): T {
  let acc = 0;
  for (const [share, make] of choices) {
    acc += share;
    if (u < acc) return make();
  }
  return choices[choices.length - 1][1]();
}

function makeTitle(f: Fakers): string {
  const { en } = f;
  const title = pick(f.r(), [
    [0.2, () => en.commerce.productName()],
    [
      0.18,
      () =>
        `${f.int(5, 50)} ${titleCase(`${en.word.adjective()} ${en.word.noun()}`)} ${
          en.helpers.arrayElement(["Ideas", "Tips", "Inspiration", "Hacks", "Designs"])
        }`,
    ],
    [0.15, () => titleCase(en.company.catchPhrase())],
    [0.12, () => en.book.title()],
    [0.08, () => en.music.songName()],
    [0.07, () => en.food.dish()],
    [0.05, () => en.vehicle.vehicle()],
    [0.06, () => cap(f.ru.lorem.words(f.int(2, 6)))],
    [0.03, () => f.el.company.name()],
    [0.03, () => f.ja.lorem.words(f.int(2, 4))],
    [1, () => cap(en.hacker.phrase())],
  ]);
  return f.r() < 0.08 ? `${title} ${en.internet.emoji()}` : title;
}

function makeDescription(f: Fakers): string {
  const { en } = f;
  let text = pick(f.r(), [
    [0.18, () => en.commerce.productDescription()],
    [0.14, () => cap(en.hacker.phrase())],
    [0.14, () => `${en.company.catchPhrase()}. ${en.commerce.productDescription()}`],
    [
      0.12,
      () =>
        `${en.commerce.productDescription()} ${cap(en.hacker.phrase())} ${
          cap(en.company.catchPhrase())
        }. ${en.lorem.sentences(f.int(1, 3))}`,
    ],
    [0.1, () => cap(en.word.words(f.int(2, 6)))],
    [0.07, () => f.ru.lorem.paragraph(f.int(2, 5))],
    [0.03, () => f.ja.lorem.sentences(f.int(1, 3))],
    [0.03, () => `${f.el.person.fullName()} · ${f.el.company.name()}`],
    [
      0.04,
      () =>
        `${f.int(1, 300) / 10}k Likes, ${
          f.int(3, 900)
        } Comments - ${en.person.fullName()} (@${en.internet.username()}) on Instagram: “${en.lorem.sentence()}”`,
    ],
    [1, () => en.lorem.paragraph(f.int(1, 4))],
  ]);
  if (f.r() < 0.08) text = `${text} ${en.internet.emoji()}`;
  // Pinterest cut long descriptions, leaving "…" and a non-breaking space.
  if (text.length > 120 && f.r() < 0.7) {
    const limit = f.int(90, Math.min(200, text.length - 1));
    const cut = text.lastIndexOf(" ", limit);
    text = `${text.slice(0, cut > 40 ? cut : limit)}\u2026\u00a0`;
  }
  return text;
}

function makeTag(f: Fakers): string {
  const { en } = f;
  return pick(f.r(), [
    [0.35, () => titleCase(`${en.word.adjective()} ${en.word.noun()}`)],
    [0.2, () => cap(en.word.noun())],
    [0.1, () => `${cap(en.color.human())} ${cap(en.word.noun())}`],
    [0.08, () => en.commerce.productName()],
    [0.07, () => `${en.vehicle.manufacturer()} ${cap(en.vehicle.type())}`],
    [0.07, () => `${en.location.city()} Travel`],
    [0.07, () => titleCase(en.food.ingredient())],
    [1, () => cap(en.commerce.department())],
  ]);
}

interface Poster {
  name: string;
  followers: string;
}

/** The follower_count at quantile `q` in [0, 1) of the real mix: digits < k < M. */
function followersAt(q: number): string {
  if (q < FOLLOWER_DIGITS) return `${Math.floor(1000 * (q / FOLLOWER_DIGITS) ** 1.5)}`;
  q -= FOLLOWER_DIGITS;
  if (q < FOLLOWER_K) {
    // Log-uniform 1k..999k: the real medians (3k..160k) sit inside this one band.
    return `${Math.max(1, Math.floor(1000 ** (q / FOLLOWER_K)))}k`;
  }
  const r = (q - FOLLOWER_K) / (1 - FOLLOWER_DIGITS - FOLLOWER_K);
  return `${1 + Math.floor(14 * r ** 2.5)}M`;
}

/** Poster `i` of the pool: a random name, and the `i`-th smallest follower count. */
function makePoster(f: Fakers, i: number): Poster {
  const { en } = f;
  const name = pick(f.r(), [
    [0.3, () => en.person.fullName()],
    [0.12, () => en.company.name()],
    [0.07, () => `${en.company.name()} | ${titleCase(en.company.catchPhrase())}`],
    [0.1, () => `${cap(en.word.adjective())} ${en.person.firstName()} ${en.internet.emoji()}`],
    [0.08, () => en.internet.username()],
    [0.06, () => f.ru.person.fullName()],
    [0.05, () => f.el.person.fullName()],
    [0.03, () => f.ja.person.fullName()],
    [0.07, () => `${en.person.fullName()} ${en.internet.emoji()}`],
    [0.05, () => `${en.person.firstName()}'s ${cap(en.word.noun())} Blog`],
    [1, () => `${en.internet.username()} ${en.internet.emoji()}${en.internet.emoji()}`],
  ]);
  return { name, followers: followersAt((i + f.r()) / POSTER_POOL) };
}

// Acklam's rational approximation of the inverse normal CDF: central numerator and
// denominator, tail numerator and denominator, highest power first.
const ACKLAM_A = [
  -3.969683028665376e1,
  2.209460984245205e2,
  -2.759285104469687e2,
  1.38357751867269e2,
  -3.066479806614716e1,
  2.506628277459239,
];
const ACKLAM_B = [
  -5.447609879822406e1,
  1.615858368580409e2,
  -1.556989798598866e2,
  6.680131188771972e1,
  -1.328068155288572e1,
  1,
];
const ACKLAM_C = [
  -7.784894002430293e-3,
  -3.223964580411365e-1,
  -2.400758277161838,
  -2.549732539343734,
  4.374664141464968,
  2.938163982698783,
];
const ACKLAM_D = [
  7.784695709041462e-3,
  3.224671290700398e-1,
  2.445134137142996,
  3.754408661907416,
  1,
];

/** The polynomial with coefficients `c` (highest power first) at `x`. */
function poly(c: readonly number[], x: number): number {
  let y = c[0];
  for (let i = 1; i < c.length; i++) y = y * x + c[i];
  return y;
}

/** Inverse of the standard normal CDF (Acklam, relative error < 1.2e-9), p in (0, 1). */
function normalQuantile(p: number): number {
  if (p < 0.02425 || p > 0.97575) {
    const q = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p));
    const x = poly(ACKLAM_C, q) / poly(ACKLAM_D, q);
    return p < 0.5 ? x : -x;
  }
  const q = p - 0.5;
  return (q * poly(ACKLAM_A, q * q)) / poly(ACKLAM_B, q * q);
}

/** The standard normal CDF (Abramowitz & Stegun 26.2.17, error < 7.5e-8). */
function normalCdf(x: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const y = 0.3989422804014327 * Math.exp(-0.5 * x * x) * t *
    (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return x > 0 ? 1 - y : y;
}

/**
 * The users' follower bands: for each (age group, join year) cell, the interval of
 * [0, 1) it holds when all users are ordered from the most followed cell to the least
 * (younger and earlier-joined first), each cell as wide as its share of users. A user at
 * a uniform point of their cell's interval is uniform over all users, which is what lets
 * the poster rank follow the user without moving the overall follower mix.
 */
const FOLLOWER_BANDS: readonly (readonly { from: number; width: number }[])[] = (() => {
  const ages = AGE_MAX - AGE_MIN + 1;
  const ageShare = [0, 0, 0, 0];
  for (let a = AGE_MIN; a <= AGE_MAX; a++) ageShare[ageGroupIndex(a)] += 1 / ages;
  const yearShare = JOINED_YEARS.map((y) =>
    (Date.UTC(y + 1, 0, 1) - Date.UTC(y, 0, 1)) / 1000 / JOINED_SPAN
  );
  const cells = ageShare.flatMap((as, a) =>
    yearShare.map((ys, y) => ({ a, y, share: as * ys, score: a + JOIN_YEAR_WEIGHT * y }))
  );
  cells.sort((x, z) => z.score - x.score);
  const bands = ageShare.map(() => yearShare.map(() => ({ from: 0, width: 0 })));
  let from = 0;
  for (const c of cells) {
    bands[c.a][c.y] = { from, width: c.share };
    from += c.share;
  }
  return bands;
})();

/** 0 for 18-24 (and younger), 1 for 25-35, 2 for 36-50, 3 for +50. */
function ageGroupIndex(age: number): number {
  return age <= 24 ? 0 : age <= 35 ? 1 : age <= 50 ? 2 : 3;
}

interface Person {
  first_name: string;
  last_name: string;
  age: number;
  date_joined: string;
  latitude: number;
  longitude: number;
  country: string;
  /** The person's follower band (FOLLOWER_BANDS). */
  bandFrom: number;
  bandWidth: number;
}

function makePerson(f: Fakers): Person {
  const { en } = f;
  const first_name = en.person.firstName();
  const last_name = en.person.lastName();
  const age = f.int(AGE_MIN, AGE_MAX);
  const date_joined = fmtDateTime(JOINED_FROM + Math.floor(f.r() * JOINED_SPAN));
  // Random, unrelated to the country, crowded toward -90/-180 like the sample rows,
  // stored as FLOAT (6 significant digits) like the source table shows them.
  const latitude = Number((-90 + 180 * f.r() ** 3).toPrecision(6));
  const longitude = Number((-180 + 360 * f.r() ** 2).toPrecision(6));
  const country = en.helpers.arrayElement(COUNTRIES);
  const band =
    FOLLOWER_BANDS[ageGroupIndex(age)][JOINED_YEARS.indexOf(Number(date_joined.slice(0, 4)))];
  return {
    first_name,
    last_name,
    age,
    date_joined,
    latitude,
    longitude,
    country,
    bandFrom: band.from,
    bandWidth: band.width,
  };
}

/** `YYYY-MM-DD HH:MM:SS` for epoch seconds (UTC). */
function fmtDateTime(sec: number): string {
  const iso = new Date(sec * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Entries generated on first use from (seed, pool, index), then kept. */
class Pool<T> {
  private readonly cache: (T | undefined)[];
  constructor(
    private readonly size: number,
    private readonly id: number,
    private readonly seed: number,
    private readonly fakers: Fakers & { randomizer: PoolRandomizer },
    private readonly make: (f: Fakers, i: number) => T,
  ) {
    this.cache = new Array(size);
  }
  get(i: number): T {
    const hit = this.cache[i];
    if (hit !== undefined) return hit;
    this.fakers.randomizer.seed([this.seed, this.id, i]);
    return (this.cache[i] = this.make(this.fakers, i));
  }
  get length(): number {
    return this.size;
  }
}

// The locale builds export instances only; their class makes new ones with our randomizer.
const FakerClass = fakerEN.constructor as new (
  opts: { locale: LocaleDefinition; randomizer: Randomizer },
) => Faker;

function createFakers(): Fakers & { randomizer: PoolRandomizer } {
  const randomizer = new PoolRandomizer();
  const r = () => randomizer.next();
  // rawDefinitions of a locale build are already merged with en and base.
  const make = (f: Faker) => new FakerClass({ locale: f.rawDefinitions, randomizer });
  return {
    randomizer,
    en: make(fakerEN),
    ru: make(fakerRU),
    el: make(fakerEL),
    ja: make(fakerJA),
    r,
    int: (min, max) => min + Math.floor(r() * (max - min + 1)),
  };
}

class SyntheticDataset implements Dataset {
  private readonly rng = new Rng();
  private readonly seedHash: number;
  private readonly people: Pool<Person>;
  private readonly posters: Pool<Poster>;
  private readonly titles: Pool<string>;
  private readonly descriptions: Pool<string>;
  private readonly tags: Pool<string>;

  constructor(readonly rows: number, readonly seed: number) {
    this.seedHash = mix32(Math.floor(seed / 4294967296) ^ mix32(seed >>> 0));
    const f = createFakers();
    const s = this.seedHash;
    this.people = new Pool(USER_POOL, 1, s, f, makePerson);
    this.posters = new Pool(POSTER_POOL, 2, s, f, makePoster);
    this.titles = new Pool(TITLE_POOL, 3, s, f, makeTitle);
    this.descriptions = new Pool(DESCRIPTION_POOL, 4, s, f, makeDescription);
    this.tags = new Pool(TAG_POOL, 5, s, f, makeTag);
  }

  posting(key: number): Posting {
    if (!Number.isInteger(key) || key < 0 || key >= this.rows) {
      throw new RangeError(`Cannot read posting ${key}: the dataset has keys 0..${this.rows - 1}`);
    }
    const rng = this.rng;
    rng.reset(this.seedHash, key, Math.floor(key / 4294967296));
    const u = rng.float();
    let c = 0;
    while (u >= CATEGORY_CDF[c]) c++;
    const category = CATEGORIES[c];
    const h = rng.hex(32);
    const unique_id = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${
      HEX[8 | (rng.u32() & 3)]
    }${h.slice(17, 20)}-${h.slice(20, 32)}`;
    const story = rng.float() < STORY_SHARE;
    // The user first: the poster's follower count follows them.
    const person = this.people.get(rng.int(USER_POOL));
    let pin: PinRow;
    if (story) {
      pin = {
        index: key,
        unique_id,
        title: PLACEHOLDERS.title,
        description: PLACEHOLDERS.description[0],
        poster_name: PLACEHOLDERS.poster_name,
        follower_count: PLACEHOLDERS.follower_count,
        tag_list: PLACEHOLDERS.tag_list,
        is_image_or_video: MEDIA_TYPES.story,
        image_src: PLACEHOLDERS.image_src,
        downloaded: 0,
        save_location: `Local save in /data/${category}`,
        category,
      };
    } else {
      const poster = this.posters.get(this.posterRank(person));
      const title = rng.float() < TITLE_MISSING
        ? PLACEHOLDERS.title
        : this.titles.get(rng.int(TITLE_POOL));
      const description = rng.float() < DESCRIPTION_MISSING
        ? PLACEHOLDERS.description[1]
        : this.descriptions.get(rng.int(DESCRIPTION_POOL));
      let tag_list: string;
      if (rng.float() < TAGS_MISSING) {
        tag_list = PLACEHOLDERS.tag_list;
      } else {
        tag_list = this.tags.get(rng.int(TAG_POOL));
        for (let n = 2 + rng.int(8); n > 0; n--) tag_list += `,${this.tags.get(rng.int(TAG_POOL))}`;
      }
      const img = rng.hex(32);
      const ext = rng.float() < 0.85 ? "jpg" : "png";
      pin = {
        index: key,
        unique_id,
        title,
        description,
        poster_name: poster.name,
        follower_count: poster.followers,
        tag_list,
        is_image_or_video: MEDIA_TYPES.image,
        image_src: `https://i.pinimg.com/originals/${img.slice(0, 2)}/${img.slice(2, 4)}/${
          img.slice(4, 6)
        }/${img}.${ext}`,
        downloaded: 1,
        save_location: `Local save in /data/${category}`,
        category,
      };
    }
    const geo: GeoRow = {
      ind: key,
      timestamp: fmtDateTime(TS_FROM + rng.int(TS_SPAN)),
      latitude: person.latitude,
      longitude: person.longitude,
      country: person.country,
    };
    const user: UserRow = {
      ind: key,
      first_name: person.first_name,
      last_name: person.last_name,
      age: person.age,
      date_joined: person.date_joined,
    };
    return { key, pin, geo, user };
  }

  /**
   * A poster pool index for `person`'s posting: the person's point in the ordering of all
   * users (uniform in their band) and independent noise, mixed by a Gaussian copula, so
   * the rank is uniform over all postings and correlates FOLLOWER_RHO with the person's.
   */
  private posterRank(person: Person): number {
    const rng = this.rng;
    // (u32 + 0.5) / 2^32 is strictly inside (0, 1), where normalQuantile is finite; so is
    // a point of a band, the bands tiling [0, 1) (clamped against rounding all the same).
    const v = person.bandFrom + person.bandWidth * ((rng.u32() + 0.5) / 4294967296);
    const user = normalQuantile(Math.min(v, 1 - 2 ** -40));
    const noise = normalQuantile((rng.u32() + 0.5) / 4294967296);
    const q = normalCdf(FOLLOWER_RHO * user + Math.sqrt(1 - FOLLOWER_RHO ** 2) * noise);
    return Math.min(POSTER_POOL - 1, Math.floor(q * POSTER_POOL));
  }

  *postings(from = 0, to = this.rows): Iterable<Posting> {
    const end = Math.min(to, this.rows);
    for (let k = Math.max(0, from); k < end; k++) yield this.posting(k);
  }
}

/** A dataset of `rows` postings (default 11,153) from `seed` (default 100). */
export function createDataset(opts: { rows?: number; seed?: number } = {}): Dataset {
  const rows = opts.rows ?? DEFAULT_ROWS;
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(rows) || rows < 0) {
    throw new RangeError(`Cannot create a dataset of ${rows} rows: expected a whole number >= 0`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`Cannot create a dataset with seed ${seed}: expected a whole number >= 0`);
  }
  return new SyntheticDataset(rows, seed);
}

/** Where postings come from. */
export interface PostingSource {
  /** Keys run 0..rows-1. */
  readonly rows: number;
  /** How to show the source to a person (no credentials). */
  readonly name: string;
  /** The postings for `keys`, in that order; keys the source does not have are left out. */
  read(keys: number[]): Promise<Posting[]> | Posting[];
  close?(): Promise<void>;
}
