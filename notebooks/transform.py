# Databricks notebook source
# MAGIC %md
# MAGIC # pinpipe transform: clean the lake and answer the eight questions
# MAGIC
# MAGIC The Spark twin of `deno task transform`. It reads the lake the S3 sink connector (or
# MAGIC pinpipe's own sink) wrote — `topics/<prefix>.{pin,geo,user}/partition=<p>/*.json`, one
# MAGIC JSON value per line — cleans it exactly as SPEC §4 and §4.1 say and answers the eight
# MAGIC questions of SPEC §5. The cleaning and the questions are **not written here**: this
# MAGIC notebook runs the same `.sql` files as the local task (`sql/clean_*.sql`, `sql/pin_user.sql`,
# MAGIC `sql/q*.sql`), read from the repository folder, so the two engines cannot drift apart. Only
# MAGIC what the engines do differently lives here: reading the objects into lines, setting
# MAGIC malformed lines aside, reading array lines as rows and dropping exact duplicates — the
# MAGIC same rules as `lib/analytics/clean.ts`, and the test suite runs both over the same lakes and
# MAGIC compares every cell.
# MAGIC
# MAGIC **Runs on any Spark 3.5**: Databricks (Runtime 15.4 LTS or later, classic, shared or
# MAGIC serverless compute), EMR, Dataproc or a laptop. Nothing Databricks-only is on its path:
# MAGIC `dbutils` and `display` are used when present. Outside a notebook it is a plain script:
# MAGIC
# MAGIC ```
# MAGIC spark-submit --master 'local[2]' notebooks/transform.py --lake /path/to/lake --out /tmp/out
# MAGIC ```
# MAGIC
# MAGIC **Read access** to the bucket comes from a Unity Catalog external location or a cluster
# MAGIC instance profile. The old way — mounting the bucket with an access key — is only a
# MAGIC fallback: see the `mount_lake` notebook beside this one, then set `lake` to `dbfs:/mnt/<mount>`.
# MAGIC
# MAGIC **Where the SQL comes from**: the `sql` parameter, else `../sql` beside this notebook (the
# MAGIC repository checked out in Databricks Repos / Git folders, or this file run by spark-submit),
# MAGIC else `sql` beside it (a copy uploaded next to the notebook, e.g. `/Workspace/Shared/pinpipe/sql`).
# MAGIC
# MAGIC **Parameters** (widgets in a notebook, `--flags` under spark-submit; the Airflow DAG sets
# MAGIC `prefix`, `lake` and `run_date`):
# MAGIC - `lake`: `s3://bucket[/prefix]`, `dbfs:/mnt/…` or a local path; default: the Spark conf `spark.pinpipe.lake`
# MAGIC - `prefix`: topic prefix (topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`), default `pinpipe`
# MAGIC - `out`: where to write the cleaned tables (Parquet), the answers (CSV), the quarantine (JSON
# MAGIC   lines) and a summary (JSON); empty: only display them
# MAGIC - `sql`: the folder holding the shared SQL files (empty: found as above)
# MAGIC - `allow_empty`: `true` to write empty answers when the lake holds no objects for the prefix
# MAGIC   (otherwise the previous output is kept and nothing is written)
# MAGIC - `run_date`: the DAG's logical date, shown only
# MAGIC
# MAGIC A topic with no objects yet reads as empty (the run goes on); a run in which every line was
# MAGIC malformed fails, writing nothing.

# COMMAND ----------

PARAMETERS = ["lake", "prefix", "out", "sql", "allow_empty", "run_date"]

try:
    dbutils  # noqa: F821 -- Databricks (or a stand-in) gives the parameters as widgets
    HAVE_DBUTILS = True
except NameError:
    HAVE_DBUTILS = False

if HAVE_DBUTILS:
    dbutils.widgets.text("lake", "", "Lake: s3://bucket[/prefix]")
    dbutils.widgets.text("prefix", "pinpipe", "Topic prefix")
    dbutils.widgets.text("out", "", "Output folder (empty: display only)")
    dbutils.widgets.text("sql", "", "Shared SQL folder (empty: ../sql)")
    dbutils.widgets.text("allow_empty", "false", "Write empty answers for an empty lake")
    dbutils.widgets.text("run_date", "", "Run date (from the DAG)")
    PARAMS = {name: dbutils.widgets.get(name) for name in PARAMETERS}
else:
    import argparse

    _parser = argparse.ArgumentParser(
        description="Clean the pinpipe lake and answer the eight questions with Spark.")
    _parser.add_argument("--lake", default="", help="s3://bucket[/prefix], dbfs:/… or a path")
    _parser.add_argument("--prefix", default="pinpipe", help="topic prefix (default pinpipe)")
    _parser.add_argument("--out", default="", help="output folder (empty: display only)")
    _parser.add_argument("--sql", default="", help="the shared SQL folder (default: ../sql)")
    _parser.add_argument("--allow-empty", dest="allow_empty", action="store_const",
                         const="true", default="false",
                         help="write empty answers when the lake holds no objects")
    _parser.add_argument("--run-date", dest="run_date", default="", help="shown only")
    PARAMS = vars(_parser.parse_args())

# COMMAND ----------

import json
import os
import re

from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

try:
    spark  # noqa: F821 -- a Databricks notebook has its session
except NameError:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("pinpipe-transform").getOrCreate()

try:
    display  # noqa: F821 -- Databricks' table view
except NameError:
    def display(df):
        """Prints a DataFrame as a table (outside Databricks)."""
        df.show(50, truncate=False)

# The three tables, their source columns in source order and their keys (SPEC §1).
SOURCE_COLUMNS = {
    "pin": [
        "index", "unique_id", "title", "description", "poster_name", "follower_count",
        "tag_list", "is_image_or_video", "image_src", "downloaded", "save_location", "category",
    ],
    "geo": ["ind", "timestamp", "latitude", "longitude", "country"],
    "user": ["ind", "first_name", "last_name", "age", "date_joined"],
}
KEY_COLUMN = {"pin": "index", "geo": "ind", "user": "ind"}
# Columns read as an integer where a minus sign counts only in a JSON number (SPEC §4.1: -5 is
# -5, "-5" is not a string of digits): the raw table gives the shared SQL `<name>_signed`, true
# when the value is a JSON number written with a minus. Copies equal as text are one record,
# signed when any copy was (as lib/analytics/clean.ts SIGNED_COLUMNS).
SIGNED_COLUMNS = {"pin": [], "geo": [], "user": ["age"]}

# The shared SQL this notebook runs: the same files, in the same order, as lib/analytics/clean.ts and
# lib/analytics/questions.ts (tests/unit/notebooks_test.ts checks the lists agree). No helper functions are
# defined for Spark: the shared SQL is plain Spark SQL.
CLEANING_FILES = {"pin": "clean_pin.sql", "geo": "clean_geo.sql", "user": "clean_user.sql"}
VIEW_FILES = {"pin_user": "pin_user.sql"}
QUESTION_FILES = [
    ("q1", "q1.sql", ["country", "category", "category_count", "tied"]),
    ("q2", "q2.sql", ["post_year", "category", "category_count", "tied"]),
    ("q3a", "q3a.sql", ["country", "poster_name", "follower_count", "tied"]),
    ("q3b", "q3b.sql", ["country", "follower_count", "tied"]),
    ("q4", "q4.sql", ["age_group", "category", "category_count", "tied"]),
    ("q5", "q5.sql", ["age_group", "median_follower_count"]),
    ("q6", "q6.sql", ["post_year", "number_users_joined"]),
    ("q7", "q7.sql", ["post_year", "median_follower_count"]),
    ("q8", "q8.sql", ["age_group", "post_year", "median_follower_count"]),
]

# Values cleaning may turn into NULL, counted per column (placeholders, empty strings, bad
# values); the same names in the raw and the cleaned tables.
NULLABLE_COLUMNS = {
    "pin": ["unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
            "is_image_or_video", "image_src", "save_location", "category"],
    "geo": ["country", "timestamp"],
    "user": ["age", "date_joined"],
}

# SPEC §4.1, as lib/analytics/clean.ts reads it: the same limits and the same reasons.
MAX_LINE_BYTES = 16 * 1024 * 1024
QUARANTINE_TEXT_CHARS = 10000
REASON_UTF8 = "not valid UTF-8"
REASON_TOO_LONG = "longer than 16 MiB"
REASON_JSON = "not valid JSON"
REASON_NOT_OBJECT = "not a JSON object"
REASON_BAD_ARRAY = "a JSON array holding something other than objects"
REASON_TWICE = "a field appears twice"

# Spark's JSON parser is lenient by default (NaN, Infinity, single quotes); JSON is not (nor
# are leading zeros, off by default, set here so that no one turns them on: 007 is not JSON).
JSON_OPTIONS = {"allowNonNumericNumbers": "false", "allowSingleQuotes": "false",
                "allowNumericLeadingZeros": "false"}
# Spark's parser also stops after the first value of a line, so a line is checked as the
# first element of an array ending in this string: '{"a":1} junk' is then not JSON.
END_MARK = "\u0000pinpipe-end"

# A number is read as written in the line, never re-printed by a parser (SPEC §4.1): Spark's
# JSON reader gives a number field as a re-printed double (12345678.5 as 1.23456785E7), so a
# line that may hold, outside its strings, a fraction, an exponent or a minus (REWRITE_IF; a
# quick search that may also hit inside a string) is rewritten first: each number N becomes the
# string "\u0001N" and each string (names too) gets a \u0001 at its end, so no string can pass
# for a number. The fields are then read as strings and untagged. A line the search misses
# holds only unsigned integers, which the reader gives as written. The same rewrite as
# lib/analytics/clean.ts (JSON_NUMBER is a valid JSON number only, so 1.5.5 stays invalid).
TAG = "\u0001"
REWRITE_IF = r"[:,\[][ \t\r\n]*(-|[0-9]+[.eE])"
JSON_NUMBER = "-?(?:0|[1-9][0-9]*)(?:[.][0-9]+)?(?:[eE][+-]?[0-9]+)?"
# Possessive loops: Java's regular expressions recurse on a repeated alternation.
REWRITE_PATTERN = r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"|(' + JSON_NUMBER + ")"
REWRITE_WITH = '"$1\\\\u0001$2"'  # Java's replacement: a backslash is written \\

# Timestamps in the lake carry no zone (or an offset the shared SQL converts): UTC throughout.
spark.conf.set("spark.sql.session.timeZone", "UTC")

# COMMAND ----------


def find_sql_dir(given):
    """The folder of the shared SQL files: the parameter, else ../sql or sql beside this notebook."""
    candidates = [given] if given else []
    if "__file__" in globals():  # spark-submit, or an exec of this file
        here = os.path.dirname(os.path.abspath(__file__))
        candidates += [os.path.join(here, "..", "sql"), os.path.join(here, "sql")]
    if HAVE_DBUTILS:
        try:
            context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
            here = os.path.dirname("/Workspace" + context.notebookPath().get())
            candidates += [os.path.join(here, "..", "sql"), os.path.join(here, "sql")]
        except Exception:  # not in a notebook context (a job on a file, a stand-in)
            pass
    candidates += [os.path.join(os.getcwd(), "..", "sql"), os.path.join(os.getcwd(), "sql")]
    for c in candidates:
        if os.path.isfile(os.path.join(c, "q1.sql")):
            return os.path.normpath(c)
    raise FileNotFoundError(
        "Cannot find the shared SQL files: none of %s holds q1.sql; set the sql parameter to the "
        "repository's sql folder" % ", ".join('"%s"' % c for c in candidates)
    )


def read_sql(name):
    """The text of one shared SQL file, without a trailing semicolon (spark.sql takes one statement)."""
    with open(os.path.join(SQL_DIR, name), encoding="utf-8") as f:
        return re.sub(r";\s*$", "", f.read().strip())


LAKE = (PARAMS["lake"] or spark.conf.get("spark.pinpipe.lake", "")).rstrip("/")
PREFIX = PARAMS["prefix"] or "pinpipe"
OUT = PARAMS["out"].rstrip("/")
ALLOW_EMPTY = PARAMS["allow_empty"].strip().lower() in ("true", "1", "yes")
SQL_DIR = find_sql_dir(PARAMS["sql"])
if not LAKE:
    raise ValueError(
        "Cannot read the lake: set the lake parameter (or the DAG's <prefix>_lake Variable, or "
        "the Spark conf spark.pinpipe.lake) to s3://<bucket>"
    )
# An object store's URL names its bucket after two slashes: s3:/bucket is a typo (dbfs:/mnt/…
# and file:/… are fine with one).
if re.match(r"^(s3[an]?|gs|abfss?|wasbs?):/(?!/)", LAKE, re.IGNORECASE):
    raise ValueError('Invalid lake "%s": a URL needs two slashes after the scheme (s3://bucket)'
                     % LAKE)
if not re.match(r"^[A-Za-z0-9_.-]+$", PREFIX):
    raise ValueError('Invalid prefix "%s": use letters, digits, ".", "_" and "-"' % PREFIX)
print("lake %s, topics %s.{pin,geo,user}, SQL from %s, run date %s"
      % (LAKE, PREFIX, SQL_DIR, PARAMS["run_date"] or "-"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Read, set malformed lines aside, drop exact duplicates (SPEC §4.1)
# MAGIC
# MAGIC Each object is read whole and split into lines, so a malformed line can be reported with
# MAGIC its object and line number; an object that is not valid UTF-8 is split byte for byte, so
# MAGIC only its bad lines are set aside. A leading byte-order mark is not part of the first line.
# MAGIC A line is a JSON object, or a JSON array of objects read as one record per element;
# MAGIC anything else (not JSON, `NaN`, a scalar, a field named twice, a key that is not an
# MAGIC integer: a JSON integer or a string of digits, so `"-5"` is out and `-5` in) is quarantined.
# MAGIC Every field is read as text (a producer may have written `"7528"` or `7528`), a number
# MAGIC exactly as written in the line (`12345678.5`, never Spark's re-printed `1.23456785E7`); the
# MAGIC shared cleaning SQL gives the columns their types. Exact
# MAGIC duplicates (replays) are dropped before anything else, comparing every field as text,
# MAGIC unknown extra fields included.

# COMMAND ----------


def cached(df):
    """`df` cached where the compute allows it (serverless has no cache: it recomputes)."""
    try:
        return df.cache()
    except Exception:
        return df


def read_objects(table):
    """The topic's objects (one row each, with its path), or None when it has none yet."""
    path = "%s/topics/%s.%s/partition=*/*.json" % (LAKE, PREFIX, table)
    try:
        objects = spark.read.format("text").option("wholetext", "true").load(path)
        # Spark Connect (serverless, shared clusters) analyses lazily: a missing path would
        # only fail at the first action, outside this guard. Asking for the schema analyses
        # the plan here.
        objects.schema
    except AnalysisException as err:
        if "PATH_NOT_FOUND" in str(err) or "Path does not exist" in str(err):
            print("no objects under %s" % path)
            return None
        raise
    return objects


def read_lines(objects):
    """One row per non-blank line: file, 1-based line number, text, and whether it is UTF-8."""
    raw = F.col("value").cast("binary")
    # The text source keeps an object's bytes; Spark's string functions would turn invalid
    # UTF-8 into U+FFFD. An object whose bytes do not survive a round trip is split as
    # ISO-8859-1 (one character per byte), so each line's own bytes can be checked.
    # (Computed before the split: beside a generator it would be computed once per line.)
    checked = objects.select(
        F.col("_metadata.file_path").alias("file"),
        F.col("value"),
        (F.encode(F.col("value"), "UTF-8") == raw).alias("whole_ok"),
    )
    text = F.when(F.col("whole_ok"), F.col("value")).otherwise(
        F.decode(F.col("value").cast("binary"), "ISO-8859-1"))
    split = checked.select(
        "file",
        "whole_ok",
        F.posexplode(F.split(text, "\n", -1)).alias("pos", "l"),
    )
    line_bytes = F.encode(F.col("l"), "ISO-8859-1")
    line = F.when(F.col("whole_ok"), F.col("l")).otherwise(F.decode(line_bytes, "UTF-8"))
    lines = split.select(
        "file",
        (F.col("pos") + 1).cast("int").alias("line_no"),
        line.alias("line"),
        (F.col("whole_ok") | (F.encode(line, "UTF-8") == line_bytes)).alias("utf8_ok"),
    )
    lines = lines.withColumn(
        "line",
        F.when((F.col("line_no") == 1) & F.col("line").startswith("\ufeff"),
               F.expr("substring(line, 2)")).otherwise(F.col("line")),
    )
    return lines.where(~F.col("line").rlike("^[ \t\r]*$"))


def untag_json(text):
    """JSON text written from tagged values (a nested value, an array element), untagged."""
    numbers = F.regexp_replace(text, r'"\\u0001(-?[0-9][0-9.eE+-]*+)"', "$1")
    return F.regexp_replace(numbers, r'\\u0001"', '"')


def untag(v):
    """A tagged value as text: a string's text, a number as written, a nested value's JSON."""
    return (F.when(v.endswith(TAG), v.substr(F.lit(1), F.length(v) - 1))
            .when(v.startswith(TAG), v.substr(F.lit(2), F.length(v)))
            .when(v.substr(1, 1).isin("[", "{"), untag_json(v))
            .otherwise(v))


def parse(table, objects):
    """One row per line (or array element): a record's fields as text, or why it is none."""
    cols = SOURCE_COLUMNS[table]
    key = KEY_COLUMN[table]
    lines = read_lines(objects)
    early = (F.when(~F.col("utf8_ok"), REASON_UTF8)
             .when(F.octet_length("line") > MAX_LINE_BYTES, REASON_TOO_LONG))
    lines = lines.withColumn("early", early)
    wrapped = F.from_json(
        F.concat(F.lit("["), F.col("line"), F.lit("," + json.dumps(END_MARK) + "]")),
        "array<string>", JSON_OPTIONS)
    lines = lines.withColumn("wrapped", F.when(F.col("early").isNull(), wrapped))
    is_json = F.coalesce((F.size("wrapped") == 2) & (F.col("wrapped")[1] == END_MARK), F.lit(False))
    value = F.col("wrapped")[0]  # the line's value, re-serialised (objects and arrays as JSON)
    first = F.regexp_extract("line", "^[ \t\r]*(.)", 1)
    as_maps = F.from_json(value, "array<map<string,string>>", JSON_OPTIONS)
    all_objects = as_maps.isNotNull() & F.forall(as_maps, lambda m: m.isNotNull())
    line_reason = (F.when(F.col("early").isNotNull(), F.col("early"))
                   .when(~is_json, REASON_JSON)
                   .when(first == "{", None)
                   .when((first == "[") & all_objects, None)
                   .when(first == "[", REASON_BAD_ARRAY)
                   .otherwise(REASON_NOT_OBJECT))
    lines = lines.select("file", "line_no", "line", value.alias("value"), first.alias("first"),
                         line_reason.alias("line_reason"))
    tagged = F.col("line_reason").isNull() & F.col("line").rlike(REWRITE_IF)
    lines = lines.withColumn("tagged", tagged).withColumn(
        "src", F.when(tagged, F.regexp_replace("line", REWRITE_PATTERN, REWRITE_WITH))
        .otherwise(F.col("value")))
    from_array = F.col("line_reason").isNull() & (F.col("first") == "[")
    items = (F.when(F.col("line_reason").isNotNull(), F.array(F.lit(None).cast("string")))
             .when(from_array, F.from_json("src", "array<string>", JSON_OPTIONS))
             .otherwise(F.array("src")))
    items = lines.select("file", "line_no", "line", "line_reason", "tagged",
                         from_array.alias("from_array"),
                         F.posexplode_outer(items).alias("pos", "item"))
    items = items.withColumn("mt", F.from_json("item", "map<string,string>", JSON_OPTIONS))
    # Spark's JSON map keeps a field named twice twice (and looks up the first).
    twice = F.size(F.array_distinct(F.map_keys("mt"))) != F.size("mt")
    untagged = F.transform_keys(
        F.transform_values("mt", lambda k, v: untag(v)),
        lambda k, v: k.substr(F.lit(1), F.length(k) - 1))
    items = items.withColumn(
        "m", F.when(F.col("tagged") & ~twice, untagged).otherwise(F.col("mt")))

    def signed(c):
        """True when the field `c` is a JSON number written with a minus sign."""
        v = F.col("mt").getItem(c + TAG)
        return F.coalesce(F.col("tagged") & v.startswith(TAG + "-") & ~v.endswith(TAG),
                          F.lit(False))

    key_text = F.col("m").getItem(key)
    key_ok = F.coalesce((key_text.rlike("^[0-9]+$") | (signed(key) & key_text.rlike("^-[0-9]+$")))
                        & F.expr("try_cast(m['%s'] AS INT)" % key).isNotNull(), F.lit(False))
    reason = (F.when(F.col("line_reason").isNotNull(), F.col("line_reason"))
              .when(F.col("item").isNull(), None)
              .when(twice, REASON_TWICE)
              .when(~key_ok, 'no integer "%s"' % key))
    items = items.withColumn("reason", reason)
    is_record = F.col("reason").isNull() & F.col("item").isNotNull()
    known = F.array(*[F.lit(c) for c in cols])
    extras = F.array_sort(F.filter(
        F.map_entries("m"),
        lambda e: e["value"].isNotNull() & ~F.array_contains(known, e["key"])))
    cut = lambda c: F.substring(c, 1, QUARANTINE_TEXT_CHARS)  # noqa: E731
    element_text = F.when(F.col("tagged"), untag_json(F.col("item"))).otherwise(F.col("item"))
    return items.select(
        F.col("file"),
        F.col("line_no"),
        F.when(F.col("from_array"), F.col("pos") + 1).alias("elem"),
        F.col("reason"),
        F.when(F.col("line_reason").isNotNull() | ~F.col("from_array"), cut(F.col("line")))
        .when(F.col("reason").isNotNull(), cut(element_text)).alias("text"),
        is_record.alias("is_record"),
        *[F.when(is_record, F.col("m").getItem(c)).alias(c) for c in cols],
        F.when(is_record & (F.size(extras) > 0), F.to_json(extras)).alias("extras"),
        *[F.when(is_record, signed(c)).alias(c + "_signed") for c in SIGNED_COLUMNS[table]],
    )


def load(table):
    """The table's records (text columns, exact duplicates dropped), its quarantine and counts."""
    cols = SOURCE_COLUMNS[table]
    objects = read_objects(table)
    if objects is None:
        empty = spark.createDataFrame([], ", ".join(
            ["`%s` string" % c for c in cols]
            + ["`%s_signed` boolean" % c for c in SIGNED_COLUMNS[table]]))
        quarantine = spark.createDataFrame(
            [], "table string, key string, line int, element int, reason string, text string")
        return empty, quarantine, {"objects": False, "lines": 0, "records": 0, "quarantined": 0,
                                   "duplicates": 0, "rows": 0,
                                   "present": {c: 0 for c in NULLABLE_COLUMNS[table]}}
    parsed = cached(parse(table, objects))
    counts = parsed.agg(
        F.count(F.when(F.col("elem").isNull() | (F.col("elem") == 1), True)).alias("lines"),
        F.count(F.when(F.col("is_record"), True)).alias("records"),
        F.count("reason").alias("quarantined"),
    ).first()
    quarantine = parsed.where(F.col("reason").isNotNull()).select(
        F.lit(table).alias("table"),
        F.regexp_extract("file", r"(topics/[^/]+/partition=[0-9]+/[^/]+)$", 1).alias("key"),
        F.col("line_no").alias("line"),
        F.col("elem").cast("int").alias("element"),
        "reason",
        "text",
    )
    signed = ["%s_signed" % c for c in SIGNED_COLUMNS[table]]
    records = parsed.where("is_record")
    if signed:
        # Copies equal as text are one record, signed when any copy was.
        deduplicated = records.groupBy(*cols, "extras").agg(*[F.max(c).alias(c) for c in signed])
    else:
        deduplicated = records.select(*cols, "extras").dropDuplicates(cols + ["extras"])
    deduplicated = cached(deduplicated.select(*cols, *signed))
    present = deduplicated.agg(F.count(F.lit(1)).alias("rows"),
                               *[F.count(c).alias(c) for c in NULLABLE_COLUMNS[table]]).first()
    stats = {"objects": True, "lines": counts["lines"], "records": counts["records"],
             "quarantined": counts["quarantined"], "rows": present["rows"],
             "present": {c: present[c] for c in NULLABLE_COLUMNS[table]}}
    stats["duplicates"] = stats["records"] - stats["rows"]
    return deduplicated, quarantine, stats


raw = {}
quarantined = {}
stats = {}
for table in ["pin", "geo", "user"]:
    raw[table], quarantined[table], stats[table] = load(table)
    raw[table].createOrReplaceTempView("%s_raw" % table)
    print("%s: %s" % (table, stats[table]))

any_objects = any(s["objects"] for s in stats.values())
total_records = sum(s["records"] for s in stats.values())
total_quarantined = sum(s["quarantined"] for s in stats.values())
if total_records == 0 and total_quarantined > 0:
    display(quarantined["pin"].unionByName(quarantined["geo"]).unionByName(quarantined["user"]))
    raise ValueError(
        "Cannot transform the lake %s: all %d lines of the topics %s.{pin,geo,user} were "
        "quarantined (shown above), nothing was written" % (LAKE, total_quarantined, PREFIX))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Clean with the shared SQL (SPEC §4, §4.1)

# COMMAND ----------

clean = {}
for table, file in CLEANING_FILES.items():
    clean[table] = cached(spark.sql(read_sql(file)))
    clean[table].createOrReplaceTempView("%s_clean" % table)
for view, file in VIEW_FILES.items():
    spark.sql(read_sql(file)).createOrReplaceTempView(view)

nulled = {}
for table, cols in NULLABLE_COLUMNS.items():
    after = clean[table].agg(*[F.count(c).alias(c) for c in cols]).first()
    before = stats[table].pop("present")
    nulled[table] = {c: before[c] - after[c] for c in cols}
    stats[table]["nulled"] = nulled[table]
display(spark.createDataFrame(
    [(t, c, n) for t, cs in nulled.items() for c, n in cs.items()],
    "table string, column string, nulled long"))
display(spark.createDataFrame(
    [(t, s["lines"], s["records"], s["quarantined"], s["duplicates"], s["rows"])
     for t, s in stats.items()],
    "table string, lines long, records long, quarantined long, duplicates_dropped long, rows long",
))
for table in ["pin", "geo", "user"]:
    clean[table].printSchema()

# COMMAND ----------

# MAGIC %md
# MAGIC ## The eight questions (SPEC §5), from the shared SQL files

# COMMAND ----------

answers = {}
answer_rows = {}
for qid, file, columns in QUESTION_FILES:
    answer = spark.sql(read_sql(file))
    if answer.columns != columns:
        raise ValueError("Cannot answer %s with %s: it returned the columns %s, expected %s"
                         % (qid, file, ", ".join(answer.columns), ", ".join(columns)))
    # Each question runs once; what is shown and written is its collected answer (small).
    rows = answer.collect()
    answer_rows[qid] = [row.asDict() for row in rows]
    answers[qid] = spark.createDataFrame(rows, answer.schema)
    print("%s (%s)" % (qid.upper(), file))
    display(answers[qid])

# COMMAND ----------

# MAGIC %md
# MAGIC ## Write the results
# MAGIC
# MAGIC With `out` set: `<out>/pin`, `<out>/geo`, `<out>/user` (Parquet), `<out>/answers/<q>` (one
# MAGIC CSV with a header each), `<out>/quarantine` (JSON lines) and `<out>/summary` (one JSON
# MAGIC line: the counts per table and the answers), each replaced on every run. A lake with no
# MAGIC objects for the prefix writes nothing (the previous output stays) unless `allow_empty`.

# COMMAND ----------

summary = {
    "lake": LAKE,
    "prefix": PREFIX,
    "run_date": PARAMS["run_date"],
    "tables": {t: {k: v for k, v in s.items() if k != "objects"} for t, s in stats.items()},
    "records": total_records,
    "quarantined": total_quarantined,
    "answers": answer_rows,
}
if OUT and not any_objects and not ALLOW_EMPTY:
    print("the lake %s holds no objects under topics/%s.{pin,geo,user}/: nothing written, the "
          "previous output in %s is kept (allow_empty writes empty answers)" % (LAKE, PREFIX, OUT))
elif OUT:
    for table, df in clean.items():
        df.write.mode("overwrite").parquet("%s/%s" % (OUT, table))
    for qid, df in answers.items():
        df.coalesce(1).write.mode("overwrite").option("header", "true").csv("%s/answers/%s" % (OUT, qid))
    all_quarantined = quarantined["pin"].unionByName(quarantined["geo"]).unionByName(quarantined["user"])
    all_quarantined.orderBy("table", "key", "line", "element").coalesce(1).write.mode("overwrite").json(
        "%s/quarantine" % OUT)
    spark.createDataFrame([(json.dumps(summary, default=str),)], "value string").coalesce(1) \
        .write.mode("overwrite").text("%s/summary" % OUT)
    print("wrote the cleaned tables, %d answers, the quarantine and the summary to %s"
          % (len(answers), OUT))
else:
    print("out is empty: nothing written")

if total_quarantined:
    print("%d malformed lines set aside" % total_quarantined)
    display(quarantined["pin"].unionByName(quarantined["geo"]).unionByName(quarantined["user"]))
