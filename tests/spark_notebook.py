"""Runs notebooks/transform.py, the file itself, once per job in one local SparkSession.

Used by tests/engine/spark_notebook_test.ts and bench/transform_bench.ts: starting Spark takes
seconds, so one session serves every lake. Each job is executed as Databricks runs a
notebook: the file's own code, with a `spark` session and a `dbutils` whose widgets hold the
job's parameters and a `display` that shows nothing (the stand-ins: Databricks' widget API and
table view). Nothing of the notebook's logic is replaced.

Spark Connect (Databricks serverless and shared compute) analyses a plan only when asked:
`spark.read.load(path)` of a missing path succeeds and the error comes at the first use. A
job with "lazy": true sees its session that way (LazySession below), so the notebook's
missing-path guard is tested as it runs there. (A real Spark Connect server cannot run here:
the spark-connect jar for Spark 3.5.3 is missing from the reachable Maven mirror, and the
Connect client needs grpcio-status and a pyarrow built for the venv's numpy.)

Usage: python tests/spark_notebook.py JOBS_JSON
  JOBS_JSON: a file holding a list of jobs, each {"lake", "out", "prefix"?, "sql"?,
  "allow_empty"?, "lazy"?, "notebook"?}. Prints one JSON line per job on stdout:
  {"ok", "sec", "error"?, "trace"?}.
Environment: PINPIPE_SPARK_MASTER (default local[2]), PINPIPE_SPARK_MEMORY (default 2g),
PINPIPE_SPARK_SHOW=1 to print the tables the notebook displays.
"""
import json
import os
import sys
import time
import traceback

from pyspark.sql import SparkSession

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOK = os.path.join(HERE, "..", "notebooks", "transform.py")


class Widgets:
    """Databricks' dbutils.widgets, holding one job's parameters."""

    def __init__(self, values):
        self.values = {k: str(v) for k, v in values.items()}

    def text(self, name, default, label=None):
        self.values.setdefault(name, default)

    def get(self, name):
        return self.values[name]


class LazyFrame:
    """A DataFrame whose plan is analysed at its first use, as Spark Connect does."""

    def __init__(self, make):
        self._make = make
        self._df = None

    def __getattr__(self, name):
        if self._df is None:
            self._df = self._make()  # a missing path fails here, not at load()
        return getattr(self._df, name)


class LazyReader:
    """spark.read whose load() only records what to read."""

    def __init__(self, reader):
        self._reader = reader

    def format(self, source):
        self._reader = self._reader.format(source)
        return self

    def option(self, key, value):
        self._reader = self._reader.option(key, value)
        return self

    def load(self, path):
        reader = self._reader
        return LazyFrame(lambda: reader.load(path))


class LazySession:
    """A SparkSession that analyses what it reads lazily (the rest is the real session)."""

    def __init__(self, spark):
        self._spark = spark

    @property
    def read(self):
        return LazyReader(self._spark.read)

    def __getattr__(self, name):
        return getattr(self._spark, name)


class DbUtils:
    """The part of dbutils a notebook run by a job sees: its widgets."""

    def __init__(self, values):
        self.widgets = Widgets(values)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    spark = (SparkSession.builder
             .master(os.environ.get("PINPIPE_SPARK_MASTER", "local[2]"))
             .appName("pinpipe-notebook-test")
             .config("spark.driver.memory", os.environ.get("PINPIPE_SPARK_MEMORY", "2g"))
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    for job in jobs:
        notebook = job.pop("notebook", None) or NOTEBOOK
        with open(notebook, encoding="utf-8") as f:
            code = compile(f.read(), notebook, "exec")
        session = LazySession(spark) if job.pop("lazy", False) else spark
        params = {"prefix": "pinpipe", "sql": os.path.join(HERE, "..", "sql"),
                  "allow_empty": "false", "run_date": ""}
        params.update({k: v for k, v in job.items() if v is not None})
        scope = {"__name__": "__main__", "__file__": notebook, "spark": session,
                 "dbutils": DbUtils(params)}
        if os.environ.get("PINPIPE_SPARK_SHOW") != "1":
            # Databricks' table view: not shown here (each show would be one more Spark job).
            scope["display"] = lambda df: None
        t0 = time.monotonic()
        result = {"ok": True}
        try:
            exec(code, scope)
        except Exception as err:  # the job failed: report it, go on with the next one
            result = {"ok": False, "error": "%s: %s" % (type(err).__name__, err),
                      "trace": traceback.format_exc()}
        result["sec"] = round(time.monotonic() - t0, 3)
        spark.catalog.clearCache()
        print(json.dumps(result), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
