"""Contacts: champion, executive sponsor, admins, billing and users per account; champions who leave (left_at)
and replacements appearing weeks later, plus ordinary turnover. Changed contacts appear again as a newer version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csops import contract

from . import text
from .accounts import Accounts
from .state import EV, SimResult
from .timegrid import Calendar, fmt_ts

ROLES = contract.CONTACT_ROLES  # champion, executive_sponsor, admin, user, billing
CHAMPION, EXEC, ADMIN, USER, BILLING = range(5)
COUNT_RANGE = ((8, 17), (4, 9), (2, 5))  # by segment, [lo, hi)
EXEC_P = (0.9, 0.6, 0.3)
TURNOVER_PER_YEAR = 0.08
TITLES = (
    ("Director of Operations", "Head of Analytics", "Operations Manager", "Head of Revenue Operations",
     "Program Manager", "Director of Customer Experience"),
    ("VP Operations", "Chief Operating Officer", "VP Finance", "Chief Revenue Officer", "VP Engineering", "CEO"),
    ("IT Administrator", "Systems Administrator", "Business Systems Analyst", "IT Manager"),
    ("Analyst", "Operations Specialist", "Account Manager", "Team Lead", "Data Analyst", "Sales Manager"),
    ("Accounts Payable Specialist", "Finance Manager", "Controller", "Procurement Manager"),
)


@dataclass
class ContactBase:
    acc: np.ndarray
    role: np.ndarray
    first: np.ndarray
    last: np.ndarray
    created_day: np.ndarray
    created_sec: np.ndarray
    start: np.ndarray  # (accounts,) first row of each account
    count: np.ndarray  # (accounts,)
    champion_row: np.ndarray  # (accounts,) initial champion
    exec_row: np.ndarray  # (accounts,) -1 when none

    def names(self, rows: np.ndarray) -> pa.Array:
        return text.full_names(self.first[rows], self.last[rows])


def plan(acc: Accounts, cal: Calendar, rng: np.random.Generator) -> ContactBase:
    n = acc.n
    lo = np.array([r[0] for r in COUNT_RANGE])[acc.segment]
    hi = np.array([r[1] for r in COUNT_RANGE])[acc.segment]
    count = rng.integers(lo, hi)
    has_exec = rng.random(n) < np.array(EXEC_P)[acc.segment]
    start = np.cumsum(count) - count
    a = np.repeat(np.arange(n), count)
    j = np.arange(len(a)) - start[a]
    # position 0 champion, 1 exec (if any), then billing, then 1-2 admins, rest users
    e = has_exec[a].astype(np.int64)
    n_admin = np.where(acc.segment[a] == 0, 2, 1)
    role = np.full(len(a), USER)
    role[j == 0] = CHAMPION
    role[(j == 1) & (e == 1)] = EXEC
    role[j == 1 + e] = BILLING
    role[(j >= 2 + e) & (j < 2 + e + n_admin)] = ADMIN
    first, last = text.person_names(rng, len(a))
    cd = acc.created_day[a]
    span = np.maximum(cal.first_day - cd, 1)
    created = np.where(acc.is_new[a], cd + rng.integers(0, 21, len(a)),
                       cd + (rng.random(len(a)) * span).astype(np.int64))
    created = np.where(j == 0, cd + rng.integers(0, 7, len(a)), created)
    created = np.minimum(created, cal.n_days - 1)
    secs = np.clip((rng.normal(13.5, 2.5, len(a)) * 3600).astype(np.int64) - acc.tz_offset_min[a] * 60, 0, 86399)
    exec_row = np.where(has_exec, start + 1, -1)
    return ContactBase(acc=a, role=role, first=first, last=last, created_day=created, created_sec=secs, start=start,
                       count=count, champion_row=start.copy(), exec_row=exec_row)


@dataclass
class ContactRows:
    """All contacts (base + replacements) with their left day (-1 = still there)."""
    acc: np.ndarray
    role: np.ndarray
    first: np.ndarray
    last: np.ndarray
    created_day: np.ndarray
    created_sec: np.ndarray
    left_day: np.ndarray
    left_sec: np.ndarray


def finalize(base: ContactBase, acc: Accounts, cal: Calendar, sim: SimResult,
             rng: np.random.Generator) -> ContactRows:
    nb = len(base.acc)
    left = np.full(nb, -1)
    # ordinary turnover of non-champions
    p = 1 - (1 - TURNOVER_PER_YEAR) ** (cal.window_days / 365)
    churn_leave = (base.role != CHAMPION) & (rng.random(nb) < p)
    day = cal.first_day + rng.integers(0, cal.window_days, nb)
    left[churn_leave & (day > base.created_day + 30)] = day[churn_leave & (day > base.created_day + 30)]
    # champion departures and replacements, in order
    m = (sim.ev_type == EV["champion_left"]) | (sim.ev_type == EV["champion_replaced"])
    order = np.lexsort((sim.ev_acc[m], sim.ev_day[m]))
    ev_d, ev_a, ev_t = sim.ev_day[m][order], sim.ev_acc[m][order], sim.ev_type[m][order]
    cur = base.champion_row.copy()
    new_acc: list[int] = []
    new_day: list[int] = []
    new_left: list[int] = []
    left_list = left.tolist()
    for d, a, t in zip(ev_d.tolist(), ev_a.tolist(), ev_t.tolist()):
        if t == EV["champion_left"]:
            r = int(cur[a])
            if r >= nb:
                new_left[r - nb] = d
            elif r >= 0:
                left_list[r] = d
            cur[a] = -1
        else:
            new_acc.append(a)
            new_day.append(d)
            new_left.append(-1)
            cur[a] = nb + len(new_acc) - 1
    k = len(new_acc)
    left = np.array(left_list, dtype=np.int64)
    na = np.array(new_acc, dtype=np.int64)
    f2, l2 = text.person_names(rng, k)
    secs2 = np.clip((rng.normal(13.5, 2.5, k) * 3600).astype(np.int64) - acc.tz_offset_min[na] * 60, 0, 86399)
    all_left = np.concatenate([left, np.array(new_left, dtype=np.int64)])
    n_all = nb + k
    left_sec = np.clip((rng.normal(16.0, 2.0, n_all) * 3600).astype(np.int64), 0, 86399)
    return ContactRows(
        acc=np.concatenate([base.acc, na]), role=np.concatenate([base.role, np.full(k, CHAMPION)]),
        first=np.concatenate([base.first, f2]), last=np.concatenate([base.last, l2]),
        created_day=np.concatenate([base.created_day, np.array(new_day, dtype=np.int64)]),
        created_sec=np.concatenate([base.created_sec, secs2]), left_day=all_left, left_sec=left_sec,
    )


def contacts_table(rows: ContactRows, acc: Accounts, cal: Calendar,
                   rng: np.random.Generator) -> tuple[pa.Table, np.ndarray, pa.Array]:
    """Landing rows (one version when created, a newer one when the contact leaves in a later batch), the batch
    index of each row, and the contact ids of all contacts (indexable by contact row)."""
    n = len(rows.acc)
    ids = pc.binary_join_element_wise(
        "CT", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 8, "0"), "")
    names = text.full_names(rows.first, rows.last)
    local = text.email_locals(rows.first, rows.last)
    key = (rows.acc * len(text.FIRST_NAMES) + rows.first) * len(text.LAST_NAMES) + rows.last
    _, first_idx = np.unique(key, return_index=True)
    dup = np.ones(n, bool)
    dup[first_idx] = False
    local = pc.if_else(pa.array(dup), pc.binary_join_element_wise(
        local, pc.cast(pa.array(np.arange(n) % 9 + 2), pa.string()), ""), local)
    email = pc.binary_join_element_wise(local, acc.domains.take(pa.array(rows.acc)), "@")
    tpos = (rng.random(n) * np.array([len(TITLES[r]) for r in range(5)])[rows.role]).astype(np.int64)
    flat = [t for grp in TITLES for t in grp]
    tstart = np.cumsum([0] + [len(g) for g in TITLES])[:-1]
    title = pa.array(flat).take(pa.array(tstart[rows.role] + tpos))
    role = pa.array(list(ROLES)).take(pa.array(rows.role))
    created = fmt_ts(cal, rows.created_day, rows.created_sec)
    has_left = rows.left_day >= 0
    left_at = fmt_ts(cal, np.where(has_left, rows.left_day, 0), rows.left_sec)
    left_at = pc.if_else(pa.array(has_left), left_at, pa.scalar(None, pa.string()))
    lm_created = cal.landing_month(rows.created_day)
    lm_left = np.where(has_left, cal.landing_month(rows.left_day), -1)
    same = has_left & (lm_left == lm_created)
    base = pa.table({"contact_id": ids, "account_id": acc.ids.take(pa.array(rows.acc)), "name": names,
                     "email": email, "title": title, "role": role, "created_at": created})
    v1 = base.append_column("left_at", pc.if_else(pa.array(same), left_at, pa.scalar(None, pa.string())))
    later = np.nonzero(has_left & ~same)[0]
    v2 = base.take(pa.array(later)).append_column("left_at", left_at.take(pa.array(later)))
    table = pa.concat_tables([v1, v2])
    month = np.concatenate([lm_created, lm_left[later]])
    return table, month, ids
