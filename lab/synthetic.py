"""Small hand-made training sets with a known signal (every feature column, weekly snapshots) for tests and demos."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ml.features import FEATURE_NAMES


def make_training_set(accounts: int = 200, weeks: int = 60, seed: int = 0, signal: float = 4.0,
                      start: date = date(2024, 1, 7)) -> pd.DataFrame:
    """Snapshots of `accounts` accounts every 7 days. Outcomes come (non-linearly) from low seat utilization close
    to a renewal, so a tree model beats a linear one and the health score (correlated with utilization) helps."""
    rng = np.random.default_rng(seed)
    rows = accounts * weeks
    frame = pd.DataFrame({
        "account_id": np.tile([f"A{i:05d}" for i in range(accounts)], weeks),
        "snapshot_date": np.repeat([start + timedelta(days=7 * w) for w in range(weeks)], accounts),
    })
    for name in FEATURE_NAMES:
        frame[name] = rng.normal(size=rows)
    latent = rng.normal(size=accounts)[np.tile(np.arange(accounts), weeks)]
    frame["seat_utilization"] = np.clip(0.6 + 0.2 * latent + 0.05 * rng.normal(size=rows), 0, 1.5)
    frame["health_score"] = np.clip(60 + 15 * latent + 10 * rng.normal(size=rows), 0, 100)
    frame["days_to_next_renewal"] = rng.integers(1, 365, size=rows).astype(float)
    at_risk = (frame["seat_utilization"] < 0.5) & (frame["days_to_next_renewal"] <= 120)
    logit = -4.0 + signal * at_risk
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    frame["label_known"] = True
    frame["event_date"] = [d + timedelta(days=30) if y == 1 else None
                           for d, y in zip(frame["snapshot_date"], frame["label"], strict=True)]
    return frame
