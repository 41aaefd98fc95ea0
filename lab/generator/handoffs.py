"""Sales-to-CS handoffs: one per new logo (its completeness drives onboarding success) and one per expansion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import text
from .accounts import Accounts
from .contacts import ContactBase
from .rand import sigmoid
from .state import EV, SimResult
from .timegrid import Calendar, fmt_date, fmt_ts

FIELDS = ("executive_sponsor", "champion", "success_criteria", "use_cases", "implementation_deadline", "pain_points")
MISSING_P = np.array([0.08, 0.18, 0.32])  # per field, by segment (times a per-deal sloppiness factor)


@dataclass
class HandoffPlan:
    acc: np.ndarray  # new-logo accounts
    present: np.ndarray  # (k, len(FIELDS)) bool
    completeness: np.ndarray  # (accounts,) NaN for accounts without a new-logo handoff
    closed_day: np.ndarray  # (k,)
    closed_sec: np.ndarray
    success: np.ndarray  # (accounts,) onboarding succeeds (meaningful for new logos)


def plan(acc: Accounts, cal: Calendar, base: ContactBase, rng: np.random.Generator) -> HandoffPlan:
    new = np.nonzero(acc.is_new)[0]
    k = len(new)
    sloppy = rng.uniform(0.3, 1.8, k)
    pmiss = np.clip(MISSING_P[acc.segment[new]] * sloppy, 0, 0.9)
    present = rng.random((k, len(FIELDS))) >= pmiss[:, None]
    present[:, 0] &= base.exec_row[new] >= 0
    comp = present.mean(axis=1)
    completeness = np.full(acc.n, np.nan)
    completeness[new] = comp
    p = sigmoid(-1.3 + 3.2 * comp + 2.5 * (acc.fit_base[new] - 0.5))
    success = np.ones(acc.n, bool)
    success[new] = rng.random(k) < p
    closed_day = acc.created_day[new] - rng.integers(1, 15, k)
    closed_sec = np.clip((rng.normal(15.0, 2.5, k) * 3600).astype(np.int64) - acc.tz_offset_min[new] * 60, 0, 86399)
    return HandoffPlan(acc=new, present=present, completeness=completeness, closed_day=closed_day,
                       closed_sec=closed_sec, success=success)


def handoffs_table(hp: HandoffPlan, acc: Accounts, cal: Calendar, base: ContactBase, sim: SimResult,
                   rng: np.random.Generator, flags) -> tuple[pa.Table, np.ndarray]:
    # expansion opportunities: mid-term add-ons and expansion renewals
    m = (sim.ev_type == EV["midterm_expansion"]) | (sim.ev_type == EV["expanded"])
    ea, ed = sim.ev_acc[m], sim.ev_day[m]
    ke = len(ea)
    e_present = rng.random((ke, len(FIELDS))) < 0.85
    e_present[:, 0] &= base.exec_row[ea] >= 0
    e_closed = ed - rng.integers(1, 12, ke)
    e_sec = np.clip((rng.normal(15.0, 2.5, ke) * 3600).astype(np.int64) - acc.tz_offset_min[ea] * 60, 0, 86399)

    a = np.concatenate([hp.acc, ea])
    present = np.concatenate([hp.present, e_present])
    closed = np.concatenate([hp.closed_day, e_closed])
    secs = np.concatenate([hp.closed_sec, e_sec])
    kind = np.concatenate([np.zeros(len(hp.acc), np.int64), np.ones(ke, np.int64)])
    order = np.lexsort((a, secs, closed))
    a, present, closed, secs, kind = a[order], present[order], closed[order], secs[order], kind[order]
    n = len(a)
    null = pa.scalar(None, pa.string())

    def opt(values: pa.Array, col: int) -> pa.Array:
        return pc.if_else(pa.array(present[:, col]), values, null)

    ids = pc.binary_join_element_wise(
        "OPP-", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 7, "0"), "")
    exec_names = base.names(np.maximum(base.exec_row[a], 0))
    champ_names = base.names(base.champion_row[a])
    notes_group = kind
    table = pa.table({
        "opportunity_id": ids,
        "account_id": acc.ids.take(pa.array(a)),
        "closed_at": fmt_ts(cal, closed, secs),
        "executive_sponsor": opt(exec_names, 0),
        "champion": opt(champ_names, 1),
        "success_criteria": opt(text.SUCCESS_CRITERIA.choose(rng, np.zeros(n, np.int64)), 2),
        "use_cases": opt(text.USE_CASES.choose(rng, np.zeros(n, np.int64)), 3),
        "implementation_deadline": opt(fmt_date(cal, closed + rng.integers(30, 121, n)), 4),
        "pain_points": opt(text.PAIN_POINTS.choose(rng, np.zeros(n, np.int64)), 5),
        "notes": pc.if_else(pa.array(rng.random(n) < 0.9),
                            text.HANDOFF_NOTES.choose(rng, notes_group, text.pick_values(rng, text.COMPETITORS, n)),
                            null),
    })
    dom = acc.domains.take(pa.array(a))
    for col in ("success_criteria", "pain_points", "notes"):
        vals, pii, inj = text.sprinkle(rng, table.column(col).combine_chunks(), dom)
        table = table.set_column(table.column_names.index(col), col, vals)
        flags.add("handoffs", "opportunity_id", ids, col, pii, inj)
    return table, cal.landing_month(closed)
