"""Running dbt in-process, and the dbt-duckdb plugin that hands the engine its key."""
