-- Helpers the shared SQL calls that DuckDB and Spark spell differently (DuckDB version).
CREATE OR REPLACE TEMP MACRO coordinates_array(latitude, longitude) AS [latitude, longitude]
