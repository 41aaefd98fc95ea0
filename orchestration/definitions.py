"""Code location entry point (`dagster dev -w workspace.yaml`, `dg`, `csops demo`)."""

import dagster as dg

from csops.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    """The modules of `orchestration/defs/`, merged by hand. `dg.load_from_defs_folder` finds the same definitions
    (a test holds them equal) but also builds the UI's catalog of installed component libraries, importing each one
    (dagster-snowflake alone takes 5-7 s) in every process that loads this code location, which is every run."""
    Settings.from_env().export()  # before the modules load: they read paths and targets from it
    from orchestration.defs import jobs
    from orchestration.defs.briefs import assets as briefs_assets
    from orchestration.defs.agent import assets as agent_assets
    from orchestration.defs.agent import checks as agent_checks
    from orchestration.defs.delivery import sensors as delivery_sensors
    from orchestration.defs.ingest import assets as ingest_assets
    from orchestration.defs.ml import assets as ml_assets
    from orchestration.defs.ml import checks as ml_checks
    from orchestration.defs.ml import jobs as ml_jobs
    from orchestration.defs.reports import assets as reports_assets
    from orchestration.defs.resources import resources
    from orchestration.defs.serving import assets as serving_assets
    from orchestration.defs.transform import checks as transform_checks
    from orchestration.defs.transform import dbt as transform_dbt
    from orchestration.defs.voice import assets as voice_assets

    modules = [ingest_assets, transform_dbt, transform_checks, voice_assets, ml_assets, ml_checks, agent_assets, agent_checks,
               briefs_assets, reports_assets, serving_assets]
    return dg.Definitions.merge(
        dg.Definitions(
            assets=dg.load_assets_from_modules(modules),
            asset_checks=dg.load_asset_checks_from_modules(modules),
            jobs=[jobs.csops_pipeline, jobs.csops_daily, jobs.csops_data_refresh, ml_jobs.ml_weekly_retrain],
            schedules=[jobs.csops_daily_schedule, ml_jobs.ml_weekly_retrain_schedule],
            sensors=[delivery_sensors.slack_alerts_sensor, delivery_sensors.slack_run_failure_sensor],
        ),
        resources(),
    )
