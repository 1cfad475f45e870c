"""Publishing the star schema: atomic schema swaps (DuckDB now; PostgreSQL next)."""
