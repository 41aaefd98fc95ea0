"""Jobs of the code location (the model jobs and their schedules live with the model assets in ml_assets.py)."""

import dagster as dg

# In-process: every step shares the single-writer DuckDB file anyway, and a process per step costs ~2 s each.
# Models train and score in their own jobs (weekly retrain, daily scoring), so a data refresh never waits on them.
csops_pipeline = dg.define_asset_job(
    name="csops_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ml"),
    executor_def=dg.in_process_executor,
    description="Landing zone to the newest marts: ingest new batches, then build and test every dbt model.",
)
