"""The rule-based health score as a ranking (churn risk = 100 - score, expansion = score): needs no training, so it
ranks the accounts when no champion can be served and is measured even when no backtest is possible. As a candidate
of the champion choice it is `ml.candidates`' `health_score`."""

from __future__ import annotations

import numpy as np
import pandas as pd


def health_score_risk(frame: pd.DataFrame, task: str) -> np.ndarray | None:
    """Risk score from the health score (higher = likelier outcome); None when the data has no health score."""
    if "health_score" not in frame or frame["health_score"].notna().sum() == 0:
        return None
    health = frame["health_score"].astype(float)
    health = health.fillna(health.median())
    return (100.0 - health).to_numpy() if task == "churn" else health.to_numpy()
