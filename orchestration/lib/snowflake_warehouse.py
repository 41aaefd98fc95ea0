"""The warehouse resource of the `snowflake` target: its own module because importing dagster-snowflake takes
seconds, paid only by code locations configured for Snowflake."""

import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
from dagster_snowflake import SnowflakeResource

from csops.ingest.snowflake_publish import PublishResult, publish_source
from csops.quality.expectations import snowflake_sample_query
from csops.snowflake_io import copy_to_duckdb, replace_in_snowflake
from orchestration.lib.warehouse import Warehouse


# Change markers of incremental models (an engine's HASH, 64-bit signed on Snowflake, unsigned on DuckDB): how dbt
# decides which rows to rewrite, read by no Python step.
INCREMENTAL_BOOKKEEPING = ("inputs_hash",)
# Which run copied which table into the local file: a run's steps share one copy (a retrain run has three readers).
FETCH_LOG = "main.csops_snowflake_fetches"


def snowflake_connection(**fields) -> SnowflakeResource:
    """dagster-snowflake's resource with what these steps rely on, whatever the account's defaults: autocommit (so
    their explicit BEGIN/COMMIT delimit the transactions) and scaled numbers read as decimals, not floats."""
    extra = {"arrow_number_to_decimal": True, **(fields.pop("additional_snowflake_connection_args", None) or {})}
    return SnowflakeResource(autocommit=True, additional_snowflake_connection_args=extra, **fields)


class SnowflakeWarehouse(Warehouse):
    """Publishes every load ingest recorded and Snowflake has not received yet into `<database>.raw` (PUT + COPY
    INTO, one transaction per group of loads with the publish ledger), where the dbt `snowflake` target's sources are;
    samples dbt-built tables in Snowflake; copies the tables the ML steps read into the local DuckDB file (streamed as
    Arrow batches) and their results back (Parquet, COPY INTO, swapped in atomically)."""

    snowflake: SnowflakeResource
    # Where the Parquet files wait for their PUT (deleted after each group); the system temp folder by default.
    export_dir: str = tempfile.gettempdir()

    def publish_raw(
        self, con: duckdb.DuckDBPyConnection, source: str, run_id: str, log: Callable[[str], None]
    ) -> PublishResult:
        with self.snowflake.get_connection() as connection:
            return publish_source(con, connection, source, run_id, Path(self.export_dir), log=log)

    def sample(self, con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
        with self.snowflake.get_connection() as connection:
            frame = connection.cursor().execute(snowflake_sample_query(table)).fetch_pandas_all()
        return frame.rename(columns=str.lower)  # unquoted names come back upper-case

    def fetch_tables(
        self, con: duckdb.DuckDBPyConnection, tables: list[str], run_id: str, log: Callable[[str], None]
    ) -> None:
        con.execute(f"CREATE TABLE IF NOT EXISTS {FETCH_LOG} (table_name VARCHAR, run_id VARCHAR, row_count BIGINT)")
        fetched = {table for (table,) in con.execute(
            f"SELECT table_name FROM {FETCH_LOG} WHERE run_id = ?", [run_id]).fetchall()}
        with self.snowflake.get_connection() as connection:
            for table in [t for t in tables if t not in fetched]:
                rows = copy_to_duckdb(connection, con, table, INCREMENTAL_BOOKKEEPING, log)
                con.execute(f"INSERT INTO {FETCH_LOG} VALUES (?, ?, ?)", [table, run_id, rows])

    def store_tables(self, con: duckdb.DuckDBPyConnection, tables: list[str], log: Callable[[str], None]) -> None:
        with self.snowflake.get_connection() as connection:
            for table in tables:
                rows = replace_in_snowflake(con, connection, table, Path(self.export_dir))
                log(f"{table}: {rows:,} rows to Snowflake")
