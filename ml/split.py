"""Temporal split of labelled snapshot days: train | gap | validation | calibration | gap | test.

Gaps are at least the horizon H: a training snapshot's label window (D, D + H] ends before the first validation
snapshot, and the last calibration snapshot's window ends before the first test snapshot, so no outcome is seen by
two slices. Validation drives early stopping; calibration (the later half of the hold-out block) fits the probability
calibration; test is the out-of-time slice every model and baseline is measured on.

Short history (a year of data holds about 150-180 labelled days, less than two gaps of 90 days need): validation and
calibration become accounts held out of the training days (`holdout_account_share`, half each, chosen by a hash of
the account id), so only one gap is needed, train | gap | test. An outcome belongs to one account, so it is still seen
by one slice only, and the test slice stays out of time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ml.config import MLConfig

SLICES = ("train", "valid", "calib", "test")


class NotEnoughHistory(ValueError):
    """The labelled days cannot hold train, a gap of the horizon and test."""


def account_fraction(account_ids) -> np.ndarray:
    """A stable number in [0, 1) per account id: the same account lands in the same hold-out slice on every run."""
    # Factorized before any conversion, so each distinct id is converted and hashed once; a missing id is a value of
    # its own (without use_na_sentinel=False its code would be -1, the last account's hash).
    codes, accounts = pd.factorize(np.asarray(account_ids, dtype=object), use_na_sentinel=False)
    per_account = np.array([int.from_bytes(hashlib.blake2b(str(a).encode(), digest_size=8).digest(), "big") / 2.0**64
                            for a in accounts], dtype=float)
    return per_account[codes]


@dataclass(frozen=True)
class TemporalSplit:
    train: tuple[date, date]
    valid: tuple[date, date]
    calib: tuple[date, date]
    test: tuple[date, date]
    horizon_days: int
    notes: list[str] = field(default_factory=list)
    # > 0: validation and calibration are this share of the accounts on the training days (short history)
    holdout_account_share: float = 0.0

    def assign(self, dates, account_ids) -> pd.Series:
        """Slice name per snapshot (day, account): train/valid/calib/test, or `gap` between them (not used)."""
        values = pd.to_datetime(pd.Series(dates)).dt.date
        out = pd.Series("gap", index=values.index, dtype=object)
        for name in (("train", "test") if self.holdout_account_share else SLICES):
            lo, hi = getattr(self, name)
            out[(values >= lo) & (values <= hi)] = name
        if self.holdout_account_share:
            fraction = account_fraction(account_ids)
            held = (out == "train").to_numpy() & (fraction < self.holdout_account_share)
            out[held] = np.where(fraction[held] < self.holdout_account_share / 2, "valid", "calib")
        return out

    def gaps_days(self) -> tuple[int, int]:
        """Days between train and validation, and between calibration and test (0: other accounts, same days)."""
        if self.holdout_account_share:
            return 0, (self.test[0] - self.train[1]).days
        return (self.valid[0] - self.train[1]).days, (self.test[0] - self.calib[1]).days

    def describe(self) -> str:
        gaps = self.gaps_days()
        if self.holdout_account_share:
            return (f"validation and calibration: {self.holdout_account_share / 2:.0%} of the accounts each, held out "
                    f"of the training days; {gaps[1]} days between train and test (horizon {self.horizon_days})")
        return (f"{gaps[0]} days between train and validation, {gaps[1]} between calibration and test "
                f"(horizon {self.horizon_days})")

    def as_dict(self) -> dict:
        return {name: [getattr(self, name)[0].isoformat(), getattr(self, name)[1].isoformat()] for name in SLICES} | {
            "gap_days": list(self.gaps_days()), "horizon_days": self.horizon_days, "notes": list(self.notes),
            "holdout_account_share": self.holdout_account_share, "description": self.describe()}


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, round(value))))


def temporal_split(known_dates, cfg: MLConfig) -> TemporalSplit:
    """Split the distinct snapshot days whose labels are known; raises NotEnoughHistory with the reason."""
    days = sorted(set(pd.to_datetime(pd.Series(list(known_dates))).dt.date))
    h = cfg.horizon_days
    if len(days) < 4:
        raise NotEnoughHistory(f"only {len(days)} snapshot day{'s' if len(days) != 1 else ''} with a known label; "
                               f"the split needs {cfg.train_min_days + h + cfg.test_min_days} days of them "
                               f"({cfg.train_min_days} train + a gap of {h} + {cfg.test_min_days} test)")
    try:
        return _two_gap_split(days, cfg)
    except NotEnoughHistory:
        if cfg.holdout_account_share <= 0:
            raise
        return _account_holdout_split(days, cfg)


def _two_gap_split(days: list[date], cfg: MLConfig) -> TemporalSplit:
    """train | gap | validation | calibration | gap | test (module docstring); NotEnoughHistory when it does not fit."""
    h = cfg.horizon_days
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


def _account_holdout_split(days: list[date], cfg: MLConfig) -> TemporalSplit:
    """train | gap | test, validation and calibration taken from the training days by account (module docstring)."""
    h, first, last = cfg.horizon_days, days[0], days[-1]
    span = (last - first).days
    test_days = min(_clamp(cfg.test_share * (span - h), cfg.test_min_days, cfg.test_max_days),
                    span - h - cfg.train_min_days)
    if test_days < cfg.test_min_days:
        raise NotEnoughHistory(
            f"{span} days of labelled snapshots ({first} to {last}) cannot hold {cfg.train_min_days} training days + "
            f"a gap of {h} days + {cfg.test_min_days} test days")
    arr = np.array(days)
    test_days_in = arr[arr >= last - timedelta(days=test_days)]
    train_days_in = arr[arr <= test_days_in[0] - timedelta(days=h)]
    train = (train_days_in[0], train_days_in[-1])
    note = (f"short history ({span} days of labelled snapshots, too few for two gaps of {h} days and hold-out "
            f"days between them): validation and calibration are accounts held out of the training days")
    split = TemporalSplit(train=train, valid=train, calib=train, test=(test_days_in[0], test_days_in[-1]),
                          horizon_days=h, notes=[note], holdout_account_share=cfg.holdout_account_share)
    assert split.gaps_days()[1] >= h, (split.gaps_days(), h)
    return split
