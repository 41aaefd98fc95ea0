"""Model quality for the portfolio report, read from the model registry's files (layout: models/README.md): the
champion pointer, each version's metrics.json and training.json, the decisions log.

The metrics are plain JSON and read as such, and so is the calibration plot (observed outcome rate against the
champion's predicted probability over its out-of-time backtest): `calibration.json`'s reliability table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

METRICS = [("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier score"), ("lift_at_10", "lift @10%"),
           ("outcome_recall_at_20", "outcomes caught @20%")]
SCORERS = [("model", "champion"), ("days_to_term_end", "days to term end"), ("health_score", "health score"),
           ("logistic_regression", "logistic reg.")]


@dataclass
class Champion:
    task: str
    version: str | None
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    reason: str = ""  # why there is none


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def champion(root: Path, task: str) -> Champion:
    version = _json(root / "champion.json").get(task)
    if version is None:
        decisions = [json.loads(line) for line in (root / "decisions.jsonl").read_text().splitlines()
                     if line.strip()] if (root / "decisions.jsonl").exists() else []
        last = [d for d in decisions if d.get("task") == task]
        why = "; ".join(last[-1].get("reasons") or []) if last else f"no training run recorded in {root}"
        return Champion(task, None, reason=f"no {task} champion: {why}")
    folder = root / task / version
    return Champion(task, version, _json(folder / "metrics.json"), _json(folder / "training.json"))


def metric_rows(champ: Champion) -> list[list[str]]:
    """Rows: metric, then the champion's value and its baselines' on the same test slice."""
    def fmt(scorer: str, key: str) -> str:
        value = (champ.metrics.get(scorer) or {}).get(key)
        return "n/a" if value is None else f"{value:.3f}"
    return [[label, *[fmt(scorer, key) for scorer, _ in SCORERS]] for key, label in METRICS]


def calibration_curve(con, root: Path, champ: Champion) -> pd.DataFrame | None:
    """Mean predicted probability and observed rate per probability bin of the champion's out-of-time backtest
    (each window calibrated on the one before, as in production), stored with the version's calibration."""
    del con  # the reliability table is stored with the version: nothing to recompute
    if champ.version is None:
        return None
    table = (_json(root / champ.task / champ.version / "calibration.json").get("check") or {}).get("reliability")
    if not table:
        return None
    return pd.DataFrame([{"predicted": r["mean_predicted"], "observed": r["observed"], "rows": r["rows"]}
                         for r in table])
