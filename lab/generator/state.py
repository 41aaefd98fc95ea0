"""The hidden daily state of every account and the discrete events that move it.

State variables in [0, 1]: value_realized, champion_strength, product_fit, support_pain, and the derived health.
Each is a mean-reverting random walk around a target; events move targets (effects build over weeks) or jump the
state (outages). Renewal outcomes are drawn inside the same day loop from the state over the prior 90 days, so churn
feeds back into what is observable. Vectorized over accounts; the only Python loop is over days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import usage_model
from .accounts import Accounts
from .contracts import CHURNED, CONTRACTED, EXPANDED, RENEWED, ContractBook
from .rand import sigmoid
from .timegrid import Calendar

EVENT_TYPES = (
    "onboarding_success", "onboarding_failure", "champion_left", "champion_replaced", "reorg",
    "competitor_evaluation", "outage", "price_increase_notice", "renewed", "expanded", "contracted", "churned",
    "midterm_expansion", "csm_change",
)
EV = {name: i for i, name in enumerate(EVENT_TYPES)}
ChurnLogit = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

# flag bits stored per (day, account) for text generation and truth
F_NO_CHAMPION, F_COMPETITOR, F_PRICE, F_ONBOARDING_FAIL, F_REORG, F_OUTAGE = 1, 2, 4, 8, 16, 32

# annual event rates
CHAMPION_LEAVE = np.array([0.12, 0.14, 0.17])  # by segment
REORG = np.array([0.12, 0.07, 0.04])
CHAMPION_REPLACED_P = 0.65
MIDTERM_EXPANSION = 0.6
# renewal model: logit of churn = A_SEG + K_HEALTH * (H0 - health_90d) + extras + noise
A_SEG = np.array([-3.4, -2.65, -2.05])
K_HEALTH, H0 = 10.0, 0.62
K_TREND = 14.0  # decline over the last quarter vs the one before adds risk
NOISE_SD = 0.6


@dataclass
class SimResult:
    value: np.ndarray  # (days, accounts) float32
    champion: np.ndarray
    fit: np.ndarray
    pain: np.ndarray
    health: np.ndarray
    seats: np.ndarray  # (days, accounts) int32 core seats in force
    products: np.ndarray  # (days, accounts) uint8 bitmask of products owned
    flags: np.ndarray  # (days, accounts) uint8 F_* bits
    has_champion: np.ndarray  # (days, accounts) bool
    stop_day: np.ndarray  # first day without product usage (n_days if never)
    churn_day: np.ndarray  # -1 if not churned
    onboarding_success: np.ndarray  # bool, meaningful for new accounts
    outage_days: np.ndarray
    ev_day: np.ndarray
    ev_acc: np.ndarray
    ev_type: np.ndarray
    book: ContractBook


def _default_churn_logit(logit: np.ndarray, base: np.ndarray, tenure_days: np.ndarray) -> np.ndarray:
    return logit


def simulate(acc: Accounts, cal: Calendar, book: ContractBook, onboarding_success: np.ndarray,
             rng: np.random.Generator, churn_logit: ChurnLogit = _default_churn_logit) -> SimResult:
    """`churn_logit(logit, base, tenure_days)` reshapes the renewal's churn logit (lab.generator.regimes)."""
    n, D = acc.n, cal.n_days
    seg = acc.segment
    V = np.empty((D, n), np.float32)
    C = np.empty((D, n), np.float32)
    Fi = np.empty((D, n), np.float32)
    P = np.empty((D, n), np.float32)
    H = np.empty((D, n), np.float32)
    seats_hist = np.empty((D, n), np.int32)
    prod_hist = np.empty((D, n), np.uint8)
    flags = np.zeros((D, n), np.uint8)
    champ_hist = np.empty((D, n), bool)

    fit = acc.fit_base.copy()
    champ_tgt = acc.champ_base.copy()
    champ = champ_tgt.copy()
    pain = acc.pain_base.copy()
    value = np.clip(0.05 + 0.55 * fit + 0.35 * champ - 0.25 * pain + rng.normal(0, 0.04, n), 0, 1)
    has_champ = np.ones(n, bool)
    replace_day = np.full(n, -1)
    reorg_until = np.full(n, -1)
    comp_until = np.full(n, -1)
    price_until = np.full(n, -1)
    onb_until = np.full(n, -1)
    last_outage = np.full(n, -10_000)
    alive = np.ones(n, bool)
    stop_day = np.full(n, D)
    churn_day = np.full(n, -1)
    expand_boost = np.zeros(n)

    ev_day: list[np.ndarray] = []
    ev_acc: list[np.ndarray] = []
    ev_type: list[np.ndarray] = []

    def log(idx: np.ndarray, d: int, kind: str) -> None:
        if len(idx):
            ev_day.append(np.full(len(idx), d))
            ev_acc.append(idx.astype(np.int64))
            ev_type.append(np.full(len(idx), EV[kind]))

    # outages: a few platform incidents, each hitting a large share of accounts on the same day(s)
    n_out = max(1, int(round(cal.window_days / 75)))
    cand = np.arange(cal.first_day, D)
    cand = cand[cal.weekday[cand] < 5]
    outage_days = np.sort(rng.choice(cand, size=min(n_out, len(cand)), replace=False))
    outage_frac = rng.uniform(0.25, 0.7, len(outage_days))
    outage_len = rng.integers(1, 3, len(outage_days))
    outage_hit = {int(od): rng.random(n) < f for od, f in zip(outage_days, outage_frac)}
    outage_day_len = dict(zip(outage_days.tolist(), outage_len.tolist()))

    new_idx = np.nonzero(acc.is_new)[0]
    first = cal.first_day
    for d in range(D):
        exists = acc.created_day <= d
        act = exists & alive
        in_window = d >= first
        u = rng.random((5, n))
        z = rng.standard_normal((4, n))
        t_years = (d - first) / 365.0

        # new logos start onboarding today
        born = new_idx[acc.created_day[new_idx] == d]
        if len(born):
            value[born] = rng.uniform(0.02, 0.08, len(born))
            champ[born] = champ_tgt[born] * 0.85
            pain[born] = acc.pain_base[born] + 0.1
            fit[born] = acc.fit_base[born]
            fail = born[~onboarding_success[born]]
            onb_until[fail] = d + rng.integers(120, 270, len(fail))
            log(born[onboarding_success[born]], d, "onboarding_success")
            log(fail, d, "onboarding_failure")

        if in_window:
            # champion leaves; a replacement may appear weeks later
            leave = act & has_champ & (u[0] < CHAMPION_LEAVE[seg] / 365)
            # reorg (sometimes takes the champion with it)
            reorg = act & (reorg_until < d) & (u[1] < REORG[seg] / 365)
            leave |= reorg & has_champ & (u[2] < 0.3)
            li = np.nonzero(leave)[0]
            has_champ[li] = False
            champ_tgt[li] = rng.uniform(0.05, 0.2, len(li))
            replace_day[li] = np.where(rng.random(len(li)) < CHAMPION_REPLACED_P, d + rng.integers(14, 90, len(li)), -1)
            log(li, d, "champion_left")
            ri = np.nonzero(act & (replace_day == d))[0]
            has_champ[ri] = True
            champ_tgt[ri] = rng.uniform(0.45, 0.85, len(ri))
            champ[ri] = np.minimum(champ[ri], 0.25)
            replace_day[ri] = -1
            log(ri, d, "champion_replaced")
            gi = np.nonzero(reorg)[0]
            reorg_until[gi] = d + rng.integers(45, 120, len(gi))
            log(gi, d, "reorg")
            # competitor evaluation: likelier when unhealthy and close to renewal
            h_now = H[d - 1] if d else np.full(n, 0.6, np.float32)
            near = (book.renew_day - d > 0) & (book.renew_day - d < 200)
            rate = (0.03 + 0.6 * np.maximum(0.0, 0.6 - h_now)) * np.where(near, 2.5, 1.0)
            ci = np.nonzero(act & (comp_until < d) & (u[3] < rate / 365))[0]
            comp_until[ci] = d + rng.integers(60, 150, len(ci))
            log(ci, d, "competitor_evaluation")
            # price increase notice ~90 days before a renewal that carries one
            pi = np.nonzero(act & book.price_flag & (book.renew_day - d == 90))[0]
            price_until[pi] = d + 120
            log(pi, d, "price_increase_notice")
            # outages
            if d in outage_hit:
                hit = np.nonzero(act & outage_hit[d])[0]
                pain[hit] = np.clip(pain[hit] + rng.uniform(0.25, 0.5, len(hit)), 0, 1)
                value[hit] -= 0.02
                last_outage[hit] = d
                log(hit, d, "outage")
                for extra in range(1, outage_day_len[d]):
                    if d + extra < D:
                        outage_hit.setdefault(d + extra, outage_hit[d] & (rng.random(n) < 0.5))
                        outage_day_len.setdefault(d + extra, 1)

        onb = onb_until >= d
        reorg_on = reorg_until >= d
        comp_on = comp_until >= d
        price_on = price_until >= d
        fit_tgt = np.clip(acc.fit_base + acc.drift * t_years, 0.02, 0.98)
        fit += 0.02 * (fit_tgt - fit) + 0.006 * z[0]
        ct = np.clip(champ_tgt - 0.2 * reorg_on - 0.2 * onb, 0, 1)
        champ += 0.04 * (ct - champ) + 0.012 * z[1]
        pt = acc.pain_base + 0.22 * onb + 0.05 * comp_on
        pain += 0.09 * (pt - pain) + 0.02 * z[2] * (1 + acc.erratic)
        vt = (0.05 + 0.55 * fit + 0.35 * champ - 0.25 * pain - 0.28 * onb - 0.12 * reorg_on - 0.22 * comp_on
              - 0.05 * price_on + expand_boost)
        value += 0.03 * (np.clip(vt, 0, 1) - value) + 0.01 * (1 + 1.5 * acc.erratic) * z[3]
        np.clip(fit, 0, 1, out=fit)
        np.clip(champ, 0, 1, out=champ)
        np.clip(pain, 0, 1, out=pain)
        np.clip(value, 0, 1, out=value)
        health = 0.35 * value + 0.25 * champ + 0.2 * fit + 0.2 * (1 - pain)
        V[d], C[d], Fi[d], P[d], H[d] = value, champ, fit, pain, health
        champ_hist[d] = has_champ
        flags[d] = ((~has_champ) * F_NO_CHAMPION + comp_on * F_COMPETITOR + price_on * F_PRICE
                    + onb * F_ONBOARDING_FAIL + reorg_on * F_REORG + (d - last_outage < 7) * F_OUTAGE)

        if in_window:
            # renewals due today
            due = np.nonzero(act & (book.renew_day == d))[0]
            if len(due):
                _renew(book, due, d, H, V, Fi, acc, comp_until, has_champ, rng, log, churn_logit)
                ch = due[book.renew_day[due] < 0]
                alive[ch] = False
                churn_day[ch] = d
                stop_day[ch] = d + rng.integers(0, 8, len(ch))
                expand_boost[due[book.owned[due, 1:].sum(axis=1) > 0]] = 0.03
            # mid-term expansion of thriving accounts
            room = ~book.owned[:, 1:].all(axis=1)
            mid = (act & room & (value > 0.6) & (book.renew_day - d > 90) & (d - book.start[:, 0] > 60))
            rate = MIDTERM_EXPANSION * np.clip((value - 0.6) / 0.25, 0, 1)
            mi = np.nonzero(mid & (u[4] < rate / 365))[0]
            if len(mi):
                book.add_addon(mi, d, rng)
                expand_boost[mi] = 0.04
                log(mi, d, "midterm_expansion")
        seats_hist[d] = book.seats
        prod_hist[d] = book.product_mask()

    ci = np.nonzero(acc.csm_change_day >= 0)[0]
    if len(ci):
        ev_day.append(acc.csm_change_day[ci])
        ev_acc.append(ci)
        ev_type.append(np.full(len(ci), EV["csm_change"]))
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64))
    return SimResult(
        value=V, champion=C, fit=Fi, pain=P, health=H, seats=seats_hist, products=prod_hist, flags=flags,
        has_champion=champ_hist, stop_day=stop_day, churn_day=churn_day, onboarding_success=onboarding_success,
        outage_days=np.array(sorted(outage_hit)), ev_day=cat(ev_day), ev_acc=cat(ev_acc), ev_type=cat(ev_type),
        book=book,
    )


def _renew(book: ContractBook, due: np.ndarray, d: int, H, V, Fi, acc: Accounts, comp_until, has_champ,
           rng: np.random.Generator, log, churn_logit: ChurnLogit) -> None:
    lo = max(0, d - 90)
    h90 = H[lo:d, due].mean(axis=0).astype(np.float64)
    h_prev = H[max(0, d - 180):lo, due].mean(axis=0).astype(np.float64) if lo > 0 else h90
    v90 = V[lo:d, due].mean(axis=0).astype(np.float64)
    f90 = Fi[lo:d, due].mean(axis=0).astype(np.float64)
    util = usage_model.expected_utilization(v90, f90, acc.power_frac[due])
    comp = comp_until[due] >= d - 30
    price = book.price_flag[due]
    nochamp = ~has_champ[due]
    k = len(due)
    # a monthly plan renews twelve times a year: each renewal carries about a twelfth of the annual odds
    per_term = np.log(book.renewals_per_year_share(due))
    logit = (A_SEG[acc.segment[due]] + per_term + K_HEALTH * (H0 - h90) + K_TREND * (h_prev - h90) + 1.3 * comp
             + 0.5 * price + 0.6 * nochamp)
    logit = churn_logit(logit, A_SEG[acc.segment[due]] + per_term, d - acc.created_day[due])
    p = sigmoid(logit + rng.normal(0, NOISE_SD, k))
    churn = rng.random(k) < p
    p_exp = sigmoid(-1.8 + per_term + 6.0 * (v90 - 0.6) + 5.0 * (util - 0.7))
    p_con = sigmoid(-2.3 + per_term + 9.0 * (0.58 - h90))
    r = rng.random(k)
    outcome = np.where(churn, CHURNED, np.where(r < p_exp, EXPANDED, np.where(r < p_exp + (1 - p_exp) * p_con,
                                                                              CONTRACTED, RENEWED)))
    book.renew(due, d, outcome, rng, p_churn=p, h90=h90, v90=v90, util=util, competitor=comp)
    for code, name in ((RENEWED, "renewed"), (EXPANDED, "expanded"), (CONTRACTED, "contracted"),
                       (CHURNED, "churned")):
        log(due[outcome == code], d, name)
