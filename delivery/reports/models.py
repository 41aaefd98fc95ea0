"""Model quality for the portfolio report, read from the model registry's files (layout: models/README.md): the
champion pointer, each version's metrics.json and training.json, the decisions log.

The metrics are plain JSON and read as such. The calibration plot (observed outcome rate against the champion's
predicted probability on its test slice) needs the champion's predictions, which the registry does not store: it
loads the champion through `ml.registry` (LightGBM model + the project's calibrator; re-implementing them here
would copy them) and applies it to the test slice of `ml.<task>_training_set`. That is the one import of `ml`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

METRICS = [("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier score"), ("lift_at_10", "lift @10%"),
           ("outcome_recall_at_20", "outcomes caught @20%")]
SCORERS = [("model", "champion"), ("health_score", "health score"), ("logistic_regression", "logistic reg.")]
CALIBRATION_BINS = 10


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
    """Mean predicted probability and observed rate per decile of the champion's prediction on its test slice."""
    from ml.registry import Registry  # see the module docstring: the one import of ml

    labels = f"ml.{champ.task}_training_set"
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ml' AND table_name "
                         "IN ('feature_snapshots', ?)", [f"{champ.task}_training_set"]).fetchone()[0]
    if champ.version is None or exists < 2:
        return None
    model = Registry(root).load(champ.task, champ.version)
    frame = con.execute(f"SELECT f.*, t.label FROM ml.feature_snapshots f JOIN {labels} t "
                        "USING (account_id, snapshot_date) WHERE t.slice = 'test' AND t.label_known").df()
    if frame.empty or any(f not in frame.columns for f in model.features):
        return None
    raw = model.booster.predict(frame[model.features].to_numpy(dtype=float), raw_score=True,
                                num_iteration=model.booster.best_iteration or None)
    frame["predicted"] = model.calibrator.predict(np.asarray(raw))
    frame["bin"] = pd.qcut(frame["predicted"].rank(method="first"), CALIBRATION_BINS, labels=False)
    return (frame.groupby("bin").agg(predicted=("predicted", "mean"), observed=("label", "mean"),
                                     rows=("label", "size")).reset_index(drop=True))
