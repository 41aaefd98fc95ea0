"""The product's jobs: the main job (everything downstream of the landing zone, in one run: `csops run`,
`make demo`) and the daily run (the same without the training chain). The model jobs live in `ml/jobs.py`."""

import dagster as dg

from orchestration.defs.ml.jobs import TRAINING

# In-process: every step shares the single-writer DuckDB file anyway, and a process per step costs ~2 s each.
csops_pipeline = dg.define_asset_job(
    name="csops_pipeline",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Landing zone to every product output: ingest new batches, build and test the dbt models, train the "
    "models when their data changed, score every active account, and run the layers downstream of the scores.",
)

# The models retrain weekly (`retrain_every_days`), so on the other days their snapshots and training sets would be
# rebuilt only for the model step to skip: the daily run scores with the champions and leaves the training chain to
# `ml_weekly_retrain` and the main job.
DAILY = dg.AssetSelection.all() - TRAINING
csops_daily = dg.define_asset_job(
    name="csops_daily",
    selection=DAILY,
    executor_def=dg.in_process_executor,
    description="The daily run: ingest new batches, build and test the dbt models, classify new texts, score every "
    "active account with the champion models, publish the serving file and run the action layer (agent tick, alerts, "
    "briefs, reports). Feature snapshots, training sets and models are left to ml_weekly_retrain.",
)
csops_daily_schedule = dg.ScheduleDefinition(
    name="csops_daily_schedule", job=csops_daily, cron_schedule="0 6 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
)

# The action layer's groups: what turns scores into work for people (agent, briefs, reports).
ACTION_LAYER = ("agent", "briefs", "reports")
# The data spine: what the benchmark measures (the whole run: `csops_data_refresh`; one more day: `csops_daily`'s
# assets in it).
SPINE = dg.AssetSelection.all() - dg.AssetSelection.groups(*ACTION_LAYER)
csops_data_refresh = dg.define_asset_job(
    name="csops_data_refresh",
    selection=SPINE,
    executor_def=dg.in_process_executor,
    description="The data spine alone: ingest, every dbt model, training when the data changed, and the scores; no "
    "agent tick, briefs or reports. What the benchmark measures.",
)
