"""The product's main job: everything downstream of the landing zone, in one run (`csops run`, `make demo`).
Each stage's own jobs and schedules live in its folder (`ml/jobs.py`)."""

import dagster as dg

# In-process: every step shares the single-writer DuckDB file anyway, and a process per step costs ~2 s each.
csops_pipeline = dg.define_asset_job(
    name="csops_pipeline",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Landing zone to every product output: ingest new batches, build and test the dbt models, train the "
    "models when their data changed, score every active account, and run the layers downstream of the scores.",
)

# The action layer's groups: what turns scores into work for people (agent, briefs, reports).
ACTION_LAYER = ("agent", "briefs", "reports")
csops_data_refresh = dg.define_asset_job(
    name="csops_data_refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(*ACTION_LAYER),
    executor_def=dg.in_process_executor,
    description="The data spine alone: ingest, every dbt model, training when the data changed, and the scores; no "
    "agent tick, briefs or reports. What the benchmark measures.",
)
