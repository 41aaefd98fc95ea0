"""Train and evaluate one task (churn or expansion) on a labelled training set: LightGBM vs the baselines.

`fit_task(training_set, task, cfg)` splits the labelled snapshots in time, trains LightGBM with early stopping on the
validation slice, calibrates on the calibration slice, and measures the model and both baselines on the test slice.
It never raises for lack of data: the result's `status` says what could be done and `reasons` says why not:
- `trained`: every slice had enough positives; the model may be promoted;
- `not_validated`: a model was trained, but validation, calibration or test had too few positives to trust it;
- `not_trained`: too little history or too few positives to train; the baselines still ran where they could.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml import drift
from ml.baselines import LogisticBaseline, health_score_risk
from ml.calibration import Calibrator, fit_calibrator
from ml.config import MLConfig
from ml.features import CATEGORICAL_FEATURES, FEATURE_BY_NAME, FEATURE_NAMES
from ml.metrics import evaluate_scores
from ml.split import NotEnoughHistory, TemporalSplit, temporal_split

FIXED_ROUNDS_WITHOUT_VALIDATION = 200


@dataclass
class ScoredBaseline:
    name: str
    calibrator: Calibrator | None = None
    model: LogisticBaseline | None = None
    note: str = ""


@dataclass
class TaskResult:
    task: str
    status: str
    reasons: list[str]
    features: list[str]
    split: TemporalSplit | None = None
    counts: dict = field(default_factory=dict)
    booster: lgb.Booster | None = None
    best_iteration: int | None = None
    calibrator: Calibrator | None = None
    metrics: dict = field(default_factory=dict)  # "model" | baseline name -> metrics on the test slice
    band_thresholds: dict = field(default_factory=dict)
    drift_reference: dict | None = None
    importance: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    data_hash: str = ""
    test_frame: pd.DataFrame | None = None  # test rows with label, event_date and every scorer's score
    score_range: tuple[float, float] | None = None
    baselines: dict = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return self.booster is not None

    def summary(self) -> str:
        return f"{self.task}: {self.status}" + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def lgbm_params(cfg: MLConfig) -> dict:
    return {**cfg.lgbm_params, "seed": cfg.seed, "bagging_seed": cfg.seed, "feature_fraction_seed": cfg.seed,
            "data_random_seed": cfg.seed, "deterministic": True, "force_col_wise": True,
            "num_threads": cfg.num_threads, "verbosity": -1}


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


def train_booster(train: pd.DataFrame, valid: pd.DataFrame | None, features: list[str], cfg: MLConfig
                  ) -> tuple[lgb.Booster, int]:
    params = lgbm_params(cfg)
    # Codes of unordered categories (segment, lifecycle phase): LightGBM splits them by category, not by order. The
    # codes are fixed in the feature SQL, so training and scoring read the same ones (features.json records them).
    dtrain = lgb.Dataset(train[features].to_numpy(dtype=float), train["label"].to_numpy(dtype=float),
                         feature_name=list(features), categorical_feature=categorical(features), free_raw_data=False)
    if valid is None or valid.empty:  # LightGBM refuses a validation set without rows
        booster = lgb.train(params, dtrain, num_boost_round=FIXED_ROUNDS_WITHOUT_VALIDATION)
        return booster, FIXED_ROUNDS_WITHOUT_VALIDATION
    dvalid = lgb.Dataset(valid[features].to_numpy(dtype=float), valid["label"].to_numpy(dtype=float),
                         reference=dtrain, free_raw_data=False)
    booster = lgb.train(params, dtrain, num_boost_round=cfg.num_boost_round, valid_sets=[dvalid],
                        valid_names=["valid"],
                        callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, first_metric_only=True,
                                                      verbose=False)])
    best = int(booster.best_iteration or booster.current_iteration())
    return booster, best


def raw_score(booster: lgb.Booster, frame: pd.DataFrame, features: list[str], iteration: int | None = None
              ) -> np.ndarray:
    return np.asarray(booster.predict(frame[features].to_numpy(dtype=float), raw_score=True,
                                      num_iteration=iteration, num_threads=1))


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
    known = training_set[training_set["label_known"]].copy()
    result = TaskResult(task=task, status="not_trained", reasons=[], features=features, params=lgbm_params(cfg))
    if known.empty:
        result.reasons.append(f"no snapshot has a known {task} label yet: labels need {cfg.label_delay_days(task)} "
                              "days of data after a snapshot")
        return result
    try:
        split = temporal_split(known["snapshot_date"].unique(), cfg)
    except NotEnoughHistory as exc:
        result.reasons.append(f"not enough history for an out-of-time test: {exc}")
        _baselines_on_all(result, known, task, cfg)
        return result
    result.split = split
    known["slice"] = split.assign(known["snapshot_date"], known["account_id"]).to_numpy()
    parts = {name: known[known["slice"] == name] for name in ("train", "valid", "calib", "test")}
    result.counts = {name: _counts(part) for name, part in parts.items()}
    result.data_hash = data_hash(known[known["slice"] != "gap"], features)
    train, valid, calib, test = parts["train"], parts["valid"], parts["calib"], parts["test"]
    pos = {name: c["positives"] for name, c in result.counts.items()}
    empty = [name for name, part in parts.items() if part.empty]
    if empty:
        # possible when accounts are held out and there are only a few of them
        result.reasons.append(f"no snapshot in the {' and '.join(empty)} slice: too few accounts to hold out "
                              f"({known['account_id'].nunique()} with a known label)")
        _baselines_on_all(result, known, task, cfg)
        return result

    test_frame = test[["account_id", "snapshot_date", "label", "event_date"]].copy()
    _run_baselines(result, train, calib, test, test_frame, task, cfg, features)

    if pos["train"] < cfg.min_train_positives:
        result.reasons.append(f"too few positives to train: {pos['train']} in the training slice "
                              f"(need {cfg.min_train_positives})")
        result.test_frame = test_frame
        return result

    validated = True
    if pos["valid"] < cfg.min_valid_positives:
        validated = False
        result.reasons.append(f"too few positives to validate: {pos['valid']} in the validation slice (need "
                              f"{cfg.min_valid_positives}); trained {FIXED_ROUNDS_WITHOUT_VALIDATION} rounds "
                              "without early stopping")
        booster, best = train_booster(train, None, features, cfg)
    else:
        booster, best = train_booster(train, valid, features, cfg)
    result.booster, result.best_iteration = booster, best

    cal_rows = calib
    if pos["calib"] < cfg.min_valid_positives:
        cal_rows = pd.concat([valid, calib])
        result.reasons.append(f"calibration slice has {pos['calib']} positives (need {cfg.min_valid_positives}): "
                              "calibrated on validation + calibration")
        if int((cal_rows["label"] == 1).sum()) < cfg.min_valid_positives:
            validated = False
    cal_score = raw_score(booster, cal_rows, features, best)
    result.calibrator = fit_calibrator(cal_score, cal_rows["label"], cfg.isotonic_min_positives)
    cal_prob = result.calibrator.predict(cal_score)
    result.band_thresholds = band_thresholds(cal_prob, cfg.band_budgets)

    test_score = raw_score(booster, test, features, best)
    test_prob = result.calibrator.predict(test_score)
    test_frame["model_score"] = test_score
    test_frame["model_probability"] = test_prob
    result.metrics["model"] = evaluate_scores(test, test_score, test_prob, cfg.review_budgets, cfg.horizon_days)
    if pos["test"] < cfg.min_test_positives:
        validated = False
        result.reasons.append(f"too few positives to test: {pos['test']} in the test slice "
                              f"(need {cfg.min_test_positives}); metrics are not trustworthy")
    train_score = raw_score(booster, train, features, best)
    all_scores = np.concatenate([train_score, cal_score, test_score])
    result.score_range = (float(np.min(all_scores)), float(np.max(all_scores)))
    # The reference is the population the quoted metrics were measured on: the newest labelled one, with
    # long-window features mature (the training slice is the oldest data and would flag history build-up as drift).
    result.drift_reference = drift.reference_profile(test, features, test_score, cfg.psi_bins)
    gains = booster.feature_importance(importance_type="gain", iteration=best)
    result.importance = {f: round(float(g), 3) for f, g in sorted(zip(features, gains, strict=True),
                                                                   key=lambda t: -t[1])}
    result.test_frame = test_frame
    result.status = "trained" if validated else "not_validated"
    return result


def _run_baselines(result: TaskResult, train, calib, test, test_frame, task, cfg, features) -> None:
    # rule-based health score: no training, calibrated on the calibration slice like the model
    health_cal = health_score_risk(calib, task)
    health_test = health_score_risk(test, task)
    if health_test is None:
        result.reasons.append("health-score baseline unavailable: the data has no health score")
    else:
        calibrator = fit_calibrator(health_cal, calib["label"], cfg.isotonic_min_positives) \
            if health_cal is not None else None
        prob = calibrator.predict(health_test) if calibrator else None
        test_frame["health_score_score"] = health_test
        result.metrics["health_score"] = evaluate_scores(test, health_test, prob, cfg.review_budgets, cfg.horizon_days)
        result.baselines["health_score"] = ScoredBaseline("health_score", calibrator)
    # logistic regression on the same features, trained on the training slice
    n_pos = int((train["label"] == 1).sum())
    if n_pos < 2 or n_pos == len(train):
        result.reasons.append(f"logistic-regression baseline not trained: {n_pos} positives in the training slice")
        return
    lr = LogisticBaseline(features, cfg.seed).fit(train, train["label"])
    cal_score = lr.decision(calib)
    calibrator = fit_calibrator(cal_score, calib["label"], cfg.isotonic_min_positives)
    test_score = lr.decision(test)
    test_frame["logistic_regression_score"] = test_score
    result.metrics["logistic_regression"] = evaluate_scores(test, test_score, calibrator.predict(test_score),
                                                            cfg.review_budgets, cfg.horizon_days)
    result.baselines["logistic_regression"] = ScoredBaseline("logistic_regression", calibrator, lr)


def _baselines_on_all(result: TaskResult, known: pd.DataFrame, task: str, cfg: MLConfig) -> None:
    """Without a split, the health-score baseline is still measured on every labelled snapshot (uncalibrated)."""
    risk = health_score_risk(known, task)
    if risk is not None:
        metrics = evaluate_scores(known, risk, None, cfg.review_budgets, cfg.horizon_days)
        metrics["slice"] = "all labelled snapshots (no out-of-time split possible)"
        result.metrics["health_score"] = metrics
