"""Churn and expansion models as assets (group `ml`): wiring only, the logic lives in the `ml` package.

    marts + int_account_versions -> ml/feature_snapshots  (blocking check: point_in_time)
    ml/feature_snapshots + marts/fct_revenue_events -> ml/<task>_training_set
    ml/<task>_training_set -> ml/<task>_model               (registry version; blocking check: promotion)
    ml/<task>_model + marts -> ml/<task>_scores             (checks: every_active_account_scored (blocking),
                                                             score_drift, feature_drift)

Tables are written to the DuckDB schema `ml`; on the `snowflake` target the `warehouse` resource first copies the
dbt-built inputs from Snowflake into the local DuckDB file and then the `ml` tables to Snowflake. Models go to the
registry (`CSOPS_MODELS_DIR`, default `<repo>/models`).
Jobs and schedules: `jobs.py` beside this module.
"""


import tempfile

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from ml import pipeline
from ml.config import TASKS, MLConfig, models_dir
from ml.features import data_bounds
from ml.leakage import check_point_in_time
from ml.registry import Registry
from ml.report import metrics_table
from orchestration.lib.pools import DUCKDB_POOL
from orchestration.lib.warehouse import Warehouse

GROUP = "ml"
FEATURE_SNAPSHOTS = dg.AssetKey(["ml", "feature_snapshots"])
FEATURE_SOURCES = [
    dg.AssetKey(["marts", "fct_account_daily"]),
    dg.AssetKey(["marts", "fct_account_health"]),
    dg.AssetKey(["marts", "fct_lean_waste"]),
    dg.AssetKey(["marts", "fct_account_phase_history"]),
    dg.AssetKey(["intermediate", "int_account_versions"]),
]
REVENUE_EVENTS = dg.AssetKey(["marts", "fct_revenue_events"])
# Where the data starts: the point-in-time check truncates its rebuilds there.
DATA_BOUNDS = [
    dg.AssetKey(["intermediate", "int_feature_calendar_bounds"]),
    dg.AssetKey(["intermediate", "int_revenue_bounds"]),
]


def _tables(keys: list[dg.AssetKey]) -> list[str]:
    return [".".join(key.path) for key in keys]


# Every dbt-built table the ML steps read: on the `snowflake` target, copied into the local DuckDB file first (the
# feature snapshots copy them all, for themselves, their point-in-time check and the training sets; scores read the
# feature sources only).
ML_INPUT_TABLES = _tables([*FEATURE_SOURCES, REVENUE_EVENTS, *DATA_BOUNDS])


def task_key(task: str, what: str) -> dg.AssetKey:
    return dg.AssetKey(["ml", f"{task}_{what}"])


def _config() -> MLConfig:
    return MLConfig.from_env()


def _registry() -> Registry:
    return Registry(models_dir())


@dg.asset(
    key=FEATURE_SNAPSHOTS,
    group_name=GROUP,
    deps=FEATURE_SOURCES,
    pool=DUCKDB_POOL,
    kinds={"duckdb", "python"},
    description="Point-in-time features of every active account every 7 days back from the as-of date "
    "(table ml.feature_snapshots): the rows every training set and score is built from.",
)
def feature_snapshots(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse
) -> dg.MaterializeResult:
    cfg = _config()
    with duckdb.get_connection() as con:
        warehouse.fetch_tables(con, ML_INPUT_TABLES, context.run_id, context.log.info)
        frame, as_of = pipeline.build_feature_snapshots(con, cfg)
        pipeline.write_table(con, frame, pipeline.FEATURE_TABLE)
        warehouse.store_tables(con, [pipeline.FEATURE_TABLE], context.log.info)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "accounts": int(frame["account_id"].nunique()),
        "snapshot_days": int(frame["snapshot_date"].nunique()), "as_of_date": str(as_of),
        "features": len(pipeline.FEATURE_NAMES), "cadence_days": cfg.cadence_days,
    })


@dg.asset_check(
    asset=FEATURE_SNAPSHOTS,
    name="point_in_time",
    blocking=True,
    additional_deps=[REVENUE_EVENTS, *DATA_BOUNDS],
    pool=DUCKDB_POOL,
    description="Features of sampled accounts and days, recomputed by dbt from raw data truncated at the snapshot "
    "day, are identical to the warehouse's: no feature reads the future.",
)
def point_in_time_check(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    cfg = _config()
    with tempfile.TemporaryDirectory(prefix="csops-pit-") as work, duckdb.get_connection() as con:
        result = check_point_in_time(con, cfg, work, log=context.log.info)
    return dg.AssetCheckResult(passed=result.passed, description=result.message, metadata=result.as_metadata())


def _training_set_frame(con, task: str):
    features = pipeline.read_table(con, pipeline.FEATURE_TABLE)
    labels = pipeline.read_table(con, pipeline.training_table(task))
    frame = features.merge(labels, on=["account_id", "snapshot_date"], how="inner", validate="one_to_one")
    return frame, data_bounds(con)[1]


def build_task_assets(task: str) -> list:
    training_key, model_key, scores_key = task_key(task, "training_set"), task_key(task, "model"), task_key(task, "scores")

    @dg.asset(
        key=training_key,
        group_name=GROUP,
        deps=[FEATURE_SNAPSHOTS, REVENUE_EVENTS],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description=f"{task.capitalize()} labels of every feature snapshot (outcome within the horizon; unknown when "
        f"the window runs past the as-of date) and its temporal slice (table {pipeline.training_table(task)}).",
    )
    def training_set(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        cfg = _config()
        # Labels come from the revenue events fetched with the snapshots' inputs, so both describe the same data.
        with duckdb.get_connection() as con:
            features = pipeline.read_table(con, pipeline.FEATURE_TABLE)
            as_of = data_bounds(con)[1]
            labelled = pipeline.build_training_set(con, features, task, cfg, as_of)
            pipeline.write_table(con, labelled[["account_id", "snapshot_date", *pipeline.LABEL_COLUMNS]],
                                 pipeline.training_table(task))
            warehouse.store_tables(con, [pipeline.training_table(task)], context.log.info)
        summary = pipeline.training_set_summary(labelled)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": summary["rows"], "labelled_rows": summary["labelled_rows"],
            "positive_rows": summary["positive_rows"], "horizon_days": cfg.horizon_days,
            "slices": dg.MetadataValue.json(summary["slices"]),
        })

    @dg.asset(
        key=model_key,
        group_name=GROUP,
        deps=[training_key],
        pool=DUCKDB_POOL,
        kinds={"lightgbm", "python"},
        description=f"LightGBM {task} model trained on the older snapshots, early-stopped on validation, calibrated "
        "on a later slice and measured with both baselines on the out-of-time test slice; written to the registry "
        "and promoted to champion only when it beats the baselines and the champion.",
    )
    def model(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        cfg = _config()
        with duckdb.get_connection() as con:
            frame, as_of = _training_set_frame(con, task)
        run = pipeline.train_and_register(frame, task, cfg, _registry(), as_of, log=context.log.info)
        metrics = run.metrics_for_table()
        model_metrics = metrics.get("model") or {}
        metadata = {
            "status": run.result.status, "version": run.version or "none", "promoted": run.promoted,
            "champion": run.champion or "none", "decision": run.decision.summary(),
            "reasons": "; ".join(run.result.reasons) or "none",
            "metrics": dg.MetadataValue.md(metrics_table(metrics)),
            "registry": str(_registry().root),
        }
        for name in ("roc_auc", "pr_auc", "brier", "recall_at_10", "recall_at_20", "lift_at_10", "lift_at_20",
                     "outcome_recall_at_20", "lead_time_median_at_20", "roc_auc_renewal_due"):
            value = model_metrics.get(name)
            if value is not None:
                metadata[name] = float(value)
        for baseline in ("health_score", "logistic_regression"):
            value = (metrics.get(baseline) or {}).get("roc_auc")
            if value is not None:
                metadata[f"{baseline}_roc_auc"] = float(value)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset_check(
        asset=model_key,
        name="promotion",
        blocking=True,
        description="Passes when the new model was promoted; warns (champion stays, or scores fall back to the "
        "health score) and says why otherwise; fails when the champion in use cannot be loaded.",
    )
    def promotion_check() -> dg.AssetCheckResult:
        registry = _registry()
        decisions = registry.decisions(task)
        last = decisions[-1] if decisions else None
        champion, why = pipeline.load_champion(registry, task)
        metadata = {"champion": registry.champion(task) or "none",
                    "last_version": (last or {}).get("version") or "none",
                    "reasons": dg.MetadataValue.json((last or {}).get("reasons") or [])}
        if registry.champion(task) and champion is None:
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=why,
                                       metadata=metadata)
        if last and last.get("promoted"):
            return dg.AssetCheckResult(passed=True, description=f"promoted {last['version']}: "
                                       + "; ".join(last["reasons"]), metadata=metadata)
        if champion is None:
            text = f"no {task} model in use; scores fall back to the health score. " + why
        else:
            text = f"champion {champion.version} stays: " + "; ".join((last or {}).get("reasons") or [])
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description=text,
                                   metadata=metadata)

    @dg.asset(
        key=scores_key,
        group_name=GROUP,
        deps=[model_key, *FEATURE_SOURCES],
        pool=DUCKDB_POOL,
        kinds={"duckdb", "python"},
        description=f"{task.capitalize()} risk of every active account on the as-of day (table "
        f"{pipeline.scores_table(task)}): calibrated probability, risk band, top reasons in plain words, model "
        "version and data as-of date; PSI drift vs the test slice in ml." + f"{task}_drift.",
    )
    def scores(context: dg.AssetExecutionContext, duckdb: DuckDBResource, warehouse: Warehouse) -> dg.MaterializeResult:
        cfg = _config()
        with duckdb.get_connection() as con:
            warehouse.fetch_tables(con, _tables(FEATURE_SOURCES), context.run_id, context.log.info)
            run = pipeline.score_task(con, task, cfg, _registry())
            pipeline.write_table(con, run.scores, pipeline.scores_table(task))
            report = run.drift if run.drift is not None else pd.DataFrame(columns=["kind", "name", "psi", "status"])
            report = report.assign(task=task, model_version=run.model.version if run.model else None,
                                   as_of_date=run.as_of)
            pipeline.write_table(con, report, f"ml.{task}_drift")
            warehouse.store_tables(con, [pipeline.scores_table(task), f"ml.{task}_drift"], context.log.info)
        bands = run.scores["risk_band"].value_counts().to_dict()
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(run.scores), "as_of_date": str(run.as_of),
            "model_version": run.model.version if run.model else "baseline:health_score",
            "why_no_model": run.why_no_model or "none",
            "scoring_day_note": run.day_note or "the as-of day",
            "bands": dg.MetadataValue.json({str(k): int(v) for k, v in bands.items()}),
            "drift": dg.MetadataValue.json(pipeline.drift_summary(run.drift, cfg)),
        })

    @dg.asset_check(asset=scores_key, name="every_active_account_scored", blocking=True, pool=DUCKDB_POOL,
                    description="Exactly one score row with a risk band for every account active on the as-of day.")
    def every_active_account_scored(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            frame = pipeline.read_table(con, pipeline.scores_table(task))
            ok, active, rows = pipeline.as_of_scores_every_active(con, frame)
        return dg.AssetCheckResult(passed=ok, metadata={"active_accounts": active, "score_rows": rows})

    def _drift_check(kind: str):
        @dg.asset_check(asset=scores_key, name=f"{kind}_drift", pool=DUCKDB_POOL,
                        description=f"Population stability index of the {kind}{'s' if kind == 'feature' else ''}, "
                        "the model's test slice vs today's scoring set: warn above 0.1, fail above 0.25.")
        def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
            cfg = _config()
            with duckdb.get_connection() as con:
                report = con.execute(f"select * from ml.{task}_drift where kind = ?", [kind]).df()
            if report.empty:
                return dg.AssetCheckResult(passed=True, description="no model in use: nothing to compare",
                                           metadata={"rows": 0})
            worst = report.sort_values("psi", ascending=False).head(10)
            metadata = {"max_psi": float(report["psi"].max()),
                        "worst": dg.MetadataValue.json([{"name": r.name, "psi": round(float(r.psi), 4)}
                                                        for r in worst.itertuples()]),
                        "warn_above": cfg.psi_warn, "fail_above": cfg.psi_fail}
            exempt = report[report["status"] == "exempt"]
            if len(exempt):
                metadata["exempt_clock_features"] = dg.MetadataValue.json(
                    {r.name: round(float(r.psi), 4) for r in exempt.itertuples()})
            gated = report[report["status"] != "exempt"]
            failing = gated[gated["psi"] > cfg.psi_fail]
            warning = gated[gated["psi"] > cfg.psi_warn]
            if len(failing):
                return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                           description=f"PSI above {cfg.psi_fail}: "
                                           + ", ".join(failing["name"].head(10)))
            if len(warning):
                return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
                                           description=f"PSI above {cfg.psi_warn}: "
                                           + ", ".join(warning["name"].head(10)))
            return dg.AssetCheckResult(passed=True, metadata=metadata)

        return _check

    return [training_set, model, promotion_check, scores, every_active_account_scored, _drift_check("score"),
            _drift_check("feature")]


task_defs = {task: build_task_assets(task) for task in TASKS}
churn_training_set, churn_model, churn_promotion, churn_scores, *churn_score_checks = task_defs["churn"]
expansion_training_set, expansion_model, expansion_promotion, expansion_scores, *expansion_score_checks = \
    task_defs["expansion"]
