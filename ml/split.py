"""Rolling-origin backtest plan of the labelled snapshot days: several cut-offs, each tested out of time.

The latest labelled days are cut into `backtest_folds` windows of equal length W, newest first (fold 0 is the latest
labelled period). Fold k trains on every labelled day at least the horizon H before its window (expanding window),
so no outcome window of a training snapshot, (D, D + H], reaches into the days it is tested on. Every candidate is
fitted and scored fold by fold; the folds' out-of-time scores are pooled to compare them (`ml.selection`). One
validation slice of a few weeks can hold two churned accounts; several cut-offs pool every outcome of the latest
months, and a bootstrap by account says how sure the comparison is.

W is the room left after `train_min_days` of training and the gap, shared by the folds, at most
`backtest_window_max_days` and at least one snapshot cadence; with too little room the plan has fewer folds, and
under `backtest_min_folds` it raises NotEnoughHistory with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ml.config import MLConfig

HISTORY = "history"  # labelled days before the oldest window: training data of the folds only


class NotEnoughHistory(ValueError):
    """The labelled days cannot hold training days, a gap of the horizon and the backtest windows."""


@dataclass(frozen=True)
class Fold:
    index: int  # 0 = the latest labelled period
    train: tuple[date, date]
    test: tuple[date, date]

    @property
    def name(self) -> str:
        return f"fold_{self.index}"


@dataclass(frozen=True)
class BacktestPlan:
    folds: tuple[Fold, ...]  # newest first
    horizon_days: int
    window_days: int
    notes: list[str] = field(default_factory=list)

    @property
    def latest(self) -> Fold:
        return self.folds[0]

    @property
    def test(self) -> tuple[date, date]:
        """Every backtest window together: the out-of-time rows the candidates are compared on."""
        return self.folds[-1].test[0], self.folds[0].test[1]

    def assign(self, dates) -> pd.Series:
        """Fold name per snapshot day (`fold_0` = latest window), `history` before the oldest window."""
        values = pd.to_datetime(pd.Series(dates)).dt.date
        out = pd.Series(HISTORY, index=values.index, dtype=object)
        for fold in self.folds:
            out[(values >= fold.test[0]) & (values <= fold.test[1])] = fold.name
        return out

    def describe(self) -> str:
        return (f"rolling-origin backtest: {len(self.folds)} out-of-time windows of {self.window_days} days "
                f"({self.test[0]} to {self.test[1]}), each model trained on the days at least {self.horizon_days} "
                "days before its window")

    def as_dict(self) -> dict:
        return {"folds": [{"name": f.name, "train": [f.train[0].isoformat(), f.train[1].isoformat()],
                           "test": [f.test[0].isoformat(), f.test[1].isoformat()]} for f in self.folds],
                "test": [self.test[0].isoformat(), self.test[1].isoformat()], "horizon_days": self.horizon_days,
                "window_days": self.window_days, "notes": list(self.notes), "description": self.describe()}


def backtest_plan(known_dates, cfg: MLConfig) -> BacktestPlan:
    """The plan for the distinct snapshot days whose labels are known; NotEnoughHistory with the reason."""
    days = np.array(sorted(set(pd.to_datetime(pd.Series(list(known_dates))).dt.date)))
    h = cfg.horizon_days
    need = (f"{cfg.train_min_days} training days + a gap of {h} days + {cfg.backtest_min_folds} windows of at least "
            f"{cfg.cadence_days} days")
    if len(days) < 2:
        raise NotEnoughHistory(f"only {len(days)} snapshot day{'s' if len(days) != 1 else ''} with a known label; "
                               f"the backtest needs {need}")
    span = (days[-1] - days[0]).days + cfg.cadence_days  # each snapshot day stands for a cadence of days
    room = span - h - cfg.train_min_days
    folds = min(cfg.backtest_folds, room // cfg.cadence_days) if room > 0 else 0
    if folds < cfg.backtest_min_folds:
        raise NotEnoughHistory(f"{span} days of labelled snapshots ({days[0]} to {days[-1]}) cannot hold {need}")
    window = int(min(cfg.backtest_window_max_days, room // folds))
    window -= window % cfg.cadence_days  # whole snapshot weeks: every window holds the same number of days
    out, end = [], days[-1]
    for index in range(folds):
        start = end - timedelta(days=window - 1)
        test_days = days[(days >= start) & (days <= end)]
        train_days = days[days <= test_days[0] - timedelta(days=h)] if len(test_days) else []
        if len(test_days) == 0 or len(train_days) == 0:
            break
        out.append(Fold(index, (train_days[0], train_days[-1]), (test_days[0], test_days[-1])))
        end = start - timedelta(days=1)
    if len(out) < cfg.backtest_min_folds:
        raise NotEnoughHistory(f"{span} days of labelled snapshots ({days[0]} to {days[-1]}) cannot hold {need}")
    for fold in out:
        assert (fold.test[0] - fold.train[1]).days >= h, (fold, h)
    notes = [] if len(out) == cfg.backtest_folds else [f"short history: {len(out)} windows instead of "
                                                         f"{cfg.backtest_folds}"]
    return BacktestPlan(tuple(out), h, window, notes)
