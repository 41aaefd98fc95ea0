"""Survey responses: quarterly NPS from a few contacts per account (score from health plus noise) and CSAT after
some closed tickets."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csops import contract

from . import text
from .accounts import Accounts
from .causes import true_cause, visible_cause
from .contacts import ContactBase
from .state import SimResult
from .tickets import CsatSeed
from .timegrid import Calendar, fmt_ts

NPS_ASKED_MAX = 5
NPS_RESPONSE_P = 0.3


def build(acc: Accounts, cal: Calendar, sim: SimResult, base: ContactBase, contact_ids: pa.Array, csat: CsatSeed,
          rng: np.random.Generator, flags) -> tuple[pa.Table, np.ndarray]:
    D = cal.n_days
    end_day = np.where(sim.churn_day >= 0, sim.churn_day, D)
    rows_a, rows_c, rows_d = [], [], []
    for m in range(1, cal.months, 3):  # campaigns in the middle month of each quarter
        c = int(cal.month_start_day[m]) + 9
        c += int((7 - cal.weekday[c]) % 7 if cal.weekday[c] >= 5 else 0)
        if c >= D:
            continue
        elig = np.nonzero((acc.created_day <= c - 45) & (end_day > c))[0]
        asked = np.minimum(base.count[elig], NPS_ASKED_MAX)
        k = rng.binomial(asked, NPS_RESPONSE_P)
        g = np.repeat(np.arange(len(elig)), k)
        j = np.arange(len(g)) - (np.cumsum(k) - k)[g]
        off = rng.integers(0, 1 << 30, len(elig))
        a = elig[g]
        row = base.start[a] + (off[g] + j) % base.count[a]
        delay = np.minimum(rng.geometric(0.25, len(g)) - 1, 20)
        rows_a.append(a)
        rows_c.append(row)
        rows_d.append(np.minimum(c + delay, D - 1))
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64))
    na, nc, nd = cat(rows_a), cat(rows_c), cat(rows_d)
    n_nps = len(na)
    h = sim.health[nd, na].astype(np.float64)
    nps = np.clip(np.round(7.5 + 12.0 * (h - 0.6) + rng.normal(0, 1.3, n_nps)), 0, 10).astype(np.int64)
    bucket = np.where(nps >= 9, 0, np.where(nps >= 7, 1, 2))
    cause = visible_cause(rng, true_cause(sim, nd, na, csm_view=False), 0.7)
    has_comment = rng.random(n_nps) < np.where(bucket == 2, 0.65, 0.45)
    nps_comment = pc.if_else(pa.array(has_comment), text.nps_comment(rng, bucket, cause), pa.scalar(None, pa.string()))
    nps_sec = np.clip((rng.normal(13.0, 3.0, n_nps) * 3600).astype(np.int64) - acc.tz_offset_min[na] * 60, 0, 86399)

    k = len(csat.acc)
    csat_comment = pc.if_else(pa.array(rng.random(k) < 0.3),
                              text.CSAT_COMMENT.choose(rng, csat.score - 1), pa.scalar(None, pa.string()))
    a = np.concatenate([na, csat.acc])
    day = np.concatenate([nd, csat.day])
    sec = np.concatenate([nps_sec, csat.sec])
    tot = day * 86400 + sec
    order = np.lexsort((a, tot))
    n = len(a)
    survey = np.concatenate([np.zeros(n_nps, np.int64), np.ones(k, np.int64)])[order]
    score = np.concatenate([nps, csat.score])[order]
    crow = np.concatenate([nc, csat.contact_row])[order]
    comment = pa.concat_arrays([nps_comment, csat_comment]).take(pa.array(order))
    (nps_s, nps_t), (csat_s, csat_t) = text.nps_labels(bucket, cause), text.csat_labels(csat.score)
    truth_sentiment = np.concatenate([nps_s, csat_s])[order]
    truth_topic = np.concatenate([nps_t, csat_t])[order]
    a, tot = a[order], tot[order]
    ids = pc.binary_join_element_wise("R", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 9, "0"),
                                      "")
    comment, pii, inj = text.sprinkle(rng, comment, acc.domains.take(pa.array(a)))
    flags.add("survey_responses", "response_id", ids, "comment", pii, inj)
    flags.label("survey_responses", ids, "comment", comment, truth_sentiment, truth_topic)
    use_off = rng.random(n) < 0.04
    table = pa.table({
        "response_id": ids,
        "account_id": acc.ids.take(pa.array(a)),
        "contact_id": contact_ids.take(pa.array(crow)),
        "survey": pa.array(list(contract.SURVEYS)).take(pa.array(survey)),
        "score": pa.array(score, pa.int64()),
        "comment": comment,
        "responded_at": fmt_ts(cal, tot // 86400, tot % 86400, acc.tz_offset_min[a], use_off),
    })
    return table, cal.landing_month(tot // 86400)
