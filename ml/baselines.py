"""Baselines every model must beat, scored on the same test slice.

- `health_score`: the rule-based health score of `fct_account_health` as a ranking (churn risk = 100 - score,
  expansion = score); needs no training, so it runs even when no model can be trained.
- `logistic_regression`: scikit-learn logistic regression on the same features (median imputation with missing
  indicators, standardised), trained on the training slice.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BASELINES = ("health_score", "logistic_regression")


def health_score_risk(frame: pd.DataFrame, task: str) -> np.ndarray | None:
    """Risk score from the health score (higher = likelier outcome); None when the data has no health score."""
    if "health_score" not in frame or frame["health_score"].notna().sum() == 0:
        return None
    health = frame["health_score"].astype(float)
    health = health.fillna(health.median())
    return (100.0 - health).to_numpy() if task == "churn" else health.to_numpy()


class LogisticBaseline:
    def __init__(self, features: list[str], seed: int = 0) -> None:
        self.features = list(features)
        self.pipeline = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.5, max_iter=3000, random_state=seed),
        )

    def fit(self, frame: pd.DataFrame, y) -> LogisticBaseline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipeline.fit(self._x(frame), np.asarray(y, dtype=int))
        return self

    def decision(self, frame: pd.DataFrame) -> np.ndarray:
        return self.pipeline.decision_function(self._x(frame))

    def _x(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame[self.features].to_numpy(dtype=float)
        # ratios can be huge on tiny denominators: clip to keep the linear model sane
        return np.clip(x, -1e6, 1e6)
