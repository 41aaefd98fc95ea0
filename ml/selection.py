"""Choosing the champion honestly: every candidate backtested fold by fold, compared with intervals by account.

`backtest_candidate` scores each fold's window with the candidate fitted on that fold's training days (`ml.split`); the
windows' scores pooled are the candidate's out-of-time record. Probabilities are calibrated out of time as in
production: each window's scores by the calibrator fitted on the window before it (the latest labelled period at
that point), so a shift of the base rate shows in the Brier score, next to the Brier of a constant (the earlier
window's base rate). ROC-AUC is the mean of the windows' ROC-AUCs weighted by their positive rows (each window is
scored by its own model, whose raw scores need not share a scale with the others').

`choose` takes the best candidate by ROC-AUC when it is meaningfully better than the simplest one available: the
bootstrap interval by account (accounts resampled with replacement, `interval` coverage) of their ROC-AUC
difference lies above 0. Otherwise the simplest is served: no more complex candidate has shown it does better.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.calibration import Calibrator, fit_calibrator
from ml.candidates import LABELS, CannotFit, Scorer
from ml.config import MLConfig
from ml.metrics import evaluate_scores
from ml.split import HISTORY, BacktestPlan


@dataclass
class CandidateRun:
    name: str
    raw: np.ndarray  # out-of-time raw score per backtest row
    probability: np.ndarray  # calibrated by the window before (NaN in the oldest window)
    constant: np.ndarray  # the window before's base rate (NaN in the oldest window)
    scorers: dict[int, Scorer]  # fold index -> the scorer fitted for it
    latest_calibrator: Calibrator  # fitted on the latest window's scores: what serving uses
    metrics: dict = field(default_factory=dict)


def fold_rows(known: pd.DataFrame, plan: BacktestPlan) -> pd.Series:
    return plan.assign(known["snapshot_date"].to_numpy()).set_axis(known.index)


def fold_trains(known: pd.DataFrame, plan: BacktestPlan) -> list[pd.DataFrame]:
    """Each fold's training rows, in `plan.folds` order."""
    dates = pd.to_datetime(known["snapshot_date"]).dt.date
    return [known[((dates >= fold.train[0]) & (dates <= fold.train[1])).to_numpy()] for fold in plan.folds]


def backtest_candidates(known: pd.DataFrame, folds: pd.Series, plan: BacktestPlan,
                        fits: dict[str, Callable[[pd.DataFrame], Scorer]], cfg: MLConfig, workers: int
                        ) -> tuple[dict[str, CandidateRun], dict[str, CannotFit]]:
    """Backtest each candidate of `fits` (name -> fit on training rows), its fold fits queued in `fits`' order on
    one pool of `workers` threads (LightGBM and NumPy release the GIL): each candidate is scored, calibrated and
    measured here while the later ones still fit. Returns the runs and why the others could not be fitted."""
    trains = fold_trains(known, plan)
    runs: dict[str, CandidateRun] = {}
    cannot: dict[str, CannotFit] = {}
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        queued = {name: [pool.submit(fit, train) for train in trains] for name, fit in fits.items()}
        for name, fitted in queued.items():
            try:
                runs[name] = backtest_candidate(known, folds, plan, name, [f.result() for f in fitted], cfg)
            except CannotFit as exc:
                cannot[name] = exc
    finally:
        pool.shutdown(cancel_futures=True)
    return runs, cannot


def backtest_candidate(known: pd.DataFrame, folds: pd.Series, plan: BacktestPlan, name: str,
                       fitted: list[Scorer], cfg: MLConfig) -> CandidateRun:
    """`known`: labelled rows with `folds` (their plan.assign); `fitted`: the candidate's scorer for each fold of
    `plan.folds`, trained on that fold's `fold_trains` rows."""
    test_mask = (folds != HISTORY).to_numpy()
    test, test_fold = known[test_mask], folds[test_mask].to_numpy()
    y = test["label"].to_numpy(dtype=int)
    raw = np.full(len(test), np.nan)
    scorers = {}
    for fold, scorer in zip(plan.folds, fitted, strict=True):
        scorers[fold.index] = scorer
        inside = test_fold == fold.name
        raw[inside] = scorers[fold.index].raw(test[inside])
    probability, constant = np.full(len(test), np.nan), np.full(len(test), np.nan)
    for newer, older in zip(plan.folds[:-1], plan.folds[1:], strict=True):
        before, inside = test_fold == older.name, test_fold == newer.name
        calibrator = fit_calibrator(raw[before], y[before], cfg.isotonic_min_positives)
        probability[inside] = calibrator.predict(raw[inside])
        constant[inside] = y[before].mean() if before.any() else np.nan
    latest = test_fold == plan.latest.name
    run = CandidateRun(name, raw, probability, constant, scorers,
                       fit_calibrator(raw[latest], y[latest], cfg.isotonic_min_positives))
    run.metrics = candidate_metrics(test, test_fold, run, plan, cfg)
    return run


class FoldRanks:
    """A score's tie groups in each window, sorted once: every weighted ROC-AUC of it (the point value, each
    bootstrap resample) is then two bincounts per window instead of a sort."""

    def __init__(self, y: np.ndarray, score: np.ndarray, fold: np.ndarray):
        self.windows = []
        for name in np.unique(fold):
            inside = np.flatnonzero(fold == name)
            scored = inside[~np.isnan(score[inside])]
            _, group = np.unique(score[scored], return_inverse=True)
            self.windows.append((inside[y[inside] == 1], scored, group, y[scored] == 1))

    def auc(self, weight: np.ndarray | None = None) -> float | None:
        """Mean of the windows' (weighted) ROC-AUCs, weighted by their positive weight; None when none has both
        classes."""
        total = value = 0.0
        for positives, scored, group, positive in self.windows:
            auc = _grouped_auc(group, positive, np.ones(len(scored)) if weight is None else weight[scored])
            if auc is not None:
                pos = float(len(positives) if weight is None else weight[positives].sum())
                total, value = total + pos, value + pos * auc
        return value / total if total else None


def fold_weighted_auc(y: np.ndarray, score: np.ndarray, fold: np.ndarray) -> float | None:
    return FoldRanks(y, score, fold).auc()


def _weighted_auc(y: np.ndarray, score: np.ndarray, w: np.ndarray) -> float | None:
    """ROC-AUC with row weights (ties count half), by one sort."""
    keep = ~np.isnan(score)
    _, group = np.unique(score[keep], return_inverse=True)
    return _grouped_auc(group, y[keep] == 1, w[keep])


def _grouped_auc(group: np.ndarray, positive: np.ndarray, w: np.ndarray) -> float | None:
    """`group`: each row's rank among the distinct scores."""
    neg = np.bincount(group, weights=w * ~positive)
    pos = np.bincount(group, weights=w * positive)
    if neg.sum() <= 0 or pos.sum() <= 0:
        return None
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def candidate_metrics(test: pd.DataFrame, fold: np.ndarray, run: CandidateRun, plan: BacktestPlan,
                      cfg: MLConfig) -> dict:
    y = test["label"].to_numpy(dtype=int)
    out = evaluate_scores(test, run.raw, None, cfg.review_budgets, cfg.horizon_days)
    out["roc_auc_pooled"] = out["roc_auc"]
    out["roc_auc"] = fold_weighted_auc(y, run.raw, fold)
    calibrated = ~np.isnan(run.probability)
    if calibrated.any():
        p, c, yc = run.probability[calibrated], run.constant[calibrated], y[calibrated]
        out["brier"] = float(np.mean((p - yc) ** 2))
        out["brier_constant"] = float(np.mean((c - yc) ** 2))
        out["mean_predicted"], out["observed_rate"] = float(p.mean()), float(yc.mean())
    latest = fold == plan.latest.name
    out["roc_auc_latest"] = _weighted_auc(y[latest], run.raw[latest], np.ones(int(latest.sum())))
    return out


def reliability_table(probability: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    """Rows grouped by calibrated probability (quantile bins): mean predicted vs observed rate."""
    keep = ~np.isnan(probability)
    p, t = probability[keep], y[keep]
    if len(p) == 0:
        return []
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    return [{"from": round(float(p[which == b].min()), 4), "to": round(float(p[which == b].max()), 4),
             "rows": int((which == b).sum()), "mean_predicted": round(float(p[which == b].mean()), 4),
             "observed": round(float(t[which == b].mean()), 4)} for b in np.unique(which)]


@dataclass
class Selection:
    champion: str | None
    reasons: list[str]
    auc: dict  # name -> point ROC-AUC
    interval: dict  # name -> [lo, hi]
    difference: dict  # name -> [lo, hi] of (its ROC-AUC - the simplest's)
    simplest: str | None = None

    def as_dict(self) -> dict:
        return {"champion": self.champion, "reasons": self.reasons, "roc_auc": self.auc, "interval": self.interval,
                "difference_vs_simplest": self.difference, "simplest": self.simplest}


def bootstrap(test: pd.DataFrame, fold: np.ndarray, scores: dict[str, np.ndarray], cfg: MLConfig
              ) -> dict[str, np.ndarray]:
    """Fold-weighted ROC-AUC of every scorer on `samples` resamples of the accounts (the same for all)."""
    y = test["label"].to_numpy(dtype=int)
    codes, accounts = pd.factorize(test["account_id"])
    rng = np.random.default_rng(cfg.seed)
    ranks = {name: FoldRanks(y, score, fold) for name, score in scores.items()}
    out = {name: np.full(cfg.bootstrap_samples, np.nan) for name in scores}
    for b in range(cfg.bootstrap_samples):
        weight = np.bincount(rng.integers(0, len(accounts), len(accounts)),
                             minlength=len(accounts))[codes].astype(float)
        for name in scores:
            value = ranks[name].auc(weight)
            out[name][b] = np.nan if value is None else value
    return out


def choose(test: pd.DataFrame, fold: np.ndarray, runs: dict[str, CandidateRun], order: tuple[str, ...],
           cfg: MLConfig) -> Selection:
    measured = [n for n in order if n in runs and runs[n].metrics.get("roc_auc") is not None]
    if not measured:
        return Selection(None, ["no candidate could be measured out of time"], {}, {}, {})
    auc = {n: round(float(runs[n].metrics["roc_auc"]), 4) for n in measured}
    samples = bootstrap(test, fold, {n: runs[n].raw for n in measured}, cfg)
    tail = (1 - cfg.interval) / 2 * 100
    bounds = lambda v: [round(float(np.nanpercentile(v, tail)), 4), round(float(np.nanpercentile(v, 100 - tail)), 4)]  # noqa: E731
    simplest = measured[0]
    interval = {n: bounds(samples[n]) for n in measured}
    for n in measured:  # shown next to the point value in every metrics table
        runs[n].metrics["roc_auc_lo"], runs[n].metrics["roc_auc_hi"] = interval[n]
    difference = {n: bounds(samples[n] - samples[simplest]) for n in measured[1:]}
    best = max(measured, key=lambda n: (auc[n], -measured.index(n)))
    simple = LABELS[simplest]
    lo, hi = difference.get(best, [0.0, 0.0])
    champion = best if best == simplest or lo > 0 else simplest
    for n in measured:  # how much better than the served one each candidate may be: the evaluation bar reads it
        runs[n].metrics["roc_auc_vs_served_lo"], runs[n].metrics["roc_auc_vs_served_hi"] = \
            bounds(samples[n] - samples[champion])
    if best == simplest:
        reasons = [f"{simple} ranks best out of time (ROC-AUC {auc[best]:.3f}); no other candidate does better"]
    elif lo > 0:
        reasons = [f"{LABELS[best]} ranks best out of time (ROC-AUC {auc[best]:.3f}, {interval[best][0]:.3f}-"
                   f"{interval[best][1]:.3f}) and is meaningfully better than {simple}, the simplest candidate "
                   f"({auc[simplest]:.3f}; difference {lo:+.3f} to {hi:+.3f}, {cfg.interval:.0%} bootstrap by account)"]
    else:
        reasons = [f"{LABELS[best]} ranks best out of time (ROC-AUC {auc[best]:.3f}) but not meaningfully better than "
                   f"{simple} ({auc[simplest]:.3f}; difference {lo:+.3f} to {hi:+.3f}, {cfg.interval:.0%} bootstrap by "
                   f"account): the simplest candidate is served"]
    return Selection(champion, reasons, auc, interval, difference, simplest)
