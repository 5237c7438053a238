-- The Spark SQL built-ins the shared SQL calls that DuckDB lacks, defined for DuckDB with
-- Spark's meaning (Spark needs no helper file: the shared SQL is plain Spark SQL, so the
-- notebook runs on any Spark 3.5, not only on Databricks).
-- array_repeat(element, count): an array holding element count times (NULL included).
CREATE OR REPLACE TEMP MACRO array_repeat(element, count) AS
  list_transform(range(count), lambda i: element)
