/**
 * The small hand-made lake of the transform tests (unit and stage layers): its postings, geo
 * and user records, written as the sink writes them by writeSmallLake(). The eight answers
 * expected of it are EXPECTED_ANSWERS below; its cleaned tables are written out in
 * tests/unit/transform_small_test.ts.
 * @module
 */
import type { Row } from "../lib/shell/table_format.ts";
import { join } from "node:path";
import { FileLake, objectKey } from "../lib/lake/lake.ts";

export const STORY = {
  title: "No Title Data Available",
  description: "No description available Story format",
  poster_name: "User Info Error",
  follower_count: "User Info Error",
  tag_list: "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
  is_image_or_video: "multi-video(story page format)",
  image_src: "Image src error.",
  downloaded: 0,
};

export const uuid = (k: number) => `00000000-0000-4000-8000-${String(k).padStart(12, "0")}`;
export const img = (k: number) =>
  `https://i.pinimg.com/originals/aa/bb/cc/${String(k).padStart(32, "0")}.jpg`;

export function pin(
  k: number | string,
  category: string,
  follower_count: unknown,
  poster_name: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const n = Number(k);
  return {
    index: k,
    unique_id: uuid(n),
    title: `Title ${n}`,
    description: `Description ${n}`,
    poster_name,
    follower_count,
    tag_list: "Tag A,Tag B",
    is_image_or_video: "image",
    image_src: img(n),
    downloaded: 1,
    save_location: `Local save in /data/${category}`,
    category,
    ...extra,
  };
}

export const geo = (
  ind: number,
  timestamp: string,
  country: string,
  lat: unknown = -10.5,
  lon: unknown = 20.25,
) => ({
  ind,
  timestamp,
  latitude: lat,
  longitude: lon,
  country,
});

export const user = (
  ind: number,
  first: string,
  last: string,
  age: unknown,
  date_joined: string,
) => ({
  ind,
  first_name: first,
  last_name: last,
  age,
  date_joined,
});

// --- the postings ----------------------------------------------------------------------
export const P = {
  0: pin(0, "mens-fashion", STORY.follower_count, STORY.poster_name, STORY),
  1: pin(1, "art", "26k", "Art Lover"),
  2: pin("2", "art", "437", "Sketchy", { title: "Ωραία τέχνη ✨", downloaded: "1" }),
  3: pin(3, "beauty", "5M", "Glow Up", { description: "Made long enough so that you\u2026\u00a0" }),
  4: pin(4, "beauty", "1.5k", "Glow Up"),
  5: pin(5, "travel", "6M", "Wander"),
  6: pin(6, "vehicles", "2.5M", "Car Fan"),
  7: pin(7, "travel", "0", "Nobody"),
  8: pin(8, "quotes", 12, "Quote Bot"),
  9: pin(9, "quotes", "User Info Error", "Quote Bot 2"),
  10: pin(10, "art", "12x", "Weird"),
  11: pin(11, "beauty", "6M", "Big Star"),
  12: pin(12, "vehicles", "6000k", "Twin Star"),
  13: pin(13, "travel", "999", "Wander"),
  15: pin(15, "art", "3k", "Lonely", {
    title: "",
    description: "No description available",
    tag_list: "",
  }),
} as Record<number, Record<string, unknown>>;

export const G = {
  0: geo(0, "2020-08-28 03:52:47", "Albania", -89.9787, -173.293),
  1: geo(1, "2018-01-05 10:00:00", "Albania"),
  2: geo(2, "2019-03-01T12:00:00", "Albania"),
  3: geo(3, "2019-06-01 00:00:00", "Albania"),
  4: geo(4, "2020-01-01 00:00:00", "Albania"),
  5: geo(5, "2021-05-05T05:05:05", "Bhutan"),
  6: geo(6, "2021-07-07 07:07:07", "Bhutan", "12.5", "-7.25"),
  7: geo(7, "2022-12-31 23:59:59", "Bhutan"),
  8: geo(8, "2017-12-30 13:05:49", "Cote d'Ivoire"),
  9: geo(9, "2023-01-01 00:00:00", "Cote d'Ivoire"),
  10: geo(10, "2018-02-02 02:02:02", "Cote d'Ivoire"),
  11: geo(11, "2022-03-03 03:03:03", "Angola"),
  12: geo(12, "2020-04-04 04:04:04", "Angola"),
  13: geo(13, "2021-09-09 09:09:09", "Bhutan"),
  14: geo(14, "not a date", "Bhutan"),
} as Record<number, Record<string, unknown>>;

export const U = {
  0: user(0, "Abigail", "Ali", 20, "2015-10-24 11:23:51"),
  1: user(1, "Ben", "Boundary", 18, "2015-01-01 00:00:00"),
  2: user(2, "Cleo", "Same", 24, "2016-02-02 00:00:00"),
  3: user(3, "Dan", "Quarter", 25, "2016-03-03 00:00:00"),
  4: user(4, "Eve", "Edge", 35, "2017-04-04T00:00:00"),
  5: user(5, "Finn", "Start", 36, "2017-05-05 00:00:00"),
  6: user(6, "Gus", "Fifty", 50, "2015-06-06 00:00:00"),
  7: user(7, "Hal", "Over", "51", "2016-07-07 00:00:00"),
  8: user(8, "Ida", "Young", 17, "2014-05-05 00:00:00"),
  9: user(9, "Jo", "Late", 59, "2021-01-01 00:00:00"),
  10: user(10, "Kim", "Mid", 40, "2015-08-08 00:00:00"),
  11: user(11, "Lou", "Thirty", 30, "2016-09-09 00:00:00"),
  12: user(12, "Max", "Senior", 59, "2017-10-10 00:00:00"),
  13: user(13, "Cleo", "Same", 24, "2016-02-02 00:00:00"),
  14: user(14, "Ned", "NoPin", 45, "2016-11-11 00:00:00"),
} as Record<number, Record<string, unknown>>;

export const J = (v: unknown) => JSON.stringify(v);
export const reordered = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).reverse());

/** Objects per topic, in offset order: each a list of lines. */
export const OBJECTS: Record<string, string[][]> = {
  pin: [
    [J(P[0])],
    [J(P[1])],
    [J(P[2]), `{"index": 99, "title": "broken`, J(P[3]), J(P[4])],
    [J(P[5]), J(P[6]), J(P[7]), J(P[8]), J(P[9])],
    [J(P[10])],
    [J(P[11]), J(P[12]), J(P[13]), J(P[15])],
    [J(P[1])], // a replay
  ],
  geo: [
    [J(G[0]), J(G[1]), J(G[2])],
    [J(G[3])],
    [J(G[4])],
    [J(G[5]), J(G[6]), `[1, 2, 3]`, J(G[7])],
    [J(G[8]), J(G[9]), J(G[10]), J(G[11]), J(G[12]), J(G[13]), J(G[14])],
    [J(G[1]), J(reordered(G[5]))], // replays, one with its keys in another order
  ],
  user: [
    [J(U[0])],
    [J(U[1])],
    [J(U[2])],
    [J(U[3])],
    [J(U[4])],
    [
      J(U[5]),
      J(U[6]),
      J(U[7]),
      J(U[8]),
      J(U[9]),
      J(U[10]),
      `{"first_name": "No", "last_name": "Key", "age": 30}`,
      J(U[11]),
    ],
    [J(U[12]), J(U[13]), J(U[14])], // written with CRLF line ends
    [J(U[1])], // a replay
  ],
};

/** Writes OBJECTS as the sink would: keys from offsets, one JSON value per line. */
export async function writeSmallLake(root: string, prefix = "pinpipe"): Promise<void> {
  const lake = new FileLake(root);
  for (const [table, objects] of Object.entries(OBJECTS)) {
    let offset = 0;
    for (const lines of objects) {
      const eol = table === "user" && lines.length === 3 ? "\r\n" : "\n";
      const body = new TextEncoder().encode(lines.map((l) => l + eol).join(""));
      await lake.put(objectKey(`${prefix}.${table}`, 0, offset), body);
      offset += lines.length;
    }
  }
  // Not part of the layout: must be ignored.
  await Deno.writeTextFile(join(root, "topics", `${prefix}.pin`, "README.txt"), "not a record\n");
}

/** The eight answers, worked out by hand from the postings above. */
export const EXPECTED_ANSWERS: Record<string, Row[]> = {
  // Albania: art 2 (1, 2) ties beauty 2 (3, 4); Angola: beauty 1 ties vehicles 1;
  // Bhutan: travel 3 (5, 7, 13); Cote d'Ivoire: quotes 2 (8, 9; Q1 has no year window).
  q1: [
    { country: "Albania", category: "art", category_count: 2, tied: 2 },
    { country: "Albania", category: "beauty", category_count: 2, tied: 2 },
    { country: "Angola", category: "beauty", category_count: 1, tied: 2 },
    { country: "Angola", category: "vehicles", category_count: 1, tied: 2 },
    { country: "Bhutan", category: "travel", category_count: 3, tied: 1 },
    { country: "Cote d'Ivoire", category: "quotes", category_count: 2, tied: 1 },
  ],
  // 2017 (8) and 2023 (9) are outside the window.
  q2: [
    { post_year: 2018, category: "art", category_count: 2, tied: 1 },
    { post_year: 2019, category: "art", category_count: 1, tied: 2 },
    { post_year: 2019, category: "beauty", category_count: 1, tied: 2 },
    { post_year: 2020, category: "beauty", category_count: 1, tied: 3 },
    { post_year: 2020, category: "mens-fashion", category_count: 1, tied: 3 },
    { post_year: 2020, category: "vehicles", category_count: 1, tied: 3 },
    { post_year: 2021, category: "travel", category_count: 2, tied: 1 },
    { post_year: 2022, category: "beauty", category_count: 1, tied: 2 },
    { post_year: 2022, category: "travel", category_count: 1, tied: 2 },
  ],
  // Glow Up counts once with its largest count; Angola's two 6M posters tie; NULL
  // follower counts (9, 10) and the story row's NULL poster (0) are left out.
  q3a: [
    { country: "Albania", poster_name: "Glow Up", follower_count: 5000000, tied: 1 },
    { country: "Angola", poster_name: "Big Star", follower_count: 6000000, tied: 2 },
    { country: "Angola", poster_name: "Twin Star", follower_count: 6000000, tied: 2 },
    { country: "Bhutan", poster_name: "Wander", follower_count: 6000000, tied: 1 },
    { country: "Cote d'Ivoire", poster_name: "Quote Bot", follower_count: 12, tied: 1 },
  ],
  // 6M in Angola and Bhutan: SPEC's one row is the first country by name, the tie follows.
  q3b: [
    { country: "Angola", follower_count: 6000000, tied: 2 },
    { country: "Bhutan", follower_count: 6000000, tied: 2 },
  ],
  // 18-24: 0, 1, 2, 13; 25-35: 3, 4, 11; 36-50: 5, 6, 10; +50: 7, 9, 12; 8 (17) in none.
  q4: [
    { age_group: "18-24", category: "art", category_count: 2, tied: 1 },
    { age_group: "25-35", category: "beauty", category_count: 3, tied: 1 },
    { age_group: "36-50", category: "art", category_count: 1, tied: 3 },
    { age_group: "36-50", category: "travel", category_count: 1, tied: 3 },
    { age_group: "36-50", category: "vehicles", category_count: 1, tied: 3 },
    { age_group: "+50", category: "quotes", category_count: 1, tied: 3 },
    { age_group: "+50", category: "travel", category_count: 1, tied: 3 },
    { age_group: "+50", category: "vehicles", category_count: 1, tied: 3 },
  ],
  // 18-24: 437, 999, 26000; 25-35: 1500, 5M, 6M; 36-50: 2.5M, 6M; +50: 0, 6M.
  q5: [
    { age_group: "18-24", median_follower_count: 999 },
    { age_group: "25-35", median_follower_count: 5000000 },
    { age_group: "36-50", median_follower_count: 4250000 },
    { age_group: "+50", median_follower_count: 3000000 },
  ],
  // 2015: 0, 1, 6, 10; 2016: 2 (= 13), 3, 7, 11 (14 has no pin); 2017: 4, 5, 12.
  q6: [
    { post_year: 2015, number_users_joined: 4 },
    { post_year: 2016, number_users_joined: 4 },
    { post_year: 2017, number_users_joined: 3 },
  ],
  // 2015: 26000, 2.5M; 2016: 0, 437, 999, 5M, 6M; 2017: 1500, 6M, 6M.
  q7: [
    { post_year: 2015, median_follower_count: 1263000 },
    { post_year: 2016, median_follower_count: 999 },
    { post_year: 2017, median_follower_count: 6000000 },
  ],
  q8: [
    { age_group: "18-24", post_year: 2015, median_follower_count: 26000 },
    { age_group: "18-24", post_year: 2016, median_follower_count: 718 },
    { age_group: "25-35", post_year: 2016, median_follower_count: 5500000 },
    { age_group: "25-35", post_year: 2017, median_follower_count: 1500 },
    { age_group: "36-50", post_year: 2015, median_follower_count: 2500000 },
    { age_group: "36-50", post_year: 2017, median_follower_count: 6000000 },
    { age_group: "+50", post_year: 2016, median_follower_count: 0 },
    { age_group: "+50", post_year: 2017, median_follower_count: 6000000 },
  ],
};
