"""CSM activities: cadence by segment, more touches for at-risk accounts (by attentive CSMs), kickoffs and
trainings for new logos (kickoff missing for some failed onboardings), QBRs and EBRs for larger accounts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import text
from .accounts import ENT, MID, Accounts
from .causes import C, true_cause, visible_cause
from .state import SimResult
from .timegrid import Calendar, fmt_ts

TYPES = text.ACTIVITY_TYPES  # meeting, call, email, kickoff, qbr, ebr, training
MEETING, CALL, EMAIL, KICKOFF, QBR, EBR, TRAINING = range(7)
ROUTINE_RATE = np.array([0.30, 0.12, 0.045])  # per weekday, by segment
ROUTINE_MIX = np.array([[0.35, 0.25, 0.40], [0.20, 0.30, 0.50], [0.05, 0.20, 0.75]])


def _weekday(cal: Calendar, d: np.ndarray) -> np.ndarray:
    wd = cal.weekday[np.clip(d, 0, cal.n_days - 1)]
    return d + np.where(wd >= 5, 7 - wd, 0)


def build(acc: Accounts, cal: Calendar, sim: SimResult, rng: np.random.Generator, flags) -> tuple[pa.Table, np.ndarray]:
    f0, D = cal.first_day, cal.n_days
    days = np.arange(f0, D)
    end_day = np.where(sim.churn_day >= 0, sim.churn_day, D)
    alive = (acc.created_day[None, :] <= days[:, None]) & (days[:, None] < end_day[None, :])
    h = sim.health[f0:]
    boost = np.where(acc.attentive[None, :] & (h < 0.5), 2.0, 1.0)
    lam = ROUTINE_RATE[acc.segment][None, :] * boost * (cal.weekday[days] < 5)[:, None] * alive
    cnt = rng.poisson(lam)
    di, a = np.nonzero(cnt)
    rep = cnt[di, a]
    r_a, r_d = np.repeat(a, rep), days[np.repeat(di, rep)]
    c = np.cumsum(ROUTINE_MIX[acc.segment[r_a]], axis=1)
    r_t = (rng.random((len(r_a), 1)) > c).sum(axis=1).clip(0, 2)

    parts_a, parts_d, parts_t = [r_a], [r_d], [r_t]
    new = np.nonzero(acc.is_new)[0]
    ok = sim.onboarding_success[new]
    kick = rng.random(len(new)) < np.where(ok, 0.97, 0.55)
    parts_a.append(new[kick])
    parts_d.append(_weekday(cal, acc.created_day[new[kick]] + rng.integers(2, 20, kick.sum())))
    parts_t.append(np.full(kick.sum(), KICKOFF))
    n_train = np.where(ok, 1 + rng.binomial(2, 0.5, len(new)), rng.binomial(1, 0.5, len(new)))
    ta = np.repeat(new, n_train)
    parts_a.append(ta)
    parts_d.append(_weekday(cal, acc.created_day[ta] + rng.integers(10, 90, len(ta))))
    parts_t.append(np.full(len(ta), TRAINING))
    # occasional training for established accounts
    extra = rng.poisson(0.25 * cal.window_days / 365, acc.n)
    ea = np.repeat(np.arange(acc.n), extra)
    parts_a.append(ea)
    parts_d.append(_weekday(cal, f0 + rng.integers(0, cal.window_days, len(ea))))
    parts_t.append(np.full(len(ea), TRAINING))
    # QBRs each quarter for enterprise and larger mid-market; EBRs twice a year for enterprise
    for q0 in range(0, cal.months, 3):
        lo, hi = int(cal.month_start_day[q0]), int(cal.month_start_day[min(q0 + 3, cal.months)])
        p = np.where(acc.segment == ENT, 0.9, np.where((acc.segment == MID) & (acc.seats0 >= 100), 0.6, 0.0))
        qa = np.nonzero(rng.random(acc.n) < p)[0]
        parts_a.append(qa)
        parts_d.append(_weekday(cal, rng.integers(lo, hi, len(qa))))
        parts_t.append(np.full(len(qa), QBR))
        if q0 % 6 == 0:
            ea2 = np.nonzero((acc.segment == ENT) & (rng.random(acc.n) < 0.7))[0]
            parts_a.append(ea2)
            parts_d.append(_weekday(cal, rng.integers(lo, hi, len(ea2))))
            parts_t.append(np.full(len(ea2), EBR))
    a = np.concatenate(parts_a)
    d = np.concatenate(parts_d)
    t = np.concatenate(parts_t)
    keep = (d >= f0) & (d < D) & (d >= acc.created_day[a]) & (d < end_day[a])
    a, d, t = a[keep], d[keep], t[keep]
    n = len(a)
    local = np.clip(rng.normal(13.0, 2.5, n), 7.5, 19.0) * 3600
    tot = d * 86400 + local.astype(np.int64) - acc.tz_offset_min[a] * 60
    order = np.lexsort((a, tot))
    a, d, t, tot = a[order], d[order], t[order], tot[order]
    hh = sim.health[d, a] + rng.normal(0, 0.05, n)
    sentiment = np.where(hh > 0.55, 0, np.where(hh > 0.42, 1, 2))
    cause = visible_cause(rng, true_cause(sim, d, a, csm_view=True), 0.6)
    cause = np.where((cause == C["none"]) & (hh > 0.65), C["positive"], cause)
    # notes name people by role, not by name: personal data in notes only where injected (and recorded)
    who = text.pick_values(rng, text.CONTACT_PHRASES, n)
    who = pc.if_else(pa.array(t == EBR), text.pick_values(rng, text.EXEC_PHRASES, n), who)
    notes = text.activity_notes(rng, t, cause, sentiment, who)
    notes = pc.if_else(pa.array(rng.random(n) < 0.93), notes, pa.scalar(None, pa.string()))
    ids = pc.binary_join_element_wise(
        "ACT", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 9, "0"), "")
    notes, pii, inj = text.sprinkle(rng, notes, acc.domains.take(pa.array(a)))
    flags.add("activities", "activity_id", ids, "notes", pii, inj)
    flags.label("activities", ids, "notes", notes, *text.activity_labels(cause, sentiment))
    owner_idx = np.where((acc.csm_change_day[a] >= 0) & (d >= acc.csm_change_day[a]), acc.csm_new[a], acc.csm[a])
    table = pa.table({
        "activity_id": ids,
        "account_id": acc.ids.take(pa.array(a)),
        "activity_type": pa.array(list(TYPES)).take(pa.array(t)),
        "occurred_at": fmt_ts(cal, tot // 86400, tot % 86400),
        "owner": pa.array(list(acc.csm_names)).take(pa.array(owner_idx)),
        "notes": notes,
    })
    return table, cal.landing_month(tot // 86400)
