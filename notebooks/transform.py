# Databricks notebook source
# MAGIC %md
# MAGIC # pinpipe transform: clean the lake and answer the eight questions
# MAGIC
# MAGIC The Databricks twin of `deno task transform`. It reads the lake the S3 sink connector (or
# MAGIC pinpipe's own sink) wrote — `topics/<prefix>.{pin,geo,user}/partition=<p>/*.json`, one JSON
# MAGIC value per line — cleans it exactly as SPEC §4 says and answers the eight questions of
# MAGIC SPEC §5. The cleaning and the questions are **not written here**: this notebook runs the
# MAGIC same `.sql` files as the local task (`sql/clean_*.sql`, `sql/q*.sql`), read from the
# MAGIC repository folder, so the two engines cannot drift apart. Only what the engines do
# MAGIC differently lives here: reading the objects, setting malformed lines aside, dropping exact
# MAGIC duplicates, and the one helper function Spark spells differently (`sql/functions_spark.sql`).
# MAGIC
# MAGIC **Requirements**: Databricks Runtime 13.3 LTS or later (Spark 3.4: `try_cast`,
# MAGIC `percentile_cont … WITHIN GROUP`, SQL functions, `_metadata.file_path`), and read access
# MAGIC to the bucket through a Unity Catalog external location or a cluster instance profile.
# MAGIC The old way — mounting the bucket with an access key — is only a fallback: see the
# MAGIC `mount_lake` notebook beside this one, then set `lake` to `dbfs:/mnt/<mount>`.
# MAGIC
# MAGIC **Where the SQL comes from**: the `sql` widget, else `../sql` beside this notebook (the
# MAGIC repository checked out in Databricks Repos / Git folders), else `sql` beside it (a copy of
# MAGIC the folder uploaded next to the notebook, e.g. `/Workspace/Shared/pinpipe/sql`).
# MAGIC
# MAGIC **Parameters** (widgets; the Airflow DAG sets `prefix`, `lake` and `run_date`):
# MAGIC - `lake`: `s3://bucket[/prefix]` (or `dbfs:/mnt/…`); default: the Spark conf `spark.pinpipe.lake`
# MAGIC - `prefix`: topic prefix (topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`), default `pinpipe`
# MAGIC - `out`: where to write the cleaned tables, the answers and the quarantine (Parquet/CSV);
# MAGIC   empty: only display them
# MAGIC - `sql`: the folder holding the shared SQL files (empty: found as above)
# MAGIC - `run_date`: the DAG's logical date, shown only

# COMMAND ----------

dbutils.widgets.text("lake", "", "Lake: s3://bucket[/prefix]")
dbutils.widgets.text("prefix", "pinpipe", "Topic prefix")
dbutils.widgets.text("out", "", "Output folder (empty: display only)")
dbutils.widgets.text("sql", "", "Shared SQL folder (empty: ../sql)")
dbutils.widgets.text("run_date", "", "Run date (from the DAG)")

# COMMAND ----------

import os
import re

from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.errors import AnalysisException

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

# The shared SQL this notebook runs: the same files, in the same order, as lib/clean.ts and
# lib/questions.ts (tests/notebooks_test.ts checks the two lists agree).
FUNCTIONS_FILE = "functions_spark.sql"
CLEANING_FILES = {"pin": "clean_pin.sql", "geo": "clean_geo.sql", "user": "clean_user.sql"}
QUESTION_FILES = [
    ("q1", "q1.sql", ["country", "category", "category_count"]),
    ("q2", "q2.sql", ["post_year", "category", "category_count"]),
    ("q3a", "q3a.sql", ["country", "poster_name", "follower_count"]),
    ("q3b", "q3b.sql", ["country", "follower_count"]),
    ("q4", "q4.sql", ["age_group", "category", "category_count"]),
    ("q5", "q5.sql", ["age_group", "median_follower_count"]),
    ("q6", "q6.sql", ["post_year", "number_users_joined"]),
    ("q7", "q7.sql", ["post_year", "median_follower_count"]),
    ("q8", "q8.sql", ["age_group", "post_year", "median_follower_count"]),
]

# Timestamps in the lake carry no zone: read and show them as they are written.
spark.conf.set("spark.sql.session.timeZone", "UTC")

# COMMAND ----------


def find_sql_dir(given):
    """The folder of the shared SQL files: the widget, else ../sql or sql beside this notebook."""
    candidates = [given] if given else []
    try:
        context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
        here = os.path.dirname("/Workspace" + context.notebookPath().get())
        candidates += [os.path.join(here, "..", "sql"), os.path.join(here, "sql")]
    except Exception:  # not in a notebook context (a job on a file): fall back to the cwd
        pass
    candidates += [os.path.join(os.getcwd(), "..", "sql"), os.path.join(os.getcwd(), "sql")]
    for c in candidates:
        if os.path.isfile(os.path.join(c, "q1.sql")):
            return os.path.normpath(c)
    raise FileNotFoundError(
        "Cannot find the shared SQL files: none of %s holds q1.sql; set the sql widget to the "
        "repository's sql folder" % ", ".join('"%s"' % c for c in candidates)
    )


def read_sql(name):
    """The text of one shared SQL file, without a trailing semicolon (spark.sql takes one statement)."""
    with open(os.path.join(SQL_DIR, name), encoding="utf-8") as f:
        return re.sub(r";\s*$", "", f.read().strip())


LAKE = (dbutils.widgets.get("lake") or spark.conf.get("spark.pinpipe.lake", "")).rstrip("/")
PREFIX = dbutils.widgets.get("prefix") or "pinpipe"
OUT = dbutils.widgets.get("out").rstrip("/")
SQL_DIR = find_sql_dir(dbutils.widgets.get("sql"))
if not LAKE:
    raise ValueError(
        "Cannot read the lake: set the lake widget (or the DAG's <prefix>_lake Variable, or the "
        "Spark conf spark.pinpipe.lake) to s3://<bucket>"
    )
if not re.match(r"^[A-Za-z0-9_.-]+$", PREFIX):
    raise ValueError('Invalid prefix "%s": use letters, digits, ".", "_" and "-"' % PREFIX)
print("lake %s, topics %s.{pin,geo,user}, SQL from %s, run date %s"
      % (LAKE, PREFIX, SQL_DIR, dbutils.widgets.get("run_date") or "-"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Read, set malformed lines aside, drop exact duplicates
# MAGIC
# MAGIC Each object is read whole and split into lines, so a malformed line can be reported with
# MAGIC its object and line number. Every field is read as text (a producer may have written
# MAGIC `"7528"` or `7528`); the shared cleaning SQL gives the columns their types. A line that is
# MAGIC not a JSON object with an integer key is quarantined. Exact duplicates (replays) are
# MAGIC dropped before anything else, comparing every field.

# COMMAND ----------

def cached(df):
    """`df` cached where the compute allows it (serverless has no cache: it recomputes)."""
    try:
        return df.cache()
    except Exception:
        return df


LINE_SCHEMA = T.StructType([T.StructField("file", T.StringType()),
                            T.StructField("line_no", T.IntegerType()),
                            T.StructField("line", T.StringType())])


def read_lines(table):
    """One row per non-blank line of the topic's objects: file, 1-based line number, text."""
    path = "%s/topics/%s.%s/partition=*/*.json" % (LAKE, PREFIX, table)
    try:
        objects = spark.read.format("text").option("wholetext", "true").load(path)
    except AnalysisException as err:
        if "PATH_NOT_FOUND" in str(err) or "Path does not exist" in str(err):
            print("no objects under %s" % path)
            return spark.createDataFrame([], LINE_SCHEMA)
        raise
    lines = objects.select(
        F.col("_metadata.file_path").alias("file"),
        F.posexplode(F.split(F.col("value"), "\n")).alias("pos", "line"),
    )
    return (lines
            .select("file", (F.col("pos") + 1).cast("int").alias("line_no"), "line")
            .where(F.length(F.regexp_replace("line", r"\s", "")) > 0))


def load(table):
    """The table's records (text columns, exact duplicates dropped) and its quarantined lines."""
    cols = SOURCE_COLUMNS[table]
    key = KEY_COLUMN[table]
    schema = T.StructType([T.StructField(c, T.StringType()) for c in cols])
    parsed = read_lines(table).withColumn("r", F.from_json("line", schema))
    # An integer key: digits only, within INT (as lib/clean.ts: a cast alone would take "1.5").
    key_text = F.trim(F.col("r").getField(key))
    is_record = F.coalesce(
        key_text.rlike("^-?[0-9]{1,10}$") & F.expr("try_cast(r.`%s` AS INT)" % key).isNotNull(),
        F.lit(False),
    )
    parsed = cached(parsed.withColumn("is_record", is_record))
    records = parsed.where("is_record").select([F.col("r").getField(c).alias(c) for c in cols])
    quarantine = parsed.where(~F.col("is_record")).select(
        F.lit(table).alias("table"),
        F.regexp_extract("file", r"(topics/[^/]+/partition=[0-9]+/[^/]+)$", 1).alias("key"),
        F.col("line_no").alias("line"),
        F.when(F.get_json_object("line", "$").isNull(), "not valid JSON")
        .when(F.expr("json_object_keys(line)").isNull(), "not a JSON object")
        .otherwise('no integer "%s"' % key).alias("reason"),
        F.col("line").alias("text"),
    )
    deduplicated = cached(records.dropDuplicates(cols))
    stats = {
        "lines": parsed.count(),
        "records": records.count(),
        "rows": deduplicated.count(),
    }
    stats["quarantined"] = stats["lines"] - stats["records"]
    stats["duplicates"] = stats["records"] - stats["rows"]
    return deduplicated, quarantine, stats


raw = {}
quarantined = {}
stats = {}
for table in ["pin", "geo", "user"]:
    raw[table], quarantined[table], stats[table] = load(table)
    raw[table].createOrReplaceTempView("%s_raw" % table)
    print("%s: %s" % (table, stats[table]))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Clean with the shared SQL (SPEC §4)

# COMMAND ----------

spark.sql(read_sql(FUNCTIONS_FILE))
clean = {}
for table, file in CLEANING_FILES.items():
    clean[table] = cached(spark.sql(read_sql(file)))
    clean[table].createOrReplaceTempView("%s_clean" % table)

# Values cleaning turned into NULL, per column (placeholders, empty strings, bad values).
NULLABLE_COLUMNS = {
    "pin": ["unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
            "is_image_or_video", "image_src", "save_location", "category"],
    "geo": ["timestamp"],
    "user": ["age", "date_joined"],
}
quality = []
for table, cols in NULLABLE_COLUMNS.items():
    before = raw[table].agg(*[F.count(c).alias(c) for c in cols]).first()
    after = clean[table].agg(*[F.count(c).alias(c) for c in cols]).first()
    quality += [(table, c, before[c] - after[c]) for c in cols]
display(spark.createDataFrame(quality, "table string, column string, nulled long"))
display(spark.createDataFrame(
    [(t, s["lines"], s["records"], s["quarantined"], s["duplicates"], s["rows"]) for t, s in stats.items()],
    "table string, lines long, records long, quarantined long, duplicates_dropped long, rows long",
))
for table in ["pin", "geo", "user"]:
    clean[table].printSchema()

# COMMAND ----------

# MAGIC %md
# MAGIC ## The eight questions (SPEC §5), from the shared SQL files

# COMMAND ----------

answers = {}
for qid, file, columns in QUESTION_FILES:
    answers[qid] = spark.sql(read_sql(file))
    if answers[qid].columns != columns:
        raise ValueError("Cannot answer %s with %s: it returned the columns %s, expected %s"
                         % (qid, file, ", ".join(answers[qid].columns), ", ".join(columns)))
    print("%s (%s)" % (qid.upper(), file))
    display(answers[qid])

# COMMAND ----------

# MAGIC %md
# MAGIC ## Write the results
# MAGIC
# MAGIC With `out` set: `<out>/pin`, `<out>/geo`, `<out>/user` (Parquet), `<out>/answers/<q>` (one
# MAGIC CSV with a header each) and `<out>/quarantine` (JSON lines), each replaced on every run.

# COMMAND ----------

if OUT:
    for table, df in clean.items():
        df.write.mode("overwrite").parquet("%s/%s" % (OUT, table))
    for qid, df in answers.items():
        df.coalesce(1).write.mode("overwrite").option("header", "true").csv("%s/answers/%s" % (OUT, qid))
    all_quarantined = quarantined["pin"].unionByName(quarantined["geo"]).unionByName(quarantined["user"])
    all_quarantined.coalesce(1).write.mode("overwrite").json("%s/quarantine" % OUT)
    print("wrote the cleaned tables, %d answers and the quarantine to %s" % (len(answers), OUT))
else:
    print("out is empty: nothing written")

total_quarantined = sum(s["quarantined"] for s in stats.values())
if total_quarantined:
    print("%d malformed lines set aside" % total_quarantined)
    display(quarantined["pin"].unionByName(quarantined["geo"]).unionByName(quarantined["user"]))
