"""Concurrency pools shared by the stages' definitions."""

# DuckDB allows one writer process: every step touching the warehouse file shares this pool (limit 1 in the instance).
DUCKDB_POOL = "duckdb"
