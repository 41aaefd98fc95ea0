"""The raw publisher of the `snowflake` target: its own module because importing dagster-snowflake takes seconds,
paid only by code locations configured for Snowflake."""

import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
from dagster_snowflake import SnowflakeResource

from csops.ingest.snowflake_publish import PublishResult, publish_source
from orchestration.raw_publisher import RawPublisher


class SnowflakeRawPublisher(RawPublisher):
    """Copies every load ingest recorded and Snowflake has not received yet into `<database>.raw` (PUT + COPY INTO,
    one transaction per group of loads with the publish ledger), where the dbt `snowflake` target's sources are."""

    snowflake: SnowflakeResource
    # Where the Parquet files wait for their PUT (deleted after each group); the system temp folder by default.
    export_dir: str = tempfile.gettempdir()

    def publish(
        self, con: duckdb.DuckDBPyConnection, source: str, run_id: str, log: Callable[[str], None]
    ) -> PublishResult:
        with self.snowflake.get_connection() as connection:
            return publish_source(con, connection, source, run_id, Path(self.export_dir), log=log)
