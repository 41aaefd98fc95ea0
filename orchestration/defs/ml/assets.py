"""Churn and expansion models as assets (group `ml`): wiring only, each asset calls one step of `ml.pipeline`.

    marts + int_account_versions -> ml/feature_snapshots  (blocking check: point_in_time)
    ml/feature_snapshots + marts/fct_revenue_events -> ml/<task>_training_set
    ml/<task>_training_set -> ml/<task>_model               (registry version, or skipped when nothing changed;
                                                             blocking check: promotion)
    ml/<task>_model + marts -> ml/<task>_scores             (checks: every_active_account_scored (blocking),
                                                             score_drift, feature_drift)

Tables are written to the DuckDB schema `ml`; on the `snowflake` target the `warehouse` resource first copies the
dbt-built inputs from Snowflake into the local DuckDB file and then the `ml` tables to Snowflake. Models go to the
registry (`CSOPS_MODELS_DIR`, default `<repo>/models`). Checks: `checks.py`; jobs and schedules: `jobs.py`.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ml import pipeline
from ml.config import TASKS, MLConfig, models_dir
from ml.registry import Registry
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse

GROUP = "ml"
FEATURE_SNAPSHOTS = dg.AssetKey(["ml", "feature_snapshots"])
HEALTH = dg.AssetKey(["marts", "fct_account_health"])
FEATURE_SOURCES = [
    dg.AssetKey(["marts", "fct_account_daily"]),
    HEALTH,
    dg.AssetKey(["marts", "fct_lean_waste"]),
    dg.AssetKey(["marts", "fct_account_phase_history"]),
    dg.AssetKey(["marts", "fct_account_voice"]),
    dg.AssetKey(["intermediate", "int_account_versions"]),
    dg.AssetKey(["intermediate", "int_feature_usage_type_daily"]),
    dg.AssetKey(["staging", "stg_contracts"]),
]
REVENUE_EVENTS = dg.AssetKey(["marts", "fct_revenue_events"])
# Where the data starts: the point-in-time check truncates its rebuilds there.
DATA_BOUNDS = [
    dg.AssetKey(["intermediate", "int_feature_calendar_bounds"]),
    dg.AssetKey(["intermediate", "int_revenue_bounds"]),
]


def tables(keys: list[dg.AssetKey]) -> list[str]:
    return [".".join(key.path) for key in keys]


# Every dbt-built table the ML steps read: on the `snowflake` target, copied into the local DuckDB file first (the
# feature snapshots copy them all, for themselves, their point-in-time check and the training sets; scores read the
# feature sources only).
ML_INPUT_TABLES = tables([*FEATURE_SOURCES, REVENUE_EVENTS, *DATA_BOUNDS])


def task_key(task: str, what: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", f"{task}_{what}"])


def config() -> MLConfig:
    return MLConfig.from_env()


def registry() -> Registry:
    return Registry(models_dir())


@dg.asset(
    key=FEATURE_SNAPSHOTS,
    group_name=GROUP,
    deps=FEATURE_SOURCES,
    pool=DUCKDB_POOL,
    kinds={"duckdb", "python"},
    description="Point-in-time features of every active account every 7 days back from the as-of date "
    "(table ml.feature_snapshots, the run's as-of date in ml.as_of, the event types of the event-type slots in "
    "ml.event_types, the data profile in ml.data_profile): the rows every training set is built from.",
)
def feature_snapshots(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse
) -> dg.MaterializeResult:
    cfg = config()
    with duckdb.get_connection() as con:
        warehouse.fetch_tables(con, ML_INPUT_TABLES, context.run_id, context.log.info)
        as_of = pipeline.refresh_feature_snapshots(con, cfg)
        summary = pipeline.feature_snapshot_summary(con)
        warehouse.store_tables(con, [pipeline.FEATURE_TABLE, pipeline.AS_OF_TABLE, pipeline.PROFILE_TABLE,
                                     pipeline.EVENT_TYPES_TABLE], context.log.info)
    return dg.MaterializeResult(metadata={"dagster/row_count": summary.pop("rows"), **summary,
                                          **as_of.as_metadata(), "cadence_days": cfg.cadence_days})


def training_set_asset(task: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=task_key(task, "training_set"),
        group_name=GROUP,
        deps=[FEATURE_SNAPSHOTS, REVENUE_EVENTS],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description=f"{task.capitalize()} labels of every feature snapshot (outcome within the horizon; unknown when "
        f"the window runs past the as-of date) and its backtest window (table {pipeline.training_table(task)}).",
    )
    def training_set(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        cfg = config()
        # Labels come from the revenue events fetched with the snapshots' inputs, so both describe the same data.
        with duckdb.get_connection() as con:
            summary = pipeline.refresh_training_set(con, task, cfg, pipeline.read_as_of(con))
            warehouse.store_tables(con, [pipeline.training_table(task)], context.log.info)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": summary["rows"], "labelled_rows": summary["labelled_rows"],
            "positive_rows": summary["positive_rows"], "horizon_days": cfg.horizon_days,
            "slices": summary["slices"],
        })

    return training_set


def model_asset(task: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=task_key(task, "model"),
        group_name=GROUP,
        deps=[task_key(task, "training_set")],
        pool=DUCKDB_POOL,
        kinds={"lightgbm", "python"},
        description=f"{task.capitalize()} champion chosen by a rolling-origin backtest among days to term end, the "
        "configured and a learned health score, logistic regression and LightGBM (ROC-AUC with bootstrap intervals "
        "by account), calibrated on the latest labelled period; written to the registry and promoted unless the "
        "champion does better on that period. Skipped when the training data and config are those of the last "
        "training.",
    )
    def model(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            run = pipeline.train(con, task, config(), registry(), pipeline.read_as_of(con), log=context.log.info)
        metadata = run.as_metadata()
        return dg.MaterializeResult(metadata=metadata | {"metrics": dg.MetadataValue.md(metadata["metrics"]),
                                                         "registry": str(registry().root)})

    return model


def scores_asset(task: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=task_key(task, "scores"),
        group_name=GROUP,
        deps=[task_key(task, "model"), *FEATURE_SOURCES],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description=f"{task.capitalize()} risk of every active account on the as-of day (table "
        f"{pipeline.scores_table(task)}): calibrated probability, risk band, top reasons in plain words, model "
        f"version and data as-of date; PSI drift vs the test slice in {pipeline.drift_table(task)}.",
    )
    def scores(context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse
               ) -> dg.MaterializeResult:
        cfg = config()
        with duckdb.get_connection() as con:
            warehouse.fetch_tables(con, tables(FEATURE_SOURCES), context.run_id, context.log.info)
            run = pipeline.score(con, task, cfg, registry())
            warehouse.store_tables(con, run.tables, context.log.info)
        return dg.MaterializeResult(metadata=run.as_metadata(cfg))

    return scores


task_assets = [step(task) for task in TASKS for step in (training_set_asset, model_asset, scores_asset)]
