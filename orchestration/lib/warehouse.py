"""Resource for the warehouse the dbt target builds in, for the Python steps that meet it outside dbt."""

from collections.abc import Callable

import dagster as dg
import duckdb
import pandas as pd

from csops.ingest.snowflake_publish import PublishResult
from csops.quality.expectations import sample_query


class Warehouse(dg.ConfigurableResource):
    """The embedded default: the DuckDB file ingest writes is the `duckdb` dbt target's warehouse, so raw rows need
    no publishing and every table is read and written in that file. The scale-out one is
    `orchestration.lib.snowflake_warehouse.SnowflakeWarehouse`."""

    def publish_raw(
        self, con: duckdb.DuckDBPyConnection, source: str, run_id: str, log: Callable[[str], None]
    ) -> PublishResult | None:
        """Make the rows ingest loaded into `con`'s raw table readable by the dbt target; None: nothing to do."""
        return None

    def sample(self, con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
        """A sample of at most `SAMPLE_ROWS` rows of the dbt-built `table` (`schema.name`), for the GX gates (the
        same rows each time on DuckDB; Snowflake takes no seed with a fixed row count)."""
        return con.execute(sample_query(table)).df()

    def fetch_tables(
        self, con: duckdb.DuckDBPyConnection, tables: list[str], run_id: str, log: Callable[[str], None]
    ) -> None:
        """Bring the dbt-built `tables` into `con` for the Python steps of run `run_id` that read them (once per run);
        here they are there."""

    def store_tables(self, con: duckdb.DuckDBPyConnection, tables: list[str], log: Callable[[str], None]) -> None:
        """Make the tables Python steps wrote into `con` readable in the warehouse; here they are."""
