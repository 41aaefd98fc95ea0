"""Great Expectations gate on the feature table: blocks every step that learns from or acts on features."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.quality.feature_expectations import FEATURE_TABLE, validate_features
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse


@dg.asset_check(
    asset=dg.AssetKey(["marts", "fct_account_daily"]),
    name="feature_expectations",
    blocking=True,
    pool=DUCKDB_POOL,
    description="Great Expectations suite on fct_account_daily: grain, non-negative counts, window ordering, flags.",
)
def fct_account_daily_expectations(duckdb: DuckDBResource, warehouse: Warehouse) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = warehouse.sample(con, FEATURE_TABLE)
    result = validate_features(frame)
    return dg.AssetCheckResult(passed=result.success, metadata=result.as_metadata())
