"""Population stability index (PSI) of each feature and of the score, test slice vs today's scoring set.

PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%). Bins are the deciles of the reference
(test-slice) values, plus one bin for missing values; empty bins get a small floor so the log stays finite.
Rule of thumb (and our thresholds): < 0.1 stable, 0.1-0.25 warn, > 0.25 fail.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ml.config import MLConfig

FLOOR = 1e-4


def psi_from_proportions(expected, actual) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def bin_edges(reference, bins: int = 10) -> list[float]:
    """Inner edges: distinct deciles of the non-missing reference values."""
    values = np.asarray(reference, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return []
    qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return sorted({float(q) for q in qs})


def proportions(values, edges: list[float]) -> list[float]:
    """Share of values per bin: (-inf, e1], (e1, e2], ..., (ek, inf), then missing."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return [0.0] * (len(edges) + 2)
    missing = np.isnan(v)
    idx = np.searchsorted(np.asarray(edges, dtype=float), v[~missing], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return [float(c / n) for c in counts] + [float(missing.sum() / n)]


def psi(reference, current, bins: int = 10) -> float:
    edges = bin_edges(reference, bins)
    return psi_from_proportions(proportions(reference, edges), proportions(current, edges))


def reference_profile(frame: pd.DataFrame, features: list[str], scores, bins: int = 10) -> dict:
    """Bin edges and proportions of each feature and of the score on the reference rows."""
    profile = {"rows": int(len(frame)), "bins": bins, "features": {}, "score": None}
    for name in features:
        values = frame[name].to_numpy(dtype=float)
        edges = bin_edges(values, bins)
        profile["features"][name] = {"edges": edges, "proportions": proportions(values, edges)}
    s = np.asarray(scores, dtype=float)
    edges = bin_edges(s, bins)
    profile["score"] = {"edges": edges, "proportions": proportions(s, edges)}
    return profile


def status(value: float | None, warn: float, fail: float) -> str:
    if value is None or math.isnan(value):
        return "unknown"
    return "fail" if value > fail else "warn" if value > warn else "ok"


def drift_report(profile: dict, frame: pd.DataFrame, scores, warn: float = 0.1, fail: float = 0.25,
                 exempt: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per feature and one for the score: psi and ok/warn/fail, worst first. Features in `exempt` (clocks
    that move with the calendar by construction) are reported with status `exempt` and never warn or fail."""
    rows = []
    for name, ref in profile["features"].items():
        current = frame[name].to_numpy(dtype=float) if name in frame else np.full(len(frame), np.nan)
        value = psi_from_proportions(ref["proportions"], proportions(current, ref["edges"]))
        rows.append({"kind": "feature", "name": name, "psi": value})
    if profile.get("score") is not None and scores is not None:
        ref = profile["score"]
        value = psi_from_proportions(ref["proportions"], proportions(np.asarray(scores, dtype=float), ref["edges"]))
        rows.append({"kind": "score", "name": "score", "psi": value})
    report = pd.DataFrame(rows, columns=["kind", "name", "psi"])
    report["status"] = ["exempt" if name in exempt else status(v, warn, fail)
                        for name, v in zip(report["name"], report["psi"], strict=True)]
    return report.sort_values("psi", ascending=False, kind="mergesort").reset_index(drop=True)


def verdict(report: pd.DataFrame, cfg: MLConfig) -> tuple[str, str, dict]:
    """PASS / WARN / FAIL of one kind of rows of a drift report (features or the score), read from the statuses the
    report holds (`drift_report` set them with the thresholds of the run that scored): a description naming the
    drifting columns, and metadata (max PSI, the ten worst, the exempt clocks, the thresholds)."""
    if report.empty:
        return "PASS", "no model in use: nothing to compare", {"rows": 0}
    worst = report.sort_values("psi", ascending=False).head(10)
    metadata = {"max_psi": float(report["psi"].max()),
                "worst": [{"name": r.name, "psi": round(float(r.psi), 4)} for r in worst.itertuples()],
                "warn_above": cfg.psi_warn, "fail_above": cfg.psi_fail}
    exempt = report[report["status"] == "exempt"]
    if len(exempt):
        metadata["exempt_clock_features"] = {r.name: round(float(r.psi), 4) for r in exempt.itertuples()}
    for status, name, threshold in (("fail", "FAIL", cfg.psi_fail), ("warn", "WARN", cfg.psi_warn)):
        rows = report[report["status"] == status].sort_values("psi", ascending=False)
        if len(rows):
            return name, f"PSI above {threshold}: " + ", ".join(rows["name"].head(10)), metadata
    return "PASS", f"every PSI at most {cfg.psi_warn}", metadata
