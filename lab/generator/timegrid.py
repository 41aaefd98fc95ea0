"""The calendar of a generated data set: day grid, months, weekdays, holidays and ISO-8601 string formatting.

Days are integers relative to `day0` (= window start minus a burn-in during which the hidden state warms up but
nothing observable is written). Times are (day, second-of-day) pairs in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BURN_IN_DAYS = 180
REGIONS = ("NA", "EMEA", "APAC", "LATAM")

# (month, day, activity factor, regions it applies to; None = all). A fixed list: dates do not move by year.
HOLIDAYS: tuple[tuple[int, int, float, tuple[str, ...] | None], ...] = (
    (12, 24, 0.25, None),
    (12, 25, 0.15, None),
    (12, 26, 0.30, None),
    (12, 27, 0.40, None),
    (12, 28, 0.40, None),
    (12, 29, 0.45, None),
    (12, 30, 0.45, None),
    (12, 31, 0.30, None),
    (1, 1, 0.15, None),
    (5, 1, 0.35, ("EMEA", "LATAM", "APAC")),
    (7, 4, 0.30, ("NA",)),
    (11, 27, 0.35, ("NA",)),
    (11, 28, 0.55, ("NA",)),
    (9, 1, 0.45, ("NA",)),
    (8, 15, 0.50, ("EMEA",)),
    (10, 1, 0.45, ("APAC",)),
    (10, 2, 0.50, ("APAC",)),
    (9, 7, 0.45, ("LATAM",)),
)

_EPOCH = np.datetime64("1970-01-01", "D")


@dataclass
class Calendar:
    end: date
    months: int
    window_start: date
    day0: np.datetime64  # datetime64[D]
    n_days: int  # days day0 .. end inclusive
    first_day: int  # index of window_start
    month_labels: list[str]
    month_start_day: np.ndarray  # (months+1,) day index of each month start; last = n_days
    weekday: np.ndarray  # (n_days,) 0 = Monday
    holiday_factor: np.ndarray  # (n_days, len(REGIONS)) multiplier on activity

    @property
    def window_days(self) -> int:
        return self.n_days - self.first_day

    def to_date64(self, days: np.ndarray) -> np.ndarray:
        return self.day0 + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")

    def to_date(self, day: int) -> date:
        return (self.day0 + np.timedelta64(int(day), "D")).astype(object)

    def day_of(self, d: date) -> int:
        return int((np.datetime64(d, "D") - self.day0).astype(np.int64))

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Month index (0 = first window month) of day indices; negative before, >= months after the window."""
        m = self.to_date64(days).astype("datetime64[M]").astype(np.int64)
        return m - np.datetime64(self.window_start, "M").astype(np.int64)

    def landing_month(self, days: np.ndarray) -> np.ndarray:
        """Batch index a row dated `days` lands in: history lands in the first batch; after the window: `months`."""
        return np.clip(self.month_of(days), 0, self.months)

    def add_months(self, days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
        """Same day-of-month `months` later (clamped to month end), as day indices."""
        d = self.to_date64(days)
        m = d.astype("datetime64[M]")
        dom = (d - m.astype("datetime64[D]")).astype(np.int64)
        nm = m + np.asarray(months).astype("timedelta64[M]")
        dim = ((nm + np.timedelta64(1, "M")).astype("datetime64[D]") - nm.astype("datetime64[D]")).astype(np.int64)
        out = nm.astype("datetime64[D]") + np.minimum(dom, dim - 1).astype("timedelta64[D]")
        return (out - self.day0).astype(np.int64)


def make_calendar(end: date, months: int) -> Calendar:
    if months < 1:
        raise ValueError("months must be >= 1")
    y, m = end.year, end.month - (months - 1)
    while m < 1:
        m += 12
        y -= 1
    window_start = date(y, m, 1)
    day0_date = window_start - timedelta(days=BURN_IN_DAYS)
    day0 = np.datetime64(day0_date, "D")
    n_days = (end - day0_date).days + 1
    labels, starts = [], []
    yy, mm = y, m
    for _ in range(months):
        labels.append(f"{yy:04d}-{mm:02d}")
        starts.append((date(yy, mm, 1) - day0_date).days)
        mm += 1
        if mm > 12:
            mm, yy = 1, yy + 1
    starts.append(n_days)
    dates = day0 + np.arange(n_days).astype("timedelta64[D]")
    weekday = ((dates - np.datetime64("1970-01-05", "D")).astype(np.int64)) % 7  # 1970-01-05 was a Monday
    month_num = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    hol = np.ones((n_days, len(REGIONS)))
    for hm, hd, f, regions in HOLIDAYS:
        hit = (month_num == hm) & (dom == hd)
        cols = range(len(REGIONS)) if regions is None else [REGIONS.index(r) for r in regions]
        for c in cols:
            hol[hit, c] = np.minimum(hol[hit, c], f)
    return Calendar(
        end=end,
        months=months,
        window_start=window_start,
        day0=day0,
        n_days=n_days,
        first_day=BURN_IN_DAYS,
        month_labels=labels,
        month_start_day=np.array(starts, dtype=np.int64),
        weekday=weekday,
        holiday_factor=hol,
    )


# ---------------------------------------------------------------------------------------------------------------
# ISO-8601 string formatting, vectorized through lookup tables (strftime per row is far too slow).


@lru_cache(maxsize=2)
def _time_table(suffix: str) -> pa.Array:
    s = np.arange(86400)
    hh, mm, ss = s // 3600, (s // 60) % 60, s % 60
    return pa.array([f"{a:02d}:{b:02d}:{c:02d}{suffix}" for a, b, c in zip(hh.tolist(), mm.tolist(), ss.tolist())])


def _offset_str(minutes: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    uniq, inv = np.unique(minutes, return_inverse=True)
    strs = []
    for u in uniq.tolist():
        sign = "+" if u >= 0 else "-"
        a = abs(int(u))
        strs.append(f"{sign}{a // 60:02d}:{a % 60:02d}")
    return pa.array(strs), inv


def _date_strings(cal: Calendar, days: np.ndarray, suffix: str = "") -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return pa.array([], pa.string())
    lo = int(days.min())
    hi = int(days.max())
    table = np.datetime_as_string(cal.day0 + np.arange(lo, hi + 1).astype("timedelta64[D]"), unit="D")
    if suffix:
        table = np.char.add(table, suffix)
    return pa.array(table.tolist()).take(pa.array(days - lo))


def fmt_date(cal: Calendar, days: np.ndarray) -> pa.Array:
    """'YYYY-MM-DD' strings for day indices."""
    return _date_strings(cal, days)


def fmt_ts(cal: Calendar, days: np.ndarray, secs: np.ndarray, offset_min: np.ndarray | None = None,
           use_offset: np.ndarray | None = None) -> pa.Array:
    """ISO-8601 strings for UTC (day, second) pairs: '...Z', or local time with '+HH:MM' where `use_offset`."""
    days = np.asarray(days, dtype=np.int64)
    secs = np.asarray(secs, dtype=np.int64)
    tot = days * 86400 + secs
    days, secs = tot // 86400, tot % 86400
    out = pc.binary_join_element_wise(_date_strings(cal, days), _time_table("Z").take(pa.array(secs)), "T")
    if use_offset is None or not use_offset.any():
        return out
    sel = np.nonzero(use_offset)[0]
    off = np.asarray(offset_min, dtype=np.int64)[sel]
    loc = tot[sel] + off * 60
    ld, ls = loc // 86400, loc % 86400
    offs, inv = _offset_str(off)
    local = pc.binary_join_element_wise(
        _date_strings(cal, ld, "T"), _time_table("").take(pa.array(ls)), offs.take(pa.array(inv)), ""
    )
    return pc.replace_with_mask(out, pa.array(use_offset), local)
