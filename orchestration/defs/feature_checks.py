"""Great Expectations gate on the feature table: blocks every step that learns from or acts on features."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.quality.feature_expectations import feature_sample_query, validate_features
from orchestration.defs.raw_assets import DUCKDB_POOL


@dg.asset_check(
    asset=dg.AssetKey(["marts", "fct_account_daily"]),
    name="feature_expectations",
    blocking=True,
    pool=DUCKDB_POOL,
    description="Great Expectations suite on fct_account_daily: grain, non-negative counts, window ordering, flags.",
)
def fct_account_daily_expectations(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        frame = con.execute(feature_sample_query()).df()
    result = validate_features(frame)
    return dg.AssetCheckResult(passed=result.success, metadata=result.as_metadata())
