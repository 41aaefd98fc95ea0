"""The steps the Dagster assets and `lab.evaluate` share, as plain functions over a DuckDB connection.

    feature snapshots  -> ml.feature_snapshots         (features of every active account, every 7 days)
    training set       -> ml.<task>_training_set       (labels, label known?, slice)
    train + register   -> models/<task>/<version>/      (and the champion pointer when promoted)
    score              -> ml.<task>_scores              (every active account on the as-of day)
    drift              -> PSI of features and score, training slice vs today's scoring set
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd

from ml import drift as drift_mod
from ml.config import MLConfig
from ml.features import DRIFT_EXEMPT
from ml.features import FEATURE_BY_NAME, FEATURE_NAMES, build_feature_frame, data_bounds, scoring_day, \
    snapshot_dates
from ml.labels import label_snapshots, load_outcome_events
from ml.metrics import evaluate_scores
from ml.promotion import Decision, decide
from ml.registry import LoadedModel, Registry
from ml.report import model_card
from ml.scoring import score_accounts
from ml.split import NotEnoughHistory, temporal_split
from ml.train import TaskResult, fit_task

SCHEMA = "ml"
FEATURE_TABLE = f"{SCHEMA}.feature_snapshots"
LABEL_COLUMNS = ["label", "label_known", "event_date", "slice"]


def training_table(task: str) -> str:
    return f"{SCHEMA}.{task}_training_set"


def scores_table(task: str) -> str:
    return f"{SCHEMA}.{task}_scores"


def write_table(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, table: str) -> int:
    """Replace `table` (schema.name) with the frame's rows."""
    schema = table.split(".")[0]
    con.execute(f"create schema if not exists {schema}")
    data = frame  # noqa: F841 (read by DuckDB by name)
    con.execute(f"create or replace table {table} as select * from data")
    return len(frame)


def read_table(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    frame = con.execute(f"select * from {table}").df()
    for column in ("snapshot_date", "event_date", "next_renewal_date", "as_of_date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    if "account_id" in frame:
        frame["account_id"] = frame["account_id"].astype(str)
    return frame


# ---------------------------------------------------------------------------------------------------------------------
# feature snapshots and training sets


def build_feature_snapshots(con: duckdb.DuckDBPyConnection, cfg: MLConfig) -> tuple[pd.DataFrame, date]:
    """Features every `cadence_days` back from the scoring day; returns them and the data's as-of date (labels)."""
    start, as_of = data_bounds(con)
    anchor, _ = scoring_day(con)
    dates = snapshot_dates(start, anchor, cfg.cadence_days, cfg.warmup_days) or [anchor]
    return build_feature_frame(con, dates), as_of


def build_training_set(con: duckdb.DuckDBPyConnection, features: pd.DataFrame, task: str, cfg: MLConfig,
                       as_of: date) -> pd.DataFrame:
    """Features + label, label_known, event_date, and the slice each labelled snapshot falls in."""
    events = load_outcome_events(con, task, cfg)
    labelled = label_snapshots(features, events, as_of, cfg.horizon_days, cfg.label_delay_days(task))
    labelled["slice"] = "unlabelled"
    known = labelled["label_known"].to_numpy()
    try:
        split = temporal_split(labelled.loc[known, "snapshot_date"].unique(), cfg)
        labelled.loc[known, "slice"] = split.assign(labelled.loc[known, "snapshot_date"],
                                                    labelled.loc[known, "account_id"]).to_numpy()
    except NotEnoughHistory:
        labelled.loc[known, "slice"] = "no_split"
    return labelled


def training_set_summary(training_set: pd.DataFrame) -> dict:
    by_slice = training_set.groupby("slice").agg(rows=("label", "size"), positives=("label", "sum"),
                                                 first_day=("snapshot_date", "min"), last_day=("snapshot_date", "max"))
    return {
        "rows": int(len(training_set)),
        "labelled_rows": int(training_set["label_known"].sum()),
        "positive_rows": int((training_set["label"] == 1).sum()),
        "accounts": int(training_set["account_id"].nunique()),
        "slices": {k: {"rows": int(v.rows), "positives": int(v.positives), "first_day": str(v.first_day),
                       "last_day": str(v.last_day)} for k, v in by_slice.iterrows()},
    }


# ---------------------------------------------------------------------------------------------------------------------
# training, champion comparison, registry


@dataclass
class TrainingRun:
    task: str
    result: TaskResult
    decision: Decision
    version: str | None
    champion: str | None  # after this run
    champion_metrics: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return self.decision.promote and self.version is not None

    def metrics_for_table(self) -> dict:
        out = dict(self.result.metrics)
        if self.champion_metrics:
            out["champion"] = self.champion_metrics
        return out


def _test_rows(training_set: pd.DataFrame, result: TaskResult) -> pd.DataFrame:
    known = training_set[training_set["label_known"]]
    return known[result.split.assign(known["snapshot_date"], known["account_id"]).to_numpy() == "test"]


def champion_on_test(registry: Registry, task: str, training_set: pd.DataFrame, result: TaskResult,
                     cfg: MLConfig) -> tuple[str | None, dict | None, str]:
    """The current champion measured on the new test slice: (version, metrics or None, why not)."""
    version = registry.champion(task)
    if version is None or result.split is None:
        return version, None, ""
    try:
        model = registry.load(task, version)
    except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
        return version, None, f"it could not be loaded: {exc}"
    missing = [f for f in model.features if f not in training_set.columns]
    if missing:
        return version, None, f"it needs features the data no longer has: {', '.join(missing)}"
    test = _test_rows(training_set, result)
    if test.empty:
        return version, None, "the test slice is empty"
    raw = model.booster.predict(test[model.features].to_numpy(dtype=float), raw_score=True, num_threads=1,
                                num_iteration=model.booster.best_iteration or None)
    metrics = evaluate_scores(test, raw, model.calibrator.predict(raw), cfg.review_budgets, cfg.horizon_days)
    trained_until = (model.training.get("split") or {}).get("train", [None, None])[1]
    note = ""
    if trained_until and str(trained_until) >= str(result.split.test[0]):
        note = f"its training data reaches {trained_until}, inside this test slice: the comparison favours it"
    metrics["note"] = note
    return version, metrics, note


def train_and_register(training_set: pd.DataFrame, task: str, cfg: MLConfig, registry: Registry, as_of: date,
                       log=lambda _msg: None) -> TrainingRun:
    """Fit, compare with the baselines and the champion on the same test slice, write the version, maybe promote."""
    result = fit_task(training_set, task, cfg)
    log(result.summary())
    champion_version, champion_metrics, champion_note = champion_on_test(registry, task, training_set, result, cfg)
    decision = decide(result.status, result.reasons, result.metrics, champion_version, champion_metrics,
                      cfg.promotion_metric, cfg.promotion_margin, champion_note)
    version = None
    if result.trained:
        version = registry.new_version_id(task, result.data_hash)
        files = version_files(task, version, result, decision, champion_version, champion_metrics, cfg, as_of)
        registry.write_version(task, version, result.booster, files)
        if decision.promote:
            registry.set_champion(task, version)
    registry.log_decision({"task": task, "version": version, "status": result.status, "promoted": decision.promote,
                           "champion_before": champion_version, "champion_after": registry.champion(task),
                           "reasons": decision.reasons, "metric": decision.metric, "candidate": decision.candidate,
                           "compared": decision.compared, "as_of_date": str(as_of),
                           "decided_at": datetime.now(UTC).isoformat(timespec="seconds")})
    log(decision.summary())
    return TrainingRun(task, result, decision, version, registry.champion(task), champion_metrics)


def version_files(task: str, version: str, result: TaskResult, decision: Decision, champion_version: str | None,
                  champion_metrics: dict | None, cfg: MLConfig, as_of: date) -> dict:
    training = {
        "task": task, "version": version, "status": result.status, "reasons": result.reasons,
        "as_of_date": str(as_of), "split": result.split.as_dict() if result.split else None,
        "counts": result.counts, "horizon_days": cfg.horizon_days, "cadence_days": cfg.cadence_days,
        "label_delay_days": cfg.label_delay_days(task), "warmup_days": cfg.warmup_days,
        "best_iteration": result.best_iteration, "params": result.params, "seed": cfg.seed,
        "num_threads": cfg.num_threads, "data_hash": result.data_hash, "lightgbm_version": lgb.__version__,
        "python": platform.python_version(), "config": cfg.as_dict(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    metrics = {"test_slice": list(result.split.as_dict()["test"]) if result.split else None,
               **{k: v for k, v in result.metrics.items()},
               "champion": champion_metrics, "champion_version": champion_version,
               "promotion_metric": cfg.promotion_metric, "promotion_margin": cfg.promotion_margin}
    calibration = result.calibrator.as_dict(result.score_range) | {"bands": result.band_thresholds,
                                                                    "input": "LightGBM raw score (log-odds)"}
    features = {"features": result.features,
                "families": {f: FEATURE_BY_NAME[f].family for f in result.features if f in FEATURE_BY_NAME},
                "descriptions": {f: FEATURE_BY_NAME[f].description for f in result.features if f in FEATURE_BY_NAME},
                "importance_gain": result.importance}
    return {
        "features.json": features, "training.json": training, "metrics.json": metrics,
        "calibration.json": calibration, "drift_reference.json": result.drift_reference,
        "promotion.json": decision.as_dict(),
        "MODEL_CARD.md": model_card(task, version, training, metrics, calibration, decision.as_dict(),
                                    result.importance, cfg),
    }


# ---------------------------------------------------------------------------------------------------------------------
# scoring and drift


@dataclass
class ScoringRun:
    task: str
    scores: pd.DataFrame
    model: LoadedModel | None
    as_of: date
    why_no_model: str
    drift: pd.DataFrame | None
    day_note: str = ""


def scoring_frame(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, date, str]:
    """Features of every account active on the scoring day (the as-of day unless it is still partial)."""
    day, note = scoring_day(con)
    return build_feature_frame(con, [day]), day, note


def load_champion(registry: Registry, task: str) -> tuple[LoadedModel | None, str]:
    version = registry.champion(task)
    if version is None:
        decisions = registry.decisions(task)
        last = decisions[-1] if decisions else None
        why = f"no {task} model has been promoted yet"
        if last:
            why += f"; last training: {'; '.join(last.get('reasons') or [])}"
        return None, why
    try:
        return registry.load(task, version), ""
    except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
        return None, f"champion {version} could not be loaded: {exc}"


def score_task(con: duckdb.DuckDBPyConnection, task: str, cfg: MLConfig, registry: Registry,
               frame: pd.DataFrame | None = None, as_of: date | None = None) -> ScoringRun:
    note = ""
    if frame is None:
        frame, as_of, note = scoring_frame(con)
    model, why = load_champion(registry, task)
    scores = score_accounts(frame, task, model, cfg, why)
    used = model if (scores["model_version"] != "baseline:health_score").any() else None
    drift = None
    if used is not None and used.drift_reference:
        raw = scores.set_index("account_id")["raw_score"].reindex(frame["account_id"].astype(str)).to_numpy()
        drift = drift_mod.drift_report(used.drift_reference, frame, raw, cfg.psi_warn, cfg.psi_fail,
                                       exempt=DRIFT_EXEMPT)
    return ScoringRun(task, scores, used, as_of or frame["snapshot_date"].max(), why, drift, note)


def drift_summary(report: pd.DataFrame | None, cfg: MLConfig) -> dict:
    if report is None or report.empty:
        return {"status": "unknown", "worst": []}
    worst = report.head(10)
    status = "fail" if (report["status"] == "fail").any() else "warn" if (report["status"] == "warn").any() else "ok"
    return {"status": status, "score_psi": float(report.loc[report["kind"] == "score", "psi"].max())
            if (report["kind"] == "score").any() else None,
            "features_warn": int((report["status"] == "warn").sum()),
            "features_fail": int(((report["status"] == "fail") & (report["kind"] == "feature")).sum()),
            "worst": [{"name": r.name, "psi": round(float(r.psi), 4), "status": r.status} for r in worst.itertuples()],
            "thresholds": {"warn": cfg.psi_warn, "fail": cfg.psi_fail}}


def as_of_scores_every_active(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame) -> tuple[bool, int, int]:
    """(every account active on the scoring day has exactly one score row with a band, active accounts, rows)."""
    days = set(scores["as_of_date"]) if len(scores) else set()
    as_of = days.pop() if len(days) == 1 else scoring_day(con)[0]
    active = {r[0] for r in con.execute("select account_id from marts.fct_account_daily where date_day = ?",
                                        [as_of]).fetchall()}
    scored = scores["account_id"].astype(str)
    ok = set(scored) == active and scored.is_unique and not np.any(pd.isna(scores["risk_band"]))
    return ok, len(active), len(scores)
