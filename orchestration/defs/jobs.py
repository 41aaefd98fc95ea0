"""Jobs of the code location."""

import dagster as dg

# In-process: every step shares the single-writer DuckDB file anyway, and a process per step costs ~2 s each.
csops_pipeline = dg.define_asset_job(
    name="csops_pipeline",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Landing zone to the newest marts: ingest new batches, then build and test every dbt model.",
)
