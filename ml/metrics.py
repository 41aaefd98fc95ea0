"""Metrics on a test slice of weekly snapshots: ranking, probability quality, review budgets and lead time.

Review budget b: on every snapshot day the CSM team reviews the top b share of active accounts by score (ties broken
by account id). Row recall@b = positive snapshot rows flagged / positive rows; lift@b = precision of flagged rows /
base rate. An outcome (account and event date, e.g. one churn) is **caught** at budget b when the account was flagged
on at least one snapshot inside its label window (the H days before the event); its **lead time** is the days from
the first such flag to the event. Lead times are measured within the test slice, so they are lower bounds near its
start.
ROC-AUC among accounts whose renewal is due within the horizon (`roc_auc_renewal_due`) separates "knows who is up for
renewal" from "knows who of them will leave".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def flags_at_budget(frame: pd.DataFrame, score_col: str, budget: float) -> pd.Series:
    """True for the top `budget` share (rounded up) of rows per snapshot day by score."""
    ordered = frame.sort_values(["snapshot_date", score_col, "account_id"], ascending=[True, False, True],
                                kind="mergesort")
    rank = ordered.groupby("snapshot_date").cumcount() + 1
    size = ordered.groupby("snapshot_date")["account_id"].transform("size")
    flagged = rank <= np.ceil(budget * size)
    return flagged.reindex(frame.index)


def _safe(fn, *args) -> float | None:
    try:
        value = float(fn(*args))
    except ValueError:
        return None
    return None if math.isnan(value) else value


def evaluate_scores(frame: pd.DataFrame, score: np.ndarray, probability: np.ndarray | None,
                    budgets: tuple[float, ...], renewal_due_days: int | None = None) -> dict:
    """Metrics of `score` (higher = more likely) on rows with columns account_id, snapshot_date, label, event_date.

    With `renewal_due_days`, `roc_auc_renewal_due` is the ROC-AUC among rows whose next renewal is at most that many
    days away: churn can only happen when a contract ends, so this is the hard part of the ranking.
    """
    y = frame["label"].to_numpy().astype(int)
    work = frame[["account_id", "snapshot_date", "event_date"]].copy()
    work["label"] = y
    work["_score"] = np.asarray(score, dtype=float)
    out: dict = {
        "rows": int(len(work)),
        "positive_rows": int(y.sum()),
        "positive_accounts": int(work.loc[work["label"] == 1, "account_id"].nunique()),
        "outcomes": int(work.loc[work["label"] == 1, ["account_id", "event_date"]].drop_duplicates().shape[0]),
        "base_rate": float(y.mean()) if len(y) else None,
        "snapshot_days": int(work["snapshot_date"].nunique()),
    }
    both = 0 < y.sum() < len(y)
    out["roc_auc"] = _safe(roc_auc_score, y, work["_score"]) if both else None
    out["pr_auc"] = _safe(average_precision_score, y, work["_score"]) if both else None
    out["brier"] = float(brier_score_loss(y, probability)) if probability is not None and len(y) else None
    out["roc_auc_renewal_due"] = None
    if renewal_due_days is not None and "days_to_next_renewal" in frame:
        due = (frame["days_to_next_renewal"] <= renewal_due_days).to_numpy()
        y_due = y[due]
        if 0 < y_due.sum() < len(y_due):
            out["roc_auc_renewal_due"] = _safe(roc_auc_score, y_due, work["_score"].to_numpy()[due])
    positives = work[work["label"] == 1]
    for b in budgets:
        tag = f"{round(b * 100)}"
        flagged = flags_at_budget(work, "_score", b)
        n_flagged = int(flagged.sum())
        hits = int((flagged & (work["label"] == 1)).sum())
        precision = hits / n_flagged if n_flagged else None
        out[f"recall_at_{tag}"] = hits / len(positives) if len(positives) else None
        out[f"precision_at_{tag}"] = precision
        out[f"lift_at_{tag}"] = (precision / out["base_rate"]) if precision is not None and out["base_rate"] else None
        caught = positives[flagged[positives.index]]
        outcomes = positives[["account_id", "event_date"]].drop_duplicates()
        first_flag = caught.groupby(["account_id", "event_date"])["snapshot_date"].min()
        leads = np.array([(event - first).days for (_, event), first in first_flag.items()], dtype=float)
        out[f"outcomes_caught_at_{tag}"] = int(len(first_flag))
        out[f"outcome_recall_at_{tag}"] = len(first_flag) / len(outcomes) if len(outcomes) else None
        out[f"lead_time_median_at_{tag}"] = float(np.median(leads)) if len(leads) else None
    return out


def metric_value(metrics: dict | None, name: str) -> float | None:
    if not metrics:
        return None
    value = metrics.get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
