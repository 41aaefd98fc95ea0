"""Temporal split of labelled snapshot days: train | gap | validation | calibration | gap | test.

Gaps are at least the horizon H: a training snapshot's label window (D, D + H] ends before the first validation
snapshot, and the last calibration snapshot's window ends before the first test snapshot, so no outcome is seen by
two slices. Validation drives early stopping; calibration (the later half of the hold-out block) fits the probability
calibration; test is the out-of-time slice every model and baseline is measured on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ml.config import MLConfig

SLICES = ("train", "valid", "calib", "test")


class NotEnoughHistory(ValueError):
    """The labelled days cannot hold train, two gaps of the horizon, validation, calibration and test."""


@dataclass(frozen=True)
class TemporalSplit:
    train: tuple[date, date]
    valid: tuple[date, date]
    calib: tuple[date, date]
    test: tuple[date, date]
    horizon_days: int
    notes: list[str] = field(default_factory=list)

    def assign(self, dates: pd.Series) -> pd.Series:
        """Slice name per snapshot day: train/valid/calib/test, or `gap` between them (not used)."""
        values = pd.to_datetime(pd.Series(dates)).dt.date
        out = pd.Series("gap", index=values.index, dtype=object)
        for name in SLICES:
            lo, hi = getattr(self, name)
            out[(values >= lo) & (values <= hi)] = name
        return out

    def gaps_days(self) -> tuple[int, int]:
        return (self.valid[0] - self.train[1]).days, (self.test[0] - self.calib[1]).days

    def as_dict(self) -> dict:
        return {name: [getattr(self, name)[0].isoformat(), getattr(self, name)[1].isoformat()] for name in SLICES} | {
            "gap_days": list(self.gaps_days()), "horizon_days": self.horizon_days, "notes": list(self.notes)}


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, round(value))))


def temporal_split(known_dates, cfg: MLConfig) -> TemporalSplit:
    """Split the distinct snapshot days whose labels are known; raises NotEnoughHistory with the reason."""
    days = sorted(set(pd.to_datetime(pd.Series(list(known_dates))).dt.date))
    h = cfg.horizon_days
    if len(days) < 4:
        need = cfg.train_min_days + 2 * h + cfg.holdout_min_days + cfg.test_min_days
        raise NotEnoughHistory(f"only {len(days)} snapshot day{'s' if len(days) != 1 else ''} with a known label; "
                               f"the split needs {need} days of them ({cfg.train_min_days} train + 2 gaps of {h} + "
                               f"{cfg.holdout_min_days} validation/calibration + {cfg.test_min_days} test)")
    first, last = days[0], days[-1]
    span = (last - first).days
    available = span - 2 * h
    test_days = _clamp(cfg.test_share * available, cfg.test_min_days, cfg.test_max_days)
    holdout_days = _clamp(cfg.holdout_share * available, cfg.holdout_min_days, cfg.holdout_max_days)
    notes: list[str] = []
    train_days = available - test_days - holdout_days
    if train_days < cfg.train_min_days:
        # give training its minimum first, at the expense of the hold-out slices
        short = cfg.train_min_days - train_days
        take = min(short, holdout_days - cfg.holdout_min_days)
        holdout_days -= take
        short -= take
        take = min(short, test_days - cfg.test_min_days)
        test_days -= take
        short -= take
        train_days = available - test_days - holdout_days
        notes.append(f"short history ({span} days of labelled snapshots): test {test_days} and hold-out "
                     f"{holdout_days} days")
        if short > 0:
            raise NotEnoughHistory(
                f"{span} days of labelled snapshots ({first} to {last}) cannot hold {cfg.train_min_days} training "
                f"days + 2 gaps of {h} days + {cfg.holdout_min_days} validation/calibration days + "
                f"{cfg.test_min_days} test days")
    arr = np.array(days)

    def pick(lo: date, hi: date) -> tuple[date, date]:
        inside = arr[(arr >= lo) & (arr <= hi)]
        if len(inside) == 0:
            raise NotEnoughHistory(f"no snapshot day between {lo} and {hi}")
        return inside[0], inside[-1]

    test = pick(last - timedelta(days=test_days), last)
    holdout_end = test[0] - timedelta(days=h)
    holdout = pick(holdout_end - timedelta(days=holdout_days), holdout_end)
    hold_days = arr[(arr >= holdout[0]) & (arr <= holdout[1])]
    if len(hold_days) < 2:
        raise NotEnoughHistory("the hold-out block has fewer than 2 snapshot days (validation and calibration)")
    mid = (len(hold_days) + 1) // 2
    valid = (hold_days[0], hold_days[mid - 1])
    calib = (hold_days[mid], hold_days[-1])
    train = pick(first, valid[0] - timedelta(days=h))
    split = TemporalSplit(train=train, valid=valid, calib=calib, test=test, horizon_days=h, notes=notes)
    g1, g2 = split.gaps_days()
    assert g1 >= h and g2 >= h, (g1, g2, h)
    return split
