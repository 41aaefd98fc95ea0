"""Evaluation only: an oracle that sees the generator's hidden state, to show how much signal the data can carry.

Reads `<landing>/_truth/state_daily.parquet` (or `state_weekly.parquet`), which no pipeline input may read. For each
snapshot it takes the hidden state on or before the snapshot day, its 90-day mean and change, plus two observables
(days to the next renewal, segment), and backtests LightGBM on the same windows as the candidates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ml.candidates import fit_lightgbm
from ml.config import MLConfig
from ml.selection import backtest_candidates, fold_rows
from ml.split import BacktestPlan

STATE = ("value_realized", "champion_strength", "product_fit", "support_pain", "health")
ORACLE_FEATURES = [*STATE, *[f"{s}_90d_mean" for s in STATE], *[f"{s}_90d_change" for s in STATE],
                   "days_to_next_renewal", "segment_code"]


def load_state(truth_dir: Path) -> pd.DataFrame:
    for name in ("state_daily.parquet", "state_weekly.parquet"):
        path = Path(truth_dir) / name
        if path.exists():
            state = pd.read_parquet(path)
            state["date"] = pd.to_datetime(state["date"]).astype("datetime64[ns]")
            return state.sort_values(["account_id", "date"]).reset_index(drop=True)
    raise FileNotFoundError(f"no hidden state in {truth_dir}")


def state_features(state: pd.DataFrame, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Hidden state as of each (account_id, snapshot_date): latest value, 90-day mean, change over 90 days."""
    s = state.copy()
    rolled = (s.set_index("date").groupby("account_id")[list(STATE)]
              .rolling("91D").mean().reset_index())
    rolled.columns = ["account_id", "date", *[f"{c}_90d_mean" for c in STATE]]
    s = s.merge(rolled, on=["account_id", "date"], how="left")
    snaps = snapshots[["account_id", "snapshot_date"]].copy()
    snaps["_ts"] = pd.to_datetime(snaps["snapshot_date"]).astype("datetime64[ns]")
    snaps["_row"] = np.arange(len(snaps))
    now = pd.merge_asof(snaps.sort_values("_ts"), s.sort_values("date"), left_on="_ts", right_on="date",
                        by="account_id", direction="backward")
    back = snaps.assign(_ts=snaps["_ts"] - pd.Timedelta(days=90))
    before = pd.merge_asof(back.sort_values("_ts"), s.sort_values("date")[["account_id", "date", *STATE]],
                           left_on="_ts", right_on="date", by="account_id", direction="backward")
    now = now.sort_values("_row").reset_index(drop=True)
    before = before.sort_values("_row").reset_index(drop=True)
    out = now[["account_id", "snapshot_date", *STATE, *[f"{c}_90d_mean" for c in STATE]]].copy()
    for c in STATE:
        out[f"{c}_90d_change"] = now[c].to_numpy() - before[c].to_numpy()
    return out


def evaluate_oracle(truth_dir: Path, training_set: pd.DataFrame, plan: BacktestPlan, cfg: MLConfig) -> dict:
    known = training_set[training_set["label_known"]].reset_index(drop=True)
    hidden = state_features(load_state(truth_dir), known)
    frame = known[["account_id", "snapshot_date", "label", "event_date", "days_to_next_renewal",
                   "segment_code"]].copy()
    for c in ORACLE_FEATURES:
        if c not in frame:
            frame[c] = hidden[c].to_numpy()
    runs, _ = backtest_candidates(frame, fold_rows(frame, plan), plan,
                                  {"oracle": lambda train: fit_lightgbm(train, ORACLE_FEATURES, cfg)}, cfg,
                                  workers=cfg.num_threads)
    return runs["oracle"].metrics
