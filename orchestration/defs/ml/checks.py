"""Checks of the ML assets: adapters from the verdicts of `ml` (point in time, promotion, drift, coverage) to
`AssetCheckResult`; no thresholds or rules here."""

import tempfile

import dagster as dg
from dagster_duckdb import DuckDBResource

from ml import drift, pipeline
from ml.config import TASKS
from ml.leakage import check_point_in_time
from ml.promotion import champion_status, health_score_status
from orchestration.defs.ml.assets import DATA_BOUNDS, FEATURE_SNAPSHOTS, HEALTH, REVENUE_EVENTS, config, registry, \
    task_key
from orchestration.lib.pools import DUCKDB_POOL

SEVERITY = {"WARN": dg.AssetCheckSeverity.WARN, "FAIL": dg.AssetCheckSeverity.ERROR}


def result(status: str, description: str, metadata: dict) -> dg.AssetCheckResult:
    """A domain verdict (PASS / WARN / FAIL, description, metadata) as a check result."""
    return dg.AssetCheckResult(passed=status == "PASS", severity=SEVERITY.get(status, dg.AssetCheckSeverity.ERROR),
                               description=description, metadata=metadata)


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
    with tempfile.TemporaryDirectory(prefix="csops-pit-") as work, duckdb.get_connection() as con:
        outcome = check_point_in_time(con, config(), work, log=context.log.info, as_of=pipeline.read_as_of(con))
    return dg.AssetCheckResult(passed=outcome.passed, description=outcome.message, metadata=outcome.as_metadata())


@dg.asset_check(
    asset=FEATURE_SNAPSHOTS,
    name="data_profile",
    pool=DUCKDB_POOL,
    description="Warns when the data leaves feature families empty or constant: most usage events unmapped by the "
    "seed vocabulary (feature_categories), or an optional source (tickets, surveys, activities, contacts) absent; "
    "says which features.",
)
def data_profile_check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        profile = pipeline.read_data_profile(con)
    return result(profile.status, profile.summary(), profile.as_metadata())


def promotion_check(task: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=task_key(task, "model"), name="promotion", blocking=True,
                    description="Passes when the new model was promoted; warns (champion stays, or scores fall back "
                    "to the health score) and says why otherwise; fails when the champion in use cannot be loaded.")
    def promotion() -> dg.AssetCheckResult:
        return result(*champion_status(registry(), task))

    return promotion


def coverage_check(task: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=task_key(task, "scores"), name="every_active_account_scored", blocking=True,
                    pool=DUCKDB_POOL,
                    description="Exactly one score row with a risk band for every account active on the as-of day.")
    def every_active_account_scored(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            ok, active, rows = pipeline.every_active_account_scored(con, task)
        return dg.AssetCheckResult(passed=ok, metadata={"active_accounts": active, "score_rows": rows})

    return every_active_account_scored


def drift_check(task: str, kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=task_key(task, "scores"), name=f"{kind}_drift", pool=DUCKDB_POOL,
                    description=f"Population stability index of the {kind}{'s' if kind == 'feature' else ''}, the "
                    "model's latest labelled window vs today's scoring set: warns or fails at the ML config's thresholds "
                    "(psi_warn 0.1, psi_fail 0.25 by default).")
    def check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            report = pipeline.read_drift(con, task, kind)
        return result(*drift.verdict(report, config()))

    return check


task_checks = [check for task in TASKS for check in (promotion_check(task), coverage_check(task),
                                                      drift_check(task, "score"), drift_check(task, "feature"))]


@dg.asset_check(asset=HEALTH, name="ranks_past_outcomes", additional_deps=[task_key(t, "model") for t in TASKS],
                description="Warns when the configured health score (dbt var csops_health) ranks past churns or "
                "expansions backwards or no better than chance out of time (the last backtest's ROC-AUC interval by "
                "account reaches 0.5), naming the weights fitted from past outcomes.")
def health_score_check() -> dg.AssetCheckResult:
    status, description, metadata = health_score_status(registry(), TASKS)
    return result(status, description, {k: str(v) for k, v in metadata.items()})
