"""The candidates a task's champion is chosen from, simplest first, and the scorers they produce.

| candidate | what it is | trained? |
|---|---|---|
| `days_to_term_end` | contract-only reference: the sooner the term ends, the higher the risk | no |
| `health_score` | the configured rule-based health score (dbt var `csops_health`) | no |
| `health_learned` | a health score whose non-negative component weights are fitted from past outcomes | yes |
| `logistic_regression` | regularised logistic regression on every feature (median-imputed, standardised) | yes |
| `lightgbm` | LightGBM with small-data settings: no early stopping, a fixed number of trees scaled to the outcomes | yes |

Every scorer gives a raw score (higher = likelier outcome), per-feature contributions relative to a typical training
account (LightGBM: its SHAP values; linear scorers: coefficient x standardised value) for the reasons, and saves to
its registry folder (`model.txt` for LightGBM, `model.json` for the linear ones).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ml.config import CANDIDATES, MLConfig
from ml.explain import contributions
from ml.features import CATEGORICAL_FEATURES

LABELS = {"days_to_term_end": "days to term end", "health_score": "health score (configured)",
          "health_learned": "health score (learned)", "logistic_regression": "logistic regression",
          "lightgbm": "LightGBM"}
HEALTH_COMPONENTS = ("usage", "adoption", "support", "sentiment", "engagement", "stakeholder")
COMPONENT_FEATURES = [f"health_{c}" for c in HEALTH_COMPONENTS]
MODEL_FILES = ("model.txt", "model.json")


class CannotFit(ValueError):
    """The candidate cannot be fitted on these rows (the message says why)."""


@dataclass
class LightGBMScorer:
    booster: lgb.Booster
    features: list[str]
    kind: str = "lightgbm"

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(frame[self.features].to_numpy(dtype=float), raw_score=True,
                                               num_threads=1))

    def contributions(self, frame: pd.DataFrame, num_threads: int = 1) -> np.ndarray:
        return contributions(self.booster, frame, self.features, num_threads)

    def importance(self) -> dict:
        gains = self.booster.feature_importance(importance_type="gain")
        return {f: round(float(g), 3) for f, g in sorted(zip(self.features, gains, strict=True), key=lambda t: -t[1])}

    def describe(self) -> str:
        return f"LightGBM, {self.booster.num_trees()} trees (fixed, no early stopping)"

    def save(self, folder: Path) -> None:
        self.booster.save_model(str(folder / "model.txt"))


@dataclass
class LinearScorer:
    """raw = intercept + sum(coef * (clip(x, imputed by median) - mean) / scale)."""

    kind: str
    features: list[str]
    median: list[float]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float = 0.0
    weights: dict | None = None  # health_learned: the fitted component weights, in the csops_health form

    def _z(self, frame: pd.DataFrame) -> np.ndarray:
        x = np.clip(frame[self.features].to_numpy(dtype=float), -1e6, 1e6)  # ratios on tiny denominators
        x = np.where(np.isnan(x), np.asarray(self.median), x)
        return (x - np.asarray(self.mean)) / np.asarray(self.scale)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return self.intercept + self._z(frame) @ np.asarray(self.coef)

    def contributions(self, frame: pd.DataFrame, num_threads: int = 1) -> np.ndarray:
        del num_threads
        parts = self._z(frame) * np.asarray(self.coef)
        return np.column_stack([parts, np.full(len(frame), self.intercept)])

    def importance(self) -> dict:
        pairs = sorted(zip(self.features, np.abs(self.coef), strict=True), key=lambda t: -t[1])
        return {f: round(float(v), 4) for f, v in pairs}

    def describe(self) -> str:
        if self.kind == "days_to_term_end":
            return "days to term end (contract-only reference, no training)"
        if self.kind == "health_score":
            return "the configured health score (no training)"
        if self.kind == "health_learned":
            return "health score with weights fitted from past outcomes: " + ", ".join(
                f"{k} {v:.2f}" for k, v in (self.weights or {}).items())
        return f"regularised logistic regression on {len(self.features)} features"

    def save(self, folder: Path) -> None:
        (folder / "model.json").write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "features": self.features, "median": self.median, "mean": self.mean,
                "scale": self.scale, "coef": self.coef, "intercept": self.intercept, "weights": self.weights}


Scorer = LightGBMScorer | LinearScorer


def load_scorer(folder: Path) -> Scorer:
    if (folder / "model.json").exists():
        return LinearScorer(**json.loads((folder / "model.json").read_text()))
    features = json.loads((folder / "features.json").read_text())["features"]
    return LightGBMScorer(lgb.Booster(model_file=str(folder / "model.txt")), features)


# ---------------------------------------------------------------------------------------------------------------------
# fitting


def _standardisation(frame: pd.DataFrame, features: list[str]) -> tuple[list[float], list[float], list[float]]:
    x = np.clip(frame[features].to_numpy(dtype=float), -1e6, 1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an all-missing column: median nan, imputed 0 below
        median = np.nan_to_num(np.nanmedian(x, axis=0)) if len(x) else np.zeros(len(features))
    x = np.where(np.isnan(x), median, x)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return [float(v) for v in median], [float(v) for v in mean], [float(v) for v in scale]


def _present(frame: pd.DataFrame, features: list[str]) -> list[str]:
    return [f for f in features if f in frame and frame[f].notna().any()]


def _need_both_classes(y: np.ndarray, min_positives: int, what: str) -> None:
    positives = int(y.sum())
    if positives < min_positives or positives == len(y):
        raise CannotFit(f"{what}: {positives} positive rows in its training data (need {min_positives})")


def fixed_rule(kind: str, feature: str, sign: float, train: pd.DataFrame) -> LinearScorer:
    """A rule with no trained weight (its standardisation only scales the reasons)."""
    if feature not in train or train[feature].notna().sum() == 0:
        raise CannotFit(f"{LABELS[kind]}: the data has no {feature}")
    median, mean, scale = _standardisation(train, [feature])
    return LinearScorer(kind, [feature], median, mean, scale, [sign])


def fit_logistic(train: pd.DataFrame, features: list[str], cfg: MLConfig, kind: str = "logistic_regression",
                 c: float = 0.1) -> LinearScorer:
    y = train["label"].to_numpy(dtype=int)
    _need_both_classes(y, 2, LABELS[kind])
    features = _present(train, features)
    median, mean, scale = _standardisation(train, features)
    z = LinearScorer(kind, features, median, mean, scale, [0.0] * len(features))._z(train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = LogisticRegression(C=c, max_iter=3000, random_state=cfg.seed).fit(z, y)
    return LinearScorer(kind, features, median, mean, scale, [float(v) for v in lr.coef_[0]],
                        float(lr.intercept_[0]))


def fit_health_learned(train: pd.DataFrame, task: str, cfg: MLConfig) -> LinearScorer:
    """Non-negative weights of the health components, fitted by logistic regression on the task's outcome; a
    component whose weight comes out on the wrong side (higher component score, likelier churn) is dropped and the
    rest refitted. The weights (summing to 1) are what `csops_health.default.weights` would take."""
    y = train["label"].to_numpy(dtype=int)
    _need_both_classes(y, cfg.min_train_positives, LABELS["health_learned"])
    sign = -1.0 if task == "churn" else 1.0  # a healthier account churns less and expands more
    kept = _present(train, COMPONENT_FEATURES)
    while kept:
        scorer = fit_logistic(train, kept, cfg, kind="health_learned", c=1.0)
        wrong = [f for f, c in zip(kept, scorer.coef, strict=True) if c * sign <= 0]
        if not wrong:
            break
        kept = [f for f in kept if f not in wrong]
    if not kept:
        raise CannotFit("health score (learned): no health component moves with the outcome in the training data")
    per_point = np.abs(np.asarray(scorer.coef)) / np.asarray(scorer.scale)  # weight per point of component score
    weights = per_point / per_point.sum()
    scorer.weights = {f.removeprefix("health_"): round(float(w), 3) for f, w in zip(kept, weights, strict=True)}
    return scorer


def lgbm_params(cfg: MLConfig, rows: int = 0) -> dict:
    params = {**cfg.lgbm_params, "seed": cfg.seed, "bagging_seed": cfg.seed, "feature_fraction_seed": cfg.seed,
              "data_random_seed": cfg.seed, "deterministic": True, "force_col_wise": True,
              "num_threads": cfg.num_threads, "verbosity": -1}
    params["min_data_in_leaf"] = max(int(params.get("min_data_in_leaf", 20)), round(cfg.min_data_in_leaf_share * rows))
    return params


def boost_rounds(train: pd.DataFrame, cfg: MLConfig) -> int:
    """Trees from the number of accounts with an outcome: a small book gets a small, strongly regularised model."""
    positive_accounts = train.loc[train["label"] == 1, "account_id"].nunique()
    return int(np.clip(round(cfg.boost_rounds_per_positive_account * positive_accounts), cfg.min_boost_round,
                       cfg.max_boost_round))


def train_booster(train: pd.DataFrame, features: list[str], cfg: MLConfig, rounds: int | None = None) -> lgb.Booster:
    # Codes of unordered categories (segment, lifecycle phase): LightGBM splits them by category, not by order. The
    # codes are fixed in the feature SQL, so training and scoring read the same ones (features.json records them).
    dtrain = lgb.Dataset(train[features].to_numpy(dtype=float), train["label"].to_numpy(dtype=float),
                         feature_name=list(features),
                         categorical_feature=[f for f in features if f in CATEGORICAL_FEATURES], free_raw_data=False)
    return lgb.train(lgbm_params(cfg, len(train)), dtrain, num_boost_round=rounds or boost_rounds(train, cfg))


def fit_lightgbm(train: pd.DataFrame, features: list[str], cfg: MLConfig) -> LightGBMScorer:
    _need_both_classes(train["label"].to_numpy(dtype=int), cfg.min_train_positives, LABELS["lightgbm"])
    return LightGBMScorer(train_booster(train, features, cfg), list(features))


def fit_candidate(name: str, train: pd.DataFrame, task: str, features: list[str], cfg: MLConfig) -> Scorer:
    """Fit one candidate on the training rows; CannotFit says why not."""
    if name == "days_to_term_end":
        return fixed_rule(name, "days_to_next_renewal", -1.0, train)
    if name == "health_score":
        return fixed_rule(name, "health_score", -1.0 if task == "churn" else 1.0, train)
    if name == "health_learned":
        return fit_health_learned(train, task, cfg)
    if name == "logistic_regression":
        _need_both_classes(train["label"].to_numpy(dtype=int), cfg.min_train_positives, LABELS[name])
        return fit_logistic(train, features, cfg)
    if name == "lightgbm":
        return fit_lightgbm(train, features, cfg)
    raise ValueError(f"unknown candidate {name!r}")
