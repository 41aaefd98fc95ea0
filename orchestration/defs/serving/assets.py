"""Serving: the last step of the main job publishes the marts to the file BI tools read (csops/serving.py)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from csops.serving import publish
from csops.settings import Settings
from orchestration.defs.agent import assets as agent_assets
from orchestration.defs.briefs import assets as briefs_assets
from orchestration.defs.ml import assets as ml_assets
from orchestration.defs.transform.dbt import csops_dbt_models
from orchestration.lib.pools import DUCKDB_POOL

SERVED_SCHEMAS_OF_DBT = ("marts",)


def served_asset_keys() -> list[dg.AssetKey]:
    """Every mart, ml, agent and briefs asset: publishing waits for all of them, so it never serves half a run."""
    keys = {key for key in csops_dbt_models.keys if key.path[0] in SERVED_SCHEMAS_OF_DBT}
    for module in (ml_assets, agent_assets, briefs_assets):
        for value in vars(module).values():
            if isinstance(value, dg.AssetsDefinition):
                keys |= set(value.keys)
    return sorted(keys, key=lambda key: key.to_user_string())


@dg.asset(
    key=dg.AssetKey(["serving", "warehouse"]),
    group_name="serving",
    deps=served_asset_keys(),
    pool=DUCKDB_POOL,
    kinds={"duckdb"},
    description="The marts, scores and agent tables, the ingest ledger and the quarantine reasons, copied to the "
    "serving DuckDB file (CSOPS_SERVING_PATH, default data/serving.duckdb) and swapped in atomically. BI tools and "
    "`csops summary` open it read-only; a reader holding it never blocks or fails a run (docs/reliability.md).",
)
def serving_warehouse(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    if settings.dbt_target == "snowflake":
        return dg.MaterializeResult(metadata={"skipped": "the snowflake target: BI tools read Snowflake's marts"})
    with duckdb.get_connection() as con:
        publication = publish(con, settings.serving_path, context.run_id)
    context.log.info(f"published {len(publication.tables)} tables ({publication.rows:,} rows) to {publication.path}")
    return dg.MaterializeResult(metadata={
        "path": str(publication.path),
        "tables": len(publication.tables),
        "dagster/row_count": publication.rows,
        "bytes": publication.bytes,
    })
