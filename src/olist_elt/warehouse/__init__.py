"""Publishing the star schema: on DuckDB a new served file renamed over the old one,
on PostgreSQL a schema swap in one transaction."""
