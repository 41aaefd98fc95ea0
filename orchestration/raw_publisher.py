"""Resource deciding where the rows ingest validated go beyond the local DuckDB file, for the dbt target to read."""

from collections.abc import Callable

import dagster as dg
import duckdb

from csops.ingest.snowflake_publish import PublishResult


class RawPublisher(dg.ConfigurableResource):
    """The embedded default: the `duckdb` dbt target reads the raw tables ingest writes, so nothing is published.
    `orchestration.snowflake_raw.SnowflakeRawPublisher` is the scale-out one."""

    def publish(
        self, con: duckdb.DuckDBPyConnection, source: str, run_id: str, log: Callable[[str], None]
    ) -> PublishResult | None:
        return None
