"""Support tickets: Poisson arrivals driven by support pain and seats; priority, category, resolution time and
CSAT follow the hidden state. A ticket closed in a later month appears again as a newer row version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csops import contract

from . import text
from .accounts import Accounts
from .contacts import ContactBase
from .state import F_ONBOARDING_FAIL, F_OUTAGE, F_PRICE, SimResult
from .timegrid import Calendar, fmt_ts

CATEGORIES = text.TICKET_CATEGORIES  # bug, how_to, billing, performance, integration, access
# category weights by context: default, high pain, outage, onboarding
_CAT_W = np.array([
    [0.22, 0.22, 0.08, 0.12, 0.18, 0.18],
    [0.30, 0.10, 0.05, 0.25, 0.20, 0.10],
    [0.30, 0.03, 0.02, 0.60, 0.03, 0.02],
    [0.10, 0.35, 0.05, 0.05, 0.25, 0.20],
])
RES_HOURS = np.array([72.0, 30.0, 10.0, 4.0])  # median resolution by priority low..urgent
CSAT_P = 0.3


@dataclass
class CsatSeed:
    acc: np.ndarray
    contact_row: np.ndarray
    day: np.ndarray
    sec: np.ndarray
    score: np.ndarray


def _cumchoice(rng: np.random.Generator, w: np.ndarray) -> np.ndarray:
    c = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    return (rng.random((len(w), 1)) > c).sum(axis=1).clip(0, w.shape[1] - 1)


def build(acc: Accounts, cal: Calendar, sim: SimResult, base: ContactBase, contact_ids: pa.Array,
          rng: np.random.Generator, flags) -> tuple[pa.Table, np.ndarray, CsatSeed]:
    f0, D = cal.first_day, cal.n_days
    days = np.arange(f0, D)
    end_day = np.where(sim.churn_day >= 0, sim.churn_day, D)
    alive = (acc.created_day[None, :] <= days[:, None]) & (days[:, None] < end_day[None, :])
    seats = sim.seats[f0:].astype(np.float64)
    pain = sim.pain[f0:].astype(np.float64)
    lam = 0.09 * seats ** 0.6 * (0.25 + 2.5 * pain ** 1.3) / 21.7
    onboarding = acc.is_new[None, :] & (days[:, None] - acc.created_day[None, :] < 120)
    lam = lam * np.where(onboarding, 1.6, 1.0) * np.where(cal.weekday[days] >= 5, 0.2, 1.0)[:, None] * alive
    cnt = rng.poisson(lam)
    di, a = np.nonzero(cnt)
    rep = cnt[di, a]
    di, a = np.repeat(di, rep), np.repeat(a, rep)
    d = days[di]
    n = len(a)
    pn = pain[di, a]
    fl = sim.flags[d, a]
    outage = (fl & F_OUTAGE) > 0
    ctx = np.where(outage & (rng.random(n) < 0.7), 2, np.where(onboarding[di, a] | ((fl & F_ONBOARDING_FAIL) > 0), 3,
                                                               np.where(pn > 0.45, 1, 0)))
    w = _CAT_W[ctx].copy()
    w[:, 2] += np.where((fl & F_PRICE) > 0, 0.25, 0.0)
    category = _cumchoice(rng, w)
    z = 1.6 * pn + 0.5 * outage + rng.normal(0, 0.5, n)
    priority = np.digitize(z, [0.35, 0.95, 1.45])
    s = pn + 0.3 * outage + rng.normal(0, 0.15, n)
    sentiment = np.digitize(s, [0.35, 0.6])
    local = (np.where(rng.random(n) < 0.5, rng.normal(10.5, 1.8, n), rng.normal(15.0, 2.0, n)).clip(0, 23.9) * 3600)
    opened = d * 86400 + local.astype(np.int64) - acc.tz_offset_min[a] * 60
    order = np.lexsort((a, opened))
    a, d, pn, category, priority, sentiment, opened, outage = (
        x[order] for x in (a, d, pn, category, priority, sentiment, opened, outage))
    hours = RES_HOURS[priority] * (1 + 1.5 * pn) * np.exp(rng.normal(0, 0.9, n))
    closed = opened + (hours * 3600).astype(np.int64)
    is_closed = closed // 86400 < D
    final_status = np.where(rng.random(n) < 0.55, "solved", "closed")
    open_status = np.where(rng.random(n) < 0.6, "open", "pending")
    csat_resp = is_closed & (rng.random(n) < CSAT_P)
    resp = closed + (rng.exponential(1.0, n) * 86400).astype(np.int64)
    csat_resp &= resp // 86400 < D
    score = np.clip(np.round(5.0 - 2.2 * pn - 0.3 * np.log1p(hours / 24) + rng.normal(0, 0.7, n)), 1, 5).astype(int)
    contact_row = base.start[a] + (rng.random(n) * base.count[a]).astype(np.int64)

    ids = pc.binary_join_element_wise("T", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 8, "0"),
                                      "")
    subject, body = text.ticket_text(rng, category, sentiment)
    dom = acc.domains.take(pa.array(a))
    subject, p1, i1 = text.sprinkle(rng, subject, dom, pii_rate=0.005, injection_rate=0.003)
    body, p2, i2 = text.sprinkle(rng, body, dom, pii_rate=0.06, injection_rate=0.008)
    flags.add("support_tickets", "ticket_id", ids, "subject", p1, i1)
    flags.add("support_tickets", "ticket_id", ids, "body", p2, i2)
    truth_sentiment, truth_topic = text.ticket_labels(category, sentiment)
    flags.label("support_tickets", ids, "subject", subject, truth_sentiment, truth_topic)
    flags.label("support_tickets", ids, "body", body, truth_sentiment, truth_topic)

    off = acc.tz_offset_min[a]
    use_off = rng.random(n) < 0.04
    opened_s = fmt_ts(cal, opened // 86400, opened % 86400, off, use_off)
    closed_s = fmt_ts(cal, np.minimum(closed // 86400, D), closed % 86400, off, use_off)
    null_s = pa.scalar(None, pa.string())
    lm_open = cal.landing_month(opened // 86400)
    lm_close = np.where(is_closed, cal.landing_month(closed // 86400), cal.months)
    single = ~is_closed | (lm_close == lm_open)  # one row carries the state at the end of its batch
    common = {
        "ticket_id": ids, "account_id": acc.ids.take(pa.array(a)),
        "contact_id": contact_ids.take(pa.array(contact_row)), "opened_at": opened_s,
        "priority": pa.array(list(contract.TICKET_PRIORITIES)).take(pa.array(priority)),
        "category": pa.array(list(CATEGORIES)).take(pa.array(category)), "subject": subject, "body": body,
    }
    csat_col = pa.array(np.where(csat_resp, score, 0), pa.int64(), mask=~csat_resp)
    v_first = pa.table({
        **common,
        "closed_at": pc.if_else(pa.array(single & is_closed), closed_s, null_s),
        "status": pa.array(np.where(single & is_closed, final_status, open_status).tolist()),
        "csat": pc.if_else(pa.array(single), csat_col, pa.scalar(None, pa.int64())),
    })
    later = np.nonzero(~single)[0]
    v_final = pa.table({
        **common, "closed_at": closed_s, "status": pa.array(final_status.tolist()), "csat": csat_col,
    }).take(pa.array(later))
    table = pa.concat_tables([v_first, v_final])
    month = np.concatenate([lm_open, lm_close[later]])
    cs = np.nonzero(csat_resp)[0]
    seed = CsatSeed(acc=a[cs], contact_row=contact_row[cs], day=resp[cs] // 86400, sec=resp[cs] % 86400,
                    score=score[cs])
    return table, month, seed
