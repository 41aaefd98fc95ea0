"""Train and choose one task's champion (churn or expansion) on a labelled training set.

`fit_task(training_set, task, cfg)` backtests every candidate (`ml.candidates`: days to term end, the configured
health score, a learned health score, logistic regression, LightGBM) over several cut-off dates (`ml.split`),
chooses the champion from their out-of-time ROC-AUC with bootstrap intervals by account (`ml.selection`), and keeps
the champion's latest-fold scorer, calibrated on the latest labelled period, to serve.
It never raises for lack of data: the result's `status` says what could be done and `reasons` says why not:
- `trained`: a champion was chosen on enough out-of-time outcomes; it may be promoted;
- `not_validated`: the backtest windows hold too few positives to trust a choice (written for inspection only);
- `not_trained`: too little history for a backtest, or no candidate could be scored; the health score still ran.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd

from ml import drift
from ml.baselines import health_score_risk
from ml.calibration import Calibrator
from ml.candidates import LABELS, Scorer, fit_candidate, lgbm_params
from ml.config import CANDIDATES, MLConfig
from ml.features import CATEGORICAL_FEATURES, FEATURE_BY_NAME, FEATURE_NAMES
from ml.metrics import evaluate_scores
from ml.selection import CandidateRun, Selection, backtest_candidates, choose, fold_rows, reliability_table
from ml.split import HISTORY, BacktestPlan, NotEnoughHistory, backtest_plan


# The order the candidates' fits are queued in: the instant rules first, so they are scored while the trees grow, then
# the costliest first, so the cores are not left waiting on one long fit at the end.
FIT_ORDER = ("days_to_term_end", "health_score", "lightgbm", "logistic_regression", "health_learned")


@dataclass
class TaskResult:
    task: str
    status: str
    reasons: list[str]
    features: list[str]
    plan: BacktestPlan | None = None
    counts: dict = field(default_factory=dict)
    scorer: Scorer | None = None  # the champion candidate's latest-fold fit: what is served
    champion: str | None = None  # its candidate name
    selection: Selection | None = None
    calibrator: Calibrator | None = None
    calibration_check: dict = field(default_factory=dict)  # base-rate shift and reliability table
    metrics: dict = field(default_factory=dict)  # "model" (the champion) | candidate name -> backtest metrics
    band_thresholds: dict = field(default_factory=dict)
    drift_reference: dict | None = None
    importance: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    data_hash: str = ""
    test_frame: pd.DataFrame | None = None  # backtest rows with label, event_date, fold and every candidate's score
    score_range: tuple[float, float] | None = None
    health_weights: dict | None = None  # the learned health score's component weights (latest fold)

    @property
    def trained(self) -> bool:
        return self.scorer is not None

    def summary(self) -> str:
        return f"{self.task}: {self.status}" + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def data_hash(frame: pd.DataFrame, features: list[str]) -> str:
    cols = ["account_id", "snapshot_date", "label", *features]
    hashed = pd.util.hash_pandas_object(frame[cols].astype({"snapshot_date": str}), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:10]


def _counts(frame: pd.DataFrame) -> dict:
    pos = frame["label"] == 1
    return {"rows": int(len(frame)), "positives": int(pos.sum()),
            "positive_accounts": int(frame.loc[pos, "account_id"].nunique()),
            "days": int(frame["snapshot_date"].nunique()),
            "first_day": str(frame["snapshot_date"].min()) if len(frame) else None,
            "last_day": str(frame["snapshot_date"].max()) if len(frame) else None}


def categorical(features: list[str]) -> list[str]:
    return [f for f in features if f in CATEGORICAL_FEATURES]


def band_thresholds(probabilities: np.ndarray, budgets: tuple[float, float]) -> dict:
    """`high` / `medium` cut-offs: the calibrated probabilities the two review budgets flag on the calibration slice."""
    p = np.asarray(probabilities, dtype=float)
    if len(p) == 0:
        return {"high": 1.0, "medium": 1.0}
    return {"high": float(np.quantile(p, 1 - budgets[0])), "medium": float(np.quantile(p, 1 - budgets[1]))}


def risk_band(probabilities, thresholds: dict) -> np.ndarray:
    p = np.asarray(probabilities, dtype=float)
    return np.where(p >= thresholds["high"], "high", np.where(p >= thresholds["medium"], "medium", "low"))


def fit_task(training_set: pd.DataFrame, task: str, cfg: MLConfig, features: list[str] | None = None) -> TaskResult:
    features = list(features or [f for f in FEATURE_NAMES
                                 if FEATURE_BY_NAME[f].family not in cfg.excluded_feature_families])
    known = training_set[training_set["label_known"]].reset_index(drop=True)
    # One thread per fit: the backtest runs `num_threads` fits side by side, which keeps the cores busier than
    # LightGBM's threads on one window of this size do.
    fit_cfg = replace(cfg, num_threads=1)
    result = TaskResult(task=task, status="not_trained", reasons=[], features=features, params=lgbm_params(fit_cfg))
    if known.empty:
        result.reasons.append(f"no snapshot has a known {task} label yet: labels need {cfg.label_delay_days(task)} "
                              "days of data after a snapshot")
        return result
    try:
        plan = backtest_plan(known["snapshot_date"].unique(), cfg)
    except NotEnoughHistory as exc:
        result.reasons.append(f"not enough history for an out-of-time backtest: {exc}")
        _health_on_all(result, known, task, cfg)
        return result
    result.plan = plan
    folds = fold_rows(known, plan)
    result.counts = {name: _counts(known[(folds == name).to_numpy()]) for name in [HISTORY, *[f.name for f in plan.folds]]}
    result.data_hash = data_hash(known, features)
    test_mask = (folds != HISTORY).to_numpy()
    test, test_fold = known[test_mask], folds[test_mask].to_numpy()
    candidates = tuple(n for n in CANDIDATES if n in cfg.candidates)
    fits = {name: partial(fit_candidate, name, task=task, features=features, cfg=fit_cfg)
            for name in sorted(candidates, key=FIT_ORDER.index)}
    runs, cannot = backtest_candidates(known, folds, plan, fits, cfg, workers=cfg.num_threads)
    runs = {name: runs[name] for name in candidates if name in runs}
    result.reasons += [f"{LABELS[name]} not backtested: {cannot[name]}" for name in candidates if name in cannot]
    result.metrics = {name: run.metrics for name, run in runs.items()}
    frame = test[["account_id", "snapshot_date", "label", "event_date"]].assign(fold=test_fold)
    for name, run in runs.items():
        frame[f"{name}_score"] = run.raw
    result.test_frame = frame
    if "health_learned" in runs:
        result.health_weights = runs["health_learned"].scorers[0].weights
    positives = int(test["label"].sum())
    if positives < cfg.min_test_positives:
        result.reasons.append(f"too few positives to compare the candidates: {positives} in the backtest windows "
                              f"(need {cfg.min_test_positives})")
    result.selection = choose(test, test_fold, runs, candidates, cfg)
    if result.selection.champion is None:
        result.reasons.extend(result.selection.reasons)
        return result
    chosen = runs[result.selection.champion]
    result.champion, result.scorer, result.calibrator = chosen.name, chosen.scorers[0], chosen.latest_calibrator
    result.metrics["model"] = chosen.metrics
    latest = test_fold == plan.latest.name
    latest_rows = test[latest]
    result.band_thresholds = band_thresholds(result.calibrator.predict(chosen.raw[latest]), cfg.band_budgets)
    result.calibration_check = calibration_check(known, folds, plan, chosen, test["label"].to_numpy(dtype=int))
    result.score_range = (float(np.nanmin(chosen.raw)), float(np.nanmax(chosen.raw)))
    # The reference is the population the served scorer was last measured and calibrated on: the latest window.
    result.drift_reference = drift.reference_profile(latest_rows, features, chosen.raw[latest], cfg.psi_bins)
    result.importance = result.scorer.importance()
    result.status = "trained" if positives >= cfg.min_test_positives else "not_validated"
    return result


def calibration_check(known: pd.DataFrame, folds: pd.Series, plan: BacktestPlan, run: CandidateRun,
                      y_test: np.ndarray) -> dict:
    """Base rate where the served scorer was trained vs the latest labelled period it is calibrated on, and the
    reliability of the out-of-time calibration over the backtest (each window calibrated by the one before)."""
    dates = pd.to_datetime(known["snapshot_date"]).dt.date
    latest = plan.latest
    trained_on = known[((dates >= latest.train[0]) & (dates <= latest.train[1])).to_numpy()]
    latest_rate = float(known.loc[(folds == latest.name).to_numpy(), "label"].mean())
    train_rate = float(trained_on["label"].mean()) if len(trained_on) else None
    shift = None if not train_rate else latest_rate / train_rate
    metrics = run.metrics
    note = (f"base rate {train_rate:.3f} in the served model's training days, {latest_rate:.3f} in the latest "
            f"labelled period ({latest.test[0]} to {latest.test[1]}), which the calibration is fitted on"
            if train_rate is not None else "")
    if shift is not None and (shift > 1.5 or shift < 1 / 1.5):
        note += f": the base rate moved by a factor {shift:.2f}; calibrating on the latest period follows it"
    return {"train_base_rate": train_rate, "latest_base_rate": latest_rate, "shift_factor": shift, "note": note,
            "brier": metrics.get("brier"), "brier_constant": metrics.get("brier_constant"),
            "mean_predicted": metrics.get("mean_predicted"), "observed_rate": metrics.get("observed_rate"),
            "reliability": reliability_table(run.probability, y_test)}


def _health_on_all(result: TaskResult, known: pd.DataFrame, task: str, cfg: MLConfig) -> None:
    """Without a backtest, the health score is still measured on every labelled snapshot (uncalibrated)."""
    risk = health_score_risk(known, task)
    if risk is not None:
        metrics = evaluate_scores(known, risk, None, cfg.review_budgets, cfg.horizon_days)
        metrics["slice"] = "all labelled snapshots (no out-of-time backtest possible)"
        result.metrics["health_score"] = metrics
