"""The model jobs and their schedules: `ml_weekly_retrain` (Mondays 04:00 UTC) retrains the models whose training
data changed, `ml_daily_scoring` (06:00 UTC) rescores with the champions; each brings ingest and dbt up to date first."""

import dagster as dg

from ml.config import TASKS
from orchestration.defs.ml.assets import GROUP, task_key

ML_SCORES = dg.AssetSelection.assets(*[task_key(task, "scores") for task in TASKS])
# Each job brings the data it needs up to date first (ingest, dbt), then its ML steps.
ml_weekly_retrain = dg.define_asset_job(
    name="ml_weekly_retrain",
    selection=dg.AssetSelection.groups(GROUP).upstream(),
    executor_def=dg.in_process_executor,
    description="Refresh the marts, rebuild feature snapshots and training sets, backtest both tasks, promote "
    "each backtest's choice unless its champion does better on the latest labelled period, and rescore every active "
    "account.",
)
ml_daily_scoring = dg.define_asset_job(
    name="ml_daily_scoring",
    selection=(ML_SCORES.upstream() - dg.AssetSelection.groups(GROUP)) | ML_SCORES,
    executor_def=dg.in_process_executor,
    description="Refresh the marts and score every active account with the champion models.",
)
ml_weekly_retrain_schedule = dg.ScheduleDefinition(
    name="ml_weekly_retrain_schedule", job=ml_weekly_retrain, cron_schedule="0 4 * * 1",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
)
ml_daily_scoring_schedule = dg.ScheduleDefinition(
    name="ml_daily_scoring_schedule", job=ml_daily_scoring, cron_schedule="0 6 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
)
