"""Score every active account on the as-of day with the champion model, or say plainly why there is none.

The champion is whichever candidate the backtest chose (`ml.candidates`: LightGBM, a linear model or a rule).
One row per account: calibrated probability, risk band (high / medium / low), rank, the top reasons in plain words,
the model version and the data as-of date. Without a usable champion the accounts are ranked by the rule-based
health score instead (`model_version = 'baseline:health_score'`, probability null) and every row says why.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ml.baselines import health_score_risk
from ml.config import MLConfig
from ml.explain import context_text, top_reasons
from ml.registry import LoadedModel
from ml.train import risk_band

SCORE_COLUMNS = ["task", "account_id", "as_of_date", "model_version", "probability", "raw_score", "risk_band",
                 "risk_rank", "risk_percentile", "top_reasons", "reason_families", "reasons_text", "context",
                 "scored_at"]
BASELINE_VERSION = "baseline:health_score"
NOTHING_STANDS_OUT = {"churn": "no warning sign: nothing raises the churn risk above a typical account's",
                      "expansion": "no expansion signal: nothing raises the chance above a typical account's"}


def missing_features(model: LoadedModel, frame: pd.DataFrame) -> list[str]:
    return [f for f in model.features if f not in frame.columns]


def score_accounts(frame: pd.DataFrame, task: str, model: LoadedModel | None, cfg: MLConfig,
                   why_no_model: str = "") -> pd.DataFrame:
    """`frame`: features (and context) of the accounts active on the as-of day, one row each."""
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS})
    if model is not None and missing_features(model, frame):
        why_no_model = (f"champion {model.version} needs features the data lacks: "
                        + ", ".join(missing_features(model, frame)))
        model = None
    out = pd.DataFrame({"task": task, "account_id": frame["account_id"].astype(str).to_numpy(),
                        "as_of_date": frame["snapshot_date"].to_numpy()})
    if model is not None:
        raw = model.scorer.raw(frame)
        prob = model.calibrator.predict(raw)
        reasons = top_reasons(frame, model.scorer.contributions(frame, cfg.num_threads), model.scorer.features,
                              cfg.top_reasons)
        out["model_version"] = model.version
        out["probability"] = prob
        out["raw_score"] = raw
        out["risk_band"] = risk_band(prob, model.bands)
        out["top_reasons"] = [[r["phrase"] for r in rs] or [NOTHING_STANDS_OUT[task]] for rs in reasons]
        out["reason_families"] = [[r["family"] for r in rs] for rs in reasons]
    else:
        why = why_no_model or f"no {task} model has been promoted yet"
        risk = health_score_risk(frame, task)
        out["model_version"] = BASELINE_VERSION
        out["probability"] = np.nan
        out["raw_score"] = risk if risk is not None else np.nan
        if risk is not None and len(out):
            ranks = pd.Series(risk).rank(ascending=False, method="first").to_numpy()
            n = len(out)
            hi, mid = np.ceil(cfg.band_budgets[0] * n), np.ceil(cfg.band_budgets[1] * n)
            out["risk_band"] = np.where(ranks <= hi, "high", np.where(ranks <= mid, "medium", "low"))
        else:
            out["risk_band"] = None
        moved = frame["why_moved_30d"].tolist() if "why_moved_30d" in frame else [None] * len(out)
        out["top_reasons"] = [[f"no {task} model in use ({why}); ranked by the rule-based health score"]
                              + ([f"health score {m}"] if isinstance(m, str) and m else []) for m in moved]
        out["reason_families"] = [["baseline"] for _ in range(len(out))]
    out["context"] = [context_text(row) for row in frame.to_dict("records")]
    order = pd.Series(out["raw_score"]).rank(ascending=False, method="first")
    out["risk_rank"] = order.astype("Int64").to_numpy()
    out["risk_percentile"] = (1 - (order - 1) / max(len(out), 1)).round(4).to_numpy()
    out["reasons_text"] = ["; ".join(r) for r in out["top_reasons"]]
    out["scored_at"] = scored_at
    return out[SCORE_COLUMNS].sort_values("risk_rank", kind="mergesort").reset_index(drop=True)
