-- Helpers the shared SQL calls that DuckDB and Spark spell differently (Spark version).
CREATE OR REPLACE TEMPORARY FUNCTION coordinates_array(latitude DOUBLE, longitude DOUBLE)
  RETURNS ARRAY<DOUBLE>
  RETURN array(latitude, longitude)
