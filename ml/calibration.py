"""Probability calibration of a raw score (LightGBM log-odds, or a baseline's risk score) on a later slice.

Platt scaling (a sigmoid of a*score + b, a >= 0) unless the calibration slice holds at least
`isotonic_min_positives` positives, then isotonic regression. Both are monotone non-decreasing in the score, so
calibration never reorders accounts. Stored as JSON: method, parameters and a table (score -> probability).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


@dataclass
class Calibrator:
    method: str  # platt | isotonic | constant
    params: dict = field(default_factory=dict)
    note: str = ""

    def predict(self, score) -> np.ndarray:
        s = np.asarray(score, dtype=float)
        if self.method == "platt":
            z = self.params["a"] * (s - self.params["center"]) + self.params["b"]
            return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        if self.method == "isotonic":
            return np.interp(s, self.params["x"], self.params["y"])
        if self.method == "constant":
            return np.full(s.shape, float(self.params["p"]))
        raise ValueError(f"unknown calibration method {self.method!r}")

    def table(self, lo: float, hi: float, points: int = 21) -> list[list[float]]:
        grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
        return [[round(float(s), 6), round(float(p), 6)] for s, p in zip(grid, self.predict(grid), strict=True)]

    def as_dict(self, score_range: tuple[float, float] | None = None) -> dict:
        out = {"method": self.method, "params": self.params, "note": self.note}
        if score_range is not None:
            out["table"] = self.table(*score_range)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(method=data["method"], params=data["params"], note=data.get("note", ""))


def fit_calibrator(score, y, isotonic_min_positives: int = 1000, method: str = "auto") -> Calibrator:
    """Fit on (score, label); `method` is auto, platt or isotonic."""
    s = np.asarray(score, dtype=float)
    t = np.asarray(y, dtype=float)
    keep = ~np.isnan(s) & ~np.isnan(t)
    s, t = s[keep], t[keep].astype(int)
    positives = int(t.sum())
    if len(t) == 0 or positives == 0 or positives == len(t):
        rate = float(t.mean()) if len(t) else 0.0
        return Calibrator("constant", {"p": rate}, note=f"calibration slice has {positives} positives of {len(t)} "
                                                         "rows: constant base rate")
    if method == "auto":
        method = "isotonic" if positives >= isotonic_min_positives else "platt"
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", increasing=True, y_min=0.0, y_max=1.0).fit(s, t)
        return Calibrator("isotonic", {"x": [float(v) for v in iso.X_thresholds_],
                                       "y": [float(v) for v in iso.y_thresholds_]},
                          note=f"isotonic on {len(t)} rows, {positives} positives")
    center = float(np.mean(s))
    scale = float(np.std(s)) or 1.0
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(((s - center) / scale).reshape(-1, 1), t)
    a = float(lr.coef_[0][0]) / scale
    b = float(lr.intercept_[0])
    note = f"Platt on {len(t)} rows, {positives} positives"
    if a < 0:
        # the score ranks the calibration slice backwards: keep order, give the base rate
        rate = float(t.mean())
        a, b = 0.0, float(np.log(rate / (1 - rate)))
        note += "; the score ranked this slice backwards, so every score maps to the base rate"
    return Calibrator("platt", {"a": a, "b": b, "center": center}, note=note)
