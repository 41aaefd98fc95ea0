"""Product usage events, generated day by day vectorized over accounts and written month by month.

Per account and day: active power users and regular users are binomial draws over the user pool (which scales
with licensed seats and value realized), modulated by weekday rhythm, holidays and erratic behaviour (day-to-day
noise, gappy weeks). Each active user emits a login plus a Poisson number of feature events; feature breadth grows
with value realized. Users within an account day are distinct (consecutive arc of the pool from a random offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import rand, usage_model
from .accounts import Accounts
from .defects import DefectInjector
from .state import SimResult
from .timegrid import Calendar, fmt_ts
from .writer import LandingWriter

FEATURES = ("dashboards", "reports", "collaboration", "integrations", "admin", "api", "automation")
AUTOMATION = FEATURES.index("automation")
EVENT_TYPES = ("login", "dashboard_viewed", "report_exported", "file_uploaded", "user_invited",
               "integration_sync", "api_call", "workflow_run", "comment_added", "settings_updated")
LOGIN = 0
# per feature: event types and their cumulative probabilities
_FEATURE_EVENTS = np.array([[1, 1, 1], [2, 1, 1], [3, 8, 4], [5, 5, 5], [9, 4, 4], [6, 6, 6], [7, 7, 7]])
_FEATURE_CUM = np.array([[1.0, 1.0], [0.8, 1.0], [0.55, 0.95], [1.0, 1.0], [0.7, 1.0], [1.0, 1.0], [1.0, 1.0]])
# quantity: 1 + Poisson(mean) by event type (records synced, API calls batched, files uploaded)
_QTY_MEAN = np.array([0, 0, 0, 0.5, 0, 60.0, 20.0, 0, 0, 0])
OFFSET_SHARE = 0.03  # timestamps written with an explicit local offset
CHUNK_DAYS = 5


@dataclass
class UsageContext:
    acc: Accounts
    cal: Calendar
    sim: SimResult
    gap: np.ndarray  # (weeks, accounts) bool: erratic account silent that week
    event_names: pa.Array  # written event_type per EVENT_TYPES index
    feature_names: pa.Array  # written feature per FEATURES index (+ None for logins); all None when not written


def make_context(acc: Accounts, cal: Calendar, sim: SimResult, seed: int, event_types: tuple[str, ...] | None = None,
                 with_feature: bool = True) -> UsageContext:
    """`event_types` renames EVENT_TYPES index for index; without `with_feature` the feature column is all null."""
    rng = rand.stream(seed, "usage-gaps")
    weeks = cal.window_days // 7 + 2
    p_gap = 0.45 * acc.erratic ** 2
    gap = rng.random((weeks, acc.n)) < p_gap
    names = _EVENT_VOCAB if event_types is None else pa.array(event_types)
    features = _FEATURE_VOCAB if with_feature else pa.nulls(len(FEATURES) + 1, pa.string())
    return UsageContext(acc, cal, sim, gap, names, features)


def _day_users(ctx: UsageContext, d: int, rng: np.random.Generator):
    acc, sim, cal = ctx.acc, ctx.sim, ctx.cal
    a = np.nonzero((acc.created_day <= d) & (d < sim.stop_day))[0]
    v = sim.value[d, a].astype(np.float64)
    f = sim.fit[d, a].astype(np.float64)
    seats = sim.seats[d, a].astype(np.int64)
    pool = np.maximum(1, np.round(seats * usage_model.pool_ratio(v))).astype(np.int64)
    npow = np.minimum(pool, np.maximum(1, np.round(pool * acc.power_frac[a]))).astype(np.int64)
    nreg = pool - npow
    fac = cal.holiday_factor[d, acc.region[a]]
    if cal.weekday[d] >= 5:
        fac = fac * acc.weekend_factor[a]
    fac = fac * ~ctx.gap[(d - cal.first_day) // 7, a]
    sig = 0.9 * acc.erratic[a]
    fac = fac * np.exp(rng.standard_normal(len(a)) * sig - 0.5 * sig ** 2)
    pp, pr = usage_model.day_probs(v, f)
    kp = rng.binomial(npow, np.clip(pp * fac, 0, 0.98))
    kr = rng.binomial(nreg, np.clip(pr * fac, 0, 0.98))
    keep = (kp + kr) > 0
    return a[keep], kp[keep], kr[keep], npow[keep], nreg[keep], v[keep], sim.products[d, a[keep]]


def build_chunk(ctx: UsageContext, days: range, rng: np.random.Generator) -> dict[str, np.ndarray]:
    parts = [(d,) + _day_users(ctx, d, rng) for d in days]
    day = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
    a, kp, kr, npow, nreg, v, prod = (np.concatenate([p[i] for p in parts]) for i in range(1, 8))
    # expand to active users
    k = kp + kr
    g = np.repeat(np.arange(len(k)), k)
    starts = np.cumsum(k) - k
    j = np.arange(len(g)) - starts[g]
    is_pow = j < kp[g]
    off_p = rng.integers(0, np.iinfo(np.int64).max, len(k)) % npow
    off_r = rng.integers(0, np.iinfo(np.int64).max, len(k)) % np.maximum(nreg, 1)
    uidx = np.where(is_pow, (off_p[g] + j) % npow[g],
                    npow[g] + (off_r[g] + j - kp[g]) % np.maximum(nreg[g], 1))
    lam = usage_model.events_per_user(v[g]) * np.where(is_pow, 1.3, 0.8)
    n_ev = 1 + rng.poisson(lam)
    # expand to events
    e = np.repeat(np.arange(len(g)), n_ev)
    e_start = np.cumsum(n_ev) - n_ev
    pos = np.arange(len(e)) - e_start[e]
    ge = g[e]
    acct = a[ge]
    # times: a session per user-day in local business hours, events a few minutes apart
    hour = np.where(rng.random(len(g)) < 0.55, rng.normal(10.3, 1.6, len(g)), rng.normal(14.8, 1.8, len(g)))
    s0 = (np.clip(hour, 6.0, 22.5) * 3600).astype(np.int64)
    gaps = rng.exponential(180.0, len(e))
    cs = np.cumsum(gaps)
    base = cs[e_start] - gaps[e_start]
    local = np.minimum(s0[e] + (cs - base[e]).astype(np.int64), 86399)
    tot = day[ge] * 86400 + local - ctx.acc.tz_offset_min[acct] * 60
    # features and event types
    breadth = np.clip(2 + np.floor(v[ge] * 6.5), 2, 7).astype(np.int64)
    fi = np.floor(breadth * rng.random(len(e)) ** 1.5).astype(np.int64)
    has_auto = (prod[ge] & 4) > 0
    has_analytics = (prod[ge] & 2) > 0
    fi = np.where((fi == AUTOMATION) & ~has_auto, 0, fi)
    r2 = rng.random(len(e))
    fi = np.where(has_auto & (r2 < 0.12 + 0.15 * v[ge]), AUTOMATION, fi)
    fi = np.where((fi == 0) & has_analytics & (r2 > 0.7), 1, fi)
    r3 = rng.random(len(e))
    choice = (r3[:, None] > _FEATURE_CUM[fi]).sum(axis=1)
    et = _FEATURE_EVENTS[fi, choice]
    login = pos == 0
    et = np.where(login, LOGIN, et)
    fi = np.where(login, len(FEATURES), fi)
    qm = _QTY_MEAN[et]
    qty = 1.0 + np.where(qm > 0, rng.poisson(qm), 0)
    use_off = rng.random(len(e)) < OFFSET_SHARE
    order = np.argsort(tot, kind="stable")
    return {
        "acct": acct[order], "uidx": uidx[e][order], "tot": tot[order], "et": et[order], "fi": fi[order],
        "qty": qty[order], "use_off": use_off[order],
    }


_EVENT_VOCAB = pa.array(EVENT_TYPES)
_FEATURE_VOCAB = pa.array(list(FEATURES) + [None], pa.string())


def chunk_table(ctx: UsageContext, c: dict[str, np.ndarray], first_id: int) -> pa.Table:
    acc, cal = ctx.acc, ctx.cal
    n = len(c["acct"])
    acct = pa.array(c["acct"])
    ids = pc.binary_join_element_wise(
        "E", pc.utf8_lpad(pc.cast(pa.array(np.arange(first_id, first_id + n)), pa.string()), 12, "0"), "")
    user = pc.binary_join_element_wise(
        acc.user_prefix.take(acct), pc.utf8_lpad(pc.cast(pa.array(c["uidx"] + 1), pa.string()), 3, "0"), "")
    days, secs = c["tot"] // 86400, c["tot"] % 86400
    occurred = fmt_ts(cal, days, secs, acc.tz_offset_min[c["acct"]], c["use_off"])
    return pa.table({
        "event_id": ids,
        "account_id": acc.ids.take(acct),
        "user_id": user,
        "event_type": ctx.event_names.take(pa.array(c["et"])),
        "feature": ctx.feature_names.take(pa.array(c["fi"])),
        "occurred_at": occurred,
        "quantity": pa.array(c["qty"], pa.float64()),
    })


def write_usage(ctx: UsageContext, writer: LandingWriter, injector: DefectInjector, seed: int,
                progress: Callable[[str], None] | None) -> int:
    """Write usage_events month by month; returns the number of generated (clean) events."""
    cal = ctx.cal
    next_id = 1
    carry: list[pa.Table] = []
    for m in range(cal.months):
        rng = rand.stream(seed, "usage", m)
        drng = rand.stream(seed, "defects", "usage_events", m)
        stream = writer.stream("usage_events", m)
        for t in carry:
            stream.write(t)
        carry = []
        lo, hi = int(cal.month_start_day[m]), int(cal.month_start_day[m + 1])
        last = m == cal.months - 1
        for c0 in range(lo, hi, CHUNK_DAYS):
            chunk = build_chunk(ctx, range(c0, min(c0 + CHUNK_DAYS, hi)), rng)
            table = chunk_table(ctx, chunk, next_id)
            next_id += table.num_rows
            keep, nxt = injector.process("usage_events", table, drng, allow_carry=not last)
            stream.write(keep)
            if nxt is not None:
                carry.append(nxt)
        stream.close()
        if progress:
            progress(f"usage_events {cal.month_labels[m]}: {stream.rows / 1e6:.2f}M rows")
    return next_id - 1
