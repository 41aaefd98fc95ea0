"""The ML steps, whole: each reads and writes its tables over a DuckDB connection. The Dagster assets, the benchmark
(`lab.bench.stages`) and `lab.evaluate` only choose the order and the connection and call these.

    refresh_feature_snapshots  -> ml.feature_snapshots, ml.as_of   (features of every active account every 7 days;
                                  ml.data_profile                   the AsOf every later step of the run uses; the
                                                                    data profile: feature families the data leaves
                                                                    empty, ml.profile)
    refresh_training_set       -> ml.<task>_training_set            (labels, label known?, slice)
    train                      -> models/<task>/<version>/          (and the champion pointer when promoted; skipped
                                                                    when data and config are those of the last one)
    score                      -> ml.<task>_scores, ml.<task>_drift (every active account on the scoring day; PSI
                                                                    of features and score vs the model's test slice)
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd

from ml import drift as drift_mod
from ml.config import CANDIDATES, TASKS, MLConfig
from ml.features import CATEGORY_CODES, DRIFT_EXEMPT, FEATURE_BY_NAME, FEATURE_NAMES, build_feature_frame, data_bounds, scoring_day, \
    feature_query, fit_event_types, snapshot_dates
from ml.labels import label_snapshots, load_outcome_events
from ml.metrics import evaluate_scores
from ml.profile import DataProfile, profile_data
from ml.promotion import Decision, decide, health_record, health_warning
from ml.registry import LoadedModel, Registry
from ml.report import metrics_table, model_card
from ml.scoring import BASELINE_VERSION, score_accounts
from ml.split import NotEnoughHistory, backtest_plan
from ml.train import TaskResult, categorical, fit_task

SCHEMA = "ml"
FEATURE_TABLE = f"{SCHEMA}.feature_snapshots"
AS_OF_TABLE = f"{SCHEMA}.as_of"
PROFILE_TABLE = f"{SCHEMA}.data_profile"
EVENT_TYPES_TABLE = f"{SCHEMA}.event_types"
LABEL_COLUMNS = ["label", "label_known", "event_date", "slice"]
DRIFT_COLUMNS = ["kind", "name", "psi", "status"]
# Metrics the model asset shows as numbers (plotted by Dagster across runs); the full table goes beside them.
HEADLINE_METRICS = ("roc_auc", "pr_auc", "brier", "recall_at_10", "recall_at_20", "lift_at_10", "lift_at_20",
                    "outcome_recall_at_20", "lead_time_median_at_20", "roc_auc_renewal_due")


def training_table(task: str) -> str:
    return f"{SCHEMA}.{task}_training_set"


def scores_table(task: str) -> str:
    return f"{SCHEMA}.{task}_scores"


def drift_table(task: str) -> str:
    return f"{SCHEMA}.{task}_drift"


def write_table(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, table: str) -> int:
    """Replace `table` (schema.name) with the frame's rows."""
    schema = table.split(".")[0]
    con.execute(f"create schema if not exists {schema}")
    data = frame  # noqa: F841 (read by DuckDB by name)
    con.execute(f"create or replace table {table} as select * from data")
    return len(frame)


def read_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    frame = con.execute(f"select {', '.join(columns or ['*'])} from {table}").df()
    for column in ("snapshot_date", "event_date", "next_renewal_date", "as_of_date", "scoring_day"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    if "account_id" in frame:
        frame["account_id"] = frame["account_id"].astype(str)
    return frame


# ---------------------------------------------------------------------------------------------------------------------
# the as-of date, computed once per run


@dataclass(frozen=True)
class AsOf:
    """`as_of`: the last day of data; a label is known when its window ends before it. `scoring_day`: the day the
    scores and the snapshot grid describe, the as-of day unless it is still partial; `note` says why not."""

    as_of: date
    scoring_day: date
    note: str = ""

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> AsOf:
        """From the feature marts as they are now."""
        day, note = scoring_day(con)
        return cls(data_bounds(con)[1], day, note)

    def as_metadata(self) -> dict:
        return {"as_of_date": str(self.as_of), "scoring_day": str(self.scoring_day),
                "scoring_day_note": self.note or "the as-of day"}


def read_as_of(con: duckdb.DuckDBPyConnection) -> AsOf:
    """The AsOf the feature snapshots were built for: the training sets and models of the run label with it."""
    row = con.execute(f"select as_of_date, scoring_day, note from {AS_OF_TABLE}").fetchone()
    return AsOf(pd.Timestamp(row[0]).date(), pd.Timestamp(row[1]).date(), row[2] or "")


# ---------------------------------------------------------------------------------------------------------------------
# feature snapshots and training sets


def training_window_end(dates: list[date], as_of: AsOf, cfg: MLConfig) -> date:
    """The last training day of the oldest backtest window the tasks' plans will make (with the longest label delay,
    so no task's trains earlier): what may be fitted on before the plan exists, like the event-type slots, without
    reaching into any window's test days."""
    delay = max(cfg.label_delay_days(task) for task in TASKS)
    known = [d for d in dates if d + timedelta(days=delay) <= as_of.as_of]
    try:
        return backtest_plan(known, cfg).folds[-1].train[1]
    except NotEnoughHistory:  # no model trains on these snapshots; the slots only serve scoring
        return known[-1] if known else as_of.scoring_day


def write_feature_snapshots(con: duckdb.DuckDBPyConnection, cfg: MLConfig, as_of: AsOf,
                            event_types: list[str] | None = None) -> None:
    """Features every `cadence_days` back from the scoring day, from `warmup_days` after the data start, written by
    the query itself: a round trip through pandas added seconds at 10,000 accounts."""
    sql, params = feature_query(con, feature_snapshot_dates(con, cfg, as_of), event_types=event_types)
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create or replace table {FEATURE_TABLE} as {sql}", params)


def feature_snapshot_dates(con: duckdb.DuckDBPyConnection, cfg: MLConfig, as_of: AsOf) -> list[date]:
    start, _ = data_bounds(con)
    return snapshot_dates(start, as_of.scoring_day, cfg.cadence_days, cfg.warmup_days) or [as_of.scoring_day]


def read_event_types(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The event types of the feature snapshots' slots, most frequent (in the training window) first."""
    return [r[0] for r in con.execute(f"select event_type from {EVENT_TYPES_TABLE} order by slot").fetchall()]


def refresh_feature_snapshots(con: duckdb.DuckDBPyConnection, cfg: MLConfig) -> AsOf:
    """Rebuild `ml.feature_snapshots` (event-type slots fitted on the training window, `ml.event_types`), record
    the AsOf they were built for in `ml.as_of` and the data profile of the scoring day in `ml.data_profile`."""
    as_of = AsOf.of(con)
    event_types = fit_event_types(con, training_window_end(feature_snapshot_dates(con, cfg, as_of), as_of, cfg))
    write_table(con, pd.DataFrame({"slot": pd.Series(range(1, len(event_types) + 1), dtype="int64"),
                                   "event_type": pd.Series(event_types, dtype=object)}), EVENT_TYPES_TABLE)
    write_feature_snapshots(con, cfg, as_of, event_types)
    write_table(con, pd.DataFrame({"as_of_date": [as_of.as_of], "scoring_day": [as_of.scoring_day],
                                   "note": [as_of.note]}), AS_OF_TABLE)
    write_table(con, profile_data(con, as_of.scoring_day).to_frame(), PROFILE_TABLE)
    return as_of


def read_data_profile(con: duckdb.DuckDBPyConnection) -> DataProfile:
    return DataProfile.from_frame(con.execute(f"select * from {PROFILE_TABLE}").df())


def feature_snapshot_summary(con: duckdb.DuckDBPyConnection) -> dict:
    rows, accounts, days = con.execute(f"select count(*), count(distinct account_id), count(distinct snapshot_date) "
                                       f"from {FEATURE_TABLE}").fetchone()
    return {"rows": int(rows), "accounts": int(accounts), "snapshot_days": int(days), "features": len(FEATURE_NAMES)}


def build_training_set(con: duckdb.DuckDBPyConnection, features: pd.DataFrame, task: str, cfg: MLConfig,
                       as_of: date) -> pd.DataFrame:
    """Features + label, label_known, event_date, and the backtest window (`fold_<k>`, 0 = latest) or `history`
    each labelled snapshot falls in."""
    events = load_outcome_events(con, task, cfg)
    labelled = label_snapshots(features, events, as_of, cfg.horizon_days, cfg.label_delay_days(task))
    labelled["slice"] = "unlabelled"
    known = labelled["label_known"].to_numpy()
    try:
        plan = backtest_plan(labelled.loc[known, "snapshot_date"].unique(), cfg)
        labelled.loc[known, "slice"] = plan.assign(labelled.loc[known, "snapshot_date"]).to_numpy()
    except NotEnoughHistory:
        labelled.loc[known, "slice"] = "no_split"
    return labelled


def refresh_training_set(con: duckdb.DuckDBPyConnection, task: str, cfg: MLConfig, as_of: AsOf) -> dict:
    """Label the feature snapshots (`ml.<task>_training_set`: keys, labels, slices); returns its summary."""
    # The labels need the snapshots' keys only: all 100+ feature columns cost seconds to read at 10,000 accounts.
    keys = read_table(con, FEATURE_TABLE, ["account_id", "snapshot_date"])
    labelled = build_training_set(con, keys, task, cfg, as_of.as_of)
    write_table(con, labelled[["account_id", "snapshot_date", *LABEL_COLUMNS]], training_table(task))
    return training_set_summary(labelled)


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


def training_frame(con: duckdb.DuckDBPyConnection, task: str) -> pd.DataFrame:
    """The feature snapshots joined with the task's labels: what `train` fits on."""
    features = read_table(con, FEATURE_TABLE)
    labels = read_table(con, training_table(task))
    return features.merge(labels, on=["account_id", "snapshot_date"], how="inner", validate="one_to_one")


# ---------------------------------------------------------------------------------------------------------------------
# training, champion comparison, registry


@dataclass
class TrainingRun:
    task: str
    result: TaskResult
    decision: Decision
    version: str | None  # written by this run
    champion: str | None  # after this run
    champion_metrics: dict | None = None
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return self.decision.promote and self.version is not None

    @property
    def skipped(self) -> bool:
        return self.result.status == "skipped"

    def metrics_for_table(self) -> dict:
        out = dict(self.result.metrics)
        if self.champion_metrics:
            out["champion"] = self.champion_metrics
        return out

    def as_metadata(self) -> dict:
        """What the model step reports: outcome, decision, the metrics table (markdown, key `metrics`) and the
        headline metrics of the model and its baselines as numbers."""
        metrics = self.metrics_for_table()
        out = {"status": self.result.status, "version": self.version or "none", "promoted": self.promoted,
               "champion": self.champion or "none", "decision": self.decision.summary(),
               "reasons": "; ".join(self.result.reasons) or "none", "fingerprint": self.fingerprint,
               "metrics": metrics_table(metrics)}
        model = metrics.get("model") or {}
        out |= {name: float(model[name]) for name in HEADLINE_METRICS if model.get(name) is not None}
        for name in CANDIDATES:
            value = (metrics.get(name) or {}).get("roc_auc")
            if value is not None:
                out[f"{name}_roc_auc"] = float(value)
        out["served_candidate"] = self.result.champion or "none"
        return out | {"progress_note": self.progress_note()}

    def progress_note(self) -> str:
        """A few words for the run's console line: what happened to this task's model."""
        if self.skipped:
            return f"{self.task} model {self.champion or 'none'} kept ({self.notes[0]})"
        if self.version is None:
            note = f"{self.task} model not trained ({self.result.status})"
        else:
            note = (f"{self.task} model {self.version} ({self.result.champion}) "
                    f"{'promoted' if self.promoted else 'trained, champion kept'}")
        warning = health_warning(self.task, health_record(self.result.metrics, self.result.health_weights))
        return note + (f". WARNING: {warning}" if warning else "")


def _columns(training_set: pd.DataFrame) -> list[str]:
    return [c for c in ["account_id", "snapshot_date", "label", "label_known", "event_date", "slice", *FEATURE_NAMES]
            if c in training_set.columns]


def setup_fingerprint(training_set: pd.DataFrame, cfg: MLConfig) -> str:
    """Hash of how a model is trained, without the data: the columns, which are categorical, the ML config and the
    LightGBM version. A change of setup retrains whatever the champion's age."""
    columns = _columns(training_set)
    return hashlib.sha256(json.dumps({"columns": columns, "categorical": categorical(columns),
                                      "config": cfg.as_dict(), "lightgbm": lgb.__version__},
                                     sort_keys=True).encode()).hexdigest()[:16]


def training_fingerprint(training_set: pd.DataFrame, cfg: MLConfig) -> str:
    """Hash of everything a training run depends on: every snapshot's features, label and slice (in key order)
    and the setup (`setup_fingerprint`). Equal fingerprints train the same model."""
    columns = _columns(training_set)
    rows = training_set[columns].sort_values(["account_id", "snapshot_date"], kind="mergesort")
    rows = rows.astype({c: str for c in ("snapshot_date", "event_date") if c in columns})
    digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    digest.update(setup_fingerprint(training_set, cfg).encode())
    return digest.hexdigest()[:16]


def _last_training(registry: Registry, task: str) -> dict | None:
    """The task's last decision, when the version it wrote (if any) is still there."""
    decisions = registry.decisions(task)
    last = decisions[-1] if decisions else None
    if last and last.get("version") and not registry.version_dir(task, last["version"]).exists():
        return None
    return last


def unchanged_since(registry: Registry, task: str, fingerprint: str) -> dict | None:
    """The task's last decision when it was taken on the same fingerprint (and its version is still there)."""
    last = _last_training(registry, task)
    return last if last and last.get("fingerprint") == fingerprint else None


def champion_still_fresh(registry: Registry, task: str, setup: str, as_of: date, cfg: MLConfig) -> dict | None:
    """The last decision when the champion came from it, with today's setup, less than `retrain_every_days` days
    of data ago: new data alone does not retrain it yet."""
    last = _last_training(registry, task)
    if not last or cfg.retrain_every_days <= 0 or last.get("setup") != setup:
        return None
    if not last.get("version") or last["version"] != registry.champion(task):
        return None
    age = (pd.Timestamp(as_of) - pd.Timestamp(last["as_of_date"])).days
    return last if 0 <= age < cfg.retrain_every_days else None


def _skipped(task: str, cfg: MLConfig, registry: Registry, reason: str, note: str, fingerprint: str) -> TrainingRun:
    result = TaskResult(task=task, status="skipped", reasons=[reason], features=[])
    decision = Decision(promote=False, reasons=[reason], metric=cfg.promotion_metric, margin=cfg.promotion_margin,
                        champion_before=registry.champion(task))
    return TrainingRun(task, result, decision, None, registry.champion(task), fingerprint=fingerprint,
                       notes=[note])


def _latest_rows(training_set: pd.DataFrame, result: TaskResult) -> pd.DataFrame:
    known = training_set[training_set["label_known"]]
    return known[result.plan.assign(known["snapshot_date"]).to_numpy() == result.plan.latest.name]


def champion_on_test(registry: Registry, task: str, training_set: pd.DataFrame, result: TaskResult,
                     cfg: MLConfig, event_types: list[str] | None = None) -> tuple[str | None, dict | None, str]:
    """The current champion measured on the latest backtest window: (version, metrics or None, why not)."""
    version = registry.champion(task)
    if version is None or result.plan is None:
        return version, None, ""
    try:
        model = registry.load(task, version)
    except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
        return version, None, f"it could not be loaded: {exc}"
    missing = [f for f in model.features if f not in training_set.columns]
    if missing:
        return version, None, f"it needs features the data no longer has: {', '.join(missing)}"
    if model.event_types and model.event_types != list(event_types or []):
        return version, None, (f"its event-type slots ({', '.join(model.event_types)}) are not today's "
                               f"({', '.join(event_types or []) or 'none'})")
    test = _latest_rows(training_set, result)
    if test.empty:
        return version, None, "the latest window is empty"
    raw = model.scorer.raw(test)
    metrics = evaluate_scores(test, raw, model.calibrator.predict(raw), cfg.review_budgets, cfg.horizon_days)
    trained_until = (model.training.get("served_fold") or {}).get("train", [None, None])[1]
    note = ""
    if trained_until and str(trained_until) >= str(result.plan.latest.test[0]):
        note = f"its training data reaches {trained_until}, inside this window: the comparison favours it"
    metrics["note"] = note
    return version, metrics, note


def train_and_register(training_set: pd.DataFrame, task: str, cfg: MLConfig, registry: Registry, as_of: date,
                       log=lambda _msg: None, event_types: list[str] | None = None) -> TrainingRun:
    """Fit, compare with the baselines and the champion on the same test slice, write the version, maybe promote.
    Skipped (status `skipped`, nothing written) when the last decision was taken on the same fingerprint, or when
    the champion is younger than `retrain_every_days` days of data and was trained with today's setup."""
    fingerprint, setup = training_fingerprint(training_set, cfg), setup_fingerprint(training_set, cfg)
    reason = note = None
    if (last := unchanged_since(registry, task, fingerprint)) is not None:
        since = f"version {last['version']}" if last.get("version") else \
            f"the last training ({last.get('decided_at')}, which wrote no version)"
        reason, note = f"training data and config unchanged since {since}", "data and config unchanged"
    elif (last := champion_still_fresh(registry, task, setup, as_of, cfg)) is not None:
        due = pd.Timestamp(last["as_of_date"]).date() + timedelta(days=cfg.retrain_every_days)
        reason = (f"champion {last['version']} was trained on data to {last['as_of_date']}; with the same config it "
                  f"retrains every {cfg.retrain_every_days} days of data (next from {due})")
        note = f"retrains from {due}"
    if reason is not None:
        run = _skipped(task, cfg, registry, reason, note, fingerprint)
        log(run.result.summary())
        return run
    result = fit_task(training_set, task, cfg)
    log(result.summary())
    champion_version, champion_metrics, champion_note = champion_on_test(registry, task, training_set, result, cfg,
                                                                         event_types or [])
    latest = None
    if result.trained:
        rows = _latest_rows(training_set, result)
        latest = evaluate_scores(rows, result.scorer.raw(rows), None, cfg.review_budgets, cfg.horizon_days)
    decision = decide(result.status, result.reasons, result.selection.reasons if result.selection else [], latest,
                      champion_version, champion_metrics, cfg.promotion_metric, cfg.promotion_margin, champion_note)
    version = None
    if result.trained:
        version = registry.new_version_id(task, result.data_hash)
        files = version_files(task, version, result, decision, champion_version, champion_metrics, cfg, as_of,
                              fingerprint, event_types or [])
        registry.write_version(task, version, result.scorer, files)
        if decision.promote:
            registry.set_champion(task, version)
    registry.log_decision({"task": task, "version": version, "status": result.status, "promoted": decision.promote,
                           "champion_before": champion_version, "champion_after": registry.champion(task),
                           "reasons": decision.reasons, "metric": decision.metric, "candidate": decision.candidate,
                           "compared": decision.compared, "as_of_date": str(as_of), "fingerprint": fingerprint,
                           "setup": setup, "health_score": health_record(result.metrics, result.health_weights),
                           "decided_at": datetime.now(UTC).isoformat(timespec="seconds")})
    log(decision.summary())
    return TrainingRun(task, result, decision, version, registry.champion(task), champion_metrics, fingerprint)


def train(con: duckdb.DuckDBPyConnection, task: str, cfg: MLConfig, registry: Registry, as_of: AsOf,
          log=lambda _msg: None) -> TrainingRun:
    """Train the task on its training set (feature snapshots joined with labels), unless nothing changed."""
    return train_and_register(training_frame(con, task), task, cfg, registry, as_of.as_of, log,
                              read_event_types(con))


def version_files(task: str, version: str, result: TaskResult, decision: Decision, champion_version: str | None,
                  champion_metrics: dict | None, cfg: MLConfig, as_of: date, fingerprint: str,
                  event_types: list[str]) -> dict:
    training = {
        "task": task, "version": version, "status": result.status, "reasons": result.reasons,
        "as_of_date": str(as_of), "backtest": result.plan.as_dict() if result.plan else None,
        "served_fold": result.plan.as_dict()["folds"][0] if result.plan else None,
        "candidate": result.champion, "scorer": result.scorer.describe(),
        "selection": result.selection.as_dict() if result.selection else None,
        "health_weights_learned": result.health_weights,
        "counts": result.counts, "horizon_days": cfg.horizon_days, "cadence_days": cfg.cadence_days,
        "label_delay_days": cfg.label_delay_days(task), "warmup_days": cfg.warmup_days,
        "params": result.params, "seed": cfg.seed,
        "num_threads": cfg.num_threads, "data_hash": result.data_hash, "fingerprint": fingerprint,
        "lightgbm_version": lgb.__version__, "python": platform.python_version(), "config": cfg.as_dict(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    metrics = {"test_slice": list(result.plan.as_dict()["test"]) if result.plan else None,
               **{k: v for k, v in result.metrics.items()},
               "champion": champion_metrics, "champion_version": champion_version,
               "promotion_metric": cfg.promotion_metric, "promotion_margin": cfg.promotion_margin}
    calibration = result.calibrator.as_dict(result.score_range) | {
        "bands": result.band_thresholds, "input": f"raw score of {result.scorer.describe()}",
        "check": result.calibration_check}
    features = {"features": result.features,
                "families": {f: FEATURE_BY_NAME[f].family for f in result.features if f in FEATURE_BY_NAME},
                "descriptions": {f: FEATURE_BY_NAME[f].description for f in result.features if f in FEATURE_BY_NAME},
                "importance_gain": result.importance,
                "categorical": {f: CATEGORY_CODES[f] for f in categorical(result.features)},
                "event_types": event_types}
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
    model: LoadedModel | None  # the model the scores come from; None: the health-score fallback
    as_of: AsOf
    why_no_model: str
    drift: pd.DataFrame | None  # None without a model or its drift reference

    @property
    def model_version(self) -> str:
        return self.model.version if self.model else BASELINE_VERSION

    @property
    def tables(self) -> list[str]:
        return [scores_table(self.task), drift_table(self.task)]

    def drift_rows(self) -> pd.DataFrame:
        """The drift table: one row per feature and one for the score (no rows without a model)."""
        report = self.drift if self.drift is not None else pd.DataFrame(columns=DRIFT_COLUMNS)
        return report.assign(task=self.task, model_version=self.model.version if self.model else None,
                             as_of_date=self.as_of.scoring_day)

    def as_metadata(self, cfg: MLConfig) -> dict:
        bands = self.scores["risk_band"].value_counts().to_dict()
        return {"dagster/row_count": len(self.scores), "as_of_date": str(self.as_of.scoring_day),
                "model_version": self.model_version, "why_no_model": self.why_no_model or "none",
                "scoring_day_note": self.as_of.note or "the as-of day",
                "bands": {str(k): int(v) for k, v in bands.items()}, "drift": drift_summary(self.drift, cfg)}


def score_task(frame: pd.DataFrame, task: str, cfg: MLConfig, registry: Registry, as_of: AsOf) -> ScoringRun:
    """Score the accounts of `frame` (features on the scoring day) with the champion, and measure drift."""
    model, why = registry.champion_or_reason(task)
    scores = score_accounts(frame, task, model, cfg, why)
    used = model if (scores["model_version"] != BASELINE_VERSION).any() else None
    drift = None
    if used is not None and used.drift_reference:
        raw = scores.set_index("account_id")["raw_score"].reindex(frame["account_id"].astype(str)).to_numpy()
        drift = drift_mod.drift_report(used.drift_reference, frame, raw, cfg.psi_warn, cfg.psi_fail,
                                       exempt=DRIFT_EXEMPT)
    return ScoringRun(task, scores, used, as_of, why, drift)


def score(con: duckdb.DuckDBPyConnection, task: str, cfg: MLConfig, registry: Registry) -> ScoringRun:
    """Score every account active on today's scoring day (from the marts, as they are now: scoring may run without
    the feature snapshots) and write `ml.<task>_scores` and `ml.<task>_drift`."""
    as_of = AsOf.of(con)
    # the champion's event-type slots, so its columns mean what they meant in training
    champion, _ = registry.champion_or_reason(task)
    event_types = champion.event_types if champion else []
    run = score_task(build_feature_frame(con, [as_of.scoring_day], event_types=event_types), task, cfg, registry,
                     as_of)
    write_table(con, run.scores, scores_table(task))
    write_table(con, run.drift_rows(), drift_table(task))
    return run


def read_drift(con: duckdb.DuckDBPyConnection, task: str, kind: str) -> pd.DataFrame:
    return con.execute(f"select * from {drift_table(task)} where kind = ?", [kind]).df()


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


def every_active_account_scored(con: duckdb.DuckDBPyConnection, task: str) -> tuple[bool, int, int]:
    """(every account active on the scores' day has exactly one score row with a band, active accounts, rows)."""
    scores = read_table(con, scores_table(task))
    days = set(scores["as_of_date"]) if len(scores) else set()
    day = days.pop() if len(days) == 1 else AsOf.of(con).scoring_day
    active = {r[0] for r in con.execute("select account_id from marts.fct_account_daily where date_day = ?",
                                        [day]).fetchall()}
    scored = scores["account_id"].astype(str)
    ok = set(scored) == active and scored.is_unique and not np.any(pd.isna(scores["risk_band"]))
    return ok, len(active), len(scores)
