"""The model jobs and their schedules: `ml_weekly_retrain` (Mondays 04:00 UTC) rebuilds the training data and retrains
the models whose training data changed; each brings ingest and dbt up to date first. The daily run (`csops_daily`,
`orchestration/defs/jobs.py`) scores with the champions and leaves out `TRAINING`."""

import dagster as dg

from ml.config import TASKS
from orchestration.defs.ml.assets import FEATURE_SNAPSHOTS, GROUP, task_key

# What only training reads or writes: feature snapshots (and their point-in-time check), training sets, models.
TRAINING = dg.AssetSelection.assets(
    FEATURE_SNAPSHOTS, *[task_key(task, what) for task in TASKS for what in ("training_set", "model")])
ml_weekly_retrain = dg.define_asset_job(
    name="ml_weekly_retrain",
    selection=dg.AssetSelection.groups(GROUP).upstream(),
    executor_def=dg.in_process_executor,
    description="Refresh the marts, rebuild feature snapshots and training sets, backtest both tasks, promote "
    "each backtest's choice unless its champion does better on the latest labelled period, and rescore every active "
    "account.",
)
ml_weekly_retrain_schedule = dg.ScheduleDefinition(
    name="ml_weekly_retrain_schedule", job=ml_weekly_retrain, cron_schedule="0 4 * * 1",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
)
