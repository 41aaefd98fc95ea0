"""Contracts: the book of subscription lines, its history before the window, renewals and expansions.

One row per subscription line (product) and term. Add-ons are co-termed with the core contract and carry no
licensed seats of their own (seat utilization counts core seats only). `end_date` is exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .accounts import Accounts
from .timegrid import Calendar, fmt_date

PRODUCTS = ("core", "analytics_addon", "automation_addon")
CORE, ANALYTICS, AUTOMATION = 0, 1, 2
# list price per seat per year, [segment, product]
LIST_PRICE = np.array([[420.0, 90.0, 140.0], [540.0, 110.0, 160.0], [660.0, 130.0, 180.0]])
ADDON_P = np.array([[0.45, 0.35], [0.25, 0.18], [0.08, 0.06]])  # owned at window start, [segment, addon]
PRICE_INCREASE_P = 0.25  # share of annual renewals that come with a price increase
RENEWAL_GAP_P = 0.15  # an annual or longer renewal starts 1-20 days after the previous end; monthly plans roll over
OUTCOMES = ("renewed", "expanded", "contracted", "churned")
RENEWED, EXPANDED, CONTRACTED, CHURNED = 0, 1, 2, 3


@dataclass
class RenewalRecord:
    acc: np.ndarray
    old_seq: np.ndarray
    day: np.ndarray
    outcome: np.ndarray
    p_churn: np.ndarray
    health_90d: np.ndarray
    value_90d: np.ndarray
    util: np.ndarray
    price_increase: np.ndarray
    competitor: np.ndarray
    new_seq: np.ndarray
    new_start: np.ndarray
    seats_before: np.ndarray
    seats_after: np.ndarray
    arr_before: np.ndarray
    arr_after: np.ndarray


class ContractBook:
    def __init__(self, acc: Accounts, cal: Calendar, rng: np.random.Generator, sign_new: np.ndarray):
        n = acc.n
        self.acc, self.cal = acc, cal
        self.seats = acc.seats0.astype(np.int64).copy()
        self.price = LIST_PRICE[acc.segment] * acc.price_factor[:, None]
        self.owned = np.zeros((n, 3), dtype=bool)
        self.start = np.full((n, 3), -1, dtype=np.int64)
        self.end = np.full((n, 3), -1, dtype=np.int64)
        self.cur_seq = np.full((n, 3), -1, dtype=np.int64)
        self.seq = np.zeros(n, dtype=np.int64)
        self.term = acc.term_months.copy()
        self.price_flag = rng.random(n) < PRICE_INCREASE_P * self.renewals_per_year_share(np.arange(n))
        self._rows: list[tuple[np.ndarray, ...]] = []
        self._renewals: list[RenewalRecord] = []
        self._history(rng, sign_new)

    # -- rows ---------------------------------------------------------------------------------------------------
    def _emit(self, idx: np.ndarray, prod: int, start: np.ndarray, end: np.ndarray, sign: np.ndarray,
              seats: np.ndarray | None = None, price: np.ndarray | None = None) -> np.ndarray:
        if len(idx) == 0:
            return np.zeros(0, dtype=np.int64)
        seats_for_price = self.seats[idx] if seats is None else seats
        p = self.price[idx, prod] if price is None else price
        arr = np.round(seats_for_price * p, 2)
        seq = self.seq[idx].copy()
        self.seq[idx] += 1
        lic = seats_for_price if prod == CORE else np.full(len(idx), -1, dtype=np.int64)
        self._rows.append((idx.copy(), np.full(len(idx), prod), seq, start.copy(), end.copy(), arr,
                           lic.astype(np.int64), sign.copy()))
        return seq

    def _set_current(self, idx: np.ndarray, prod: int, start: np.ndarray, end: np.ndarray, seq: np.ndarray) -> None:
        self.owned[idx, prod] = True
        self.start[idx, prod] = start
        self.end[idx, prod] = end
        self.cur_seq[idx, prod] = seq

    def _history(self, rng: np.random.Generator, sign_new: np.ndarray) -> None:
        acc, cal = self.acc, self.cal
        ws = cal.first_day
        old = np.nonzero(~acc.is_new)[0]
        # contract chain from creation: starts at created + k*term; find the one covering window start
        kstar = np.zeros(len(old), dtype=np.int64)
        k = 1
        while True:
            covered = cal.add_months(acc.created_day[old], k * self.term[old]) <= ws
            if not covered.any():
                break
            kstar[covered] = k
            k += 1
        starts_m = np.stack([cal.add_months(acc.created_day[old], j * self.term[old]) for j in range(k + 1)])
        growth = rng.uniform(1.0, 1.18, len(old))
        for j in range(k):
            m = j <= kstar
            sub = old[m]
            back = (kstar[m] - j).astype(float)
            seats = np.maximum(1, np.round(self.seats[sub] / growth[m] ** back)).astype(np.int64)
            price = self.price[sub, CORE] / 1.04 ** back
            st, en = starts_m[j, m], starts_m[j + 1, m]
            seq = self._emit(sub, CORE, st, en, st, seats=seats, price=price)
            cur = kstar[m] == j
            self._set_current(sub[cur], CORE, st[cur], en[cur], seq[cur])
        # add-ons owned at window start: since the current term (70%) or the one before
        for a, prod in ((0, ANALYTICS), (1, AUTOMATION)):
            own = rng.random(len(old)) < ADDON_P[acc.segment[old], a]
            earlier = own & (kstar >= 1) & (rng.random(len(old)) < 0.3)
            for m, j_off in ((earlier, 1), (own, 0)):
                sub = old[m]
                jj = kstar[m] - j_off
                st = starts_m[jj, np.nonzero(m)[0]]
                en = starts_m[jj + 1, np.nonzero(m)[0]]
                seq = self._emit(sub, prod, st, en, st)
                if j_off == 0:
                    self._set_current(sub, prod, st, en, seq)
        # new logos: first contract starts on the creation day, signed when the deal closed
        new = np.nonzero(acc.is_new)[0]
        st = acc.created_day[new]
        en = cal.add_months(st, self.term[new])
        seq = self._emit(new, CORE, st, en, sign_new[new])
        self._set_current(new, CORE, st, en, seq)
        for a, prod in ((0, ANALYTICS), (1, AUTOMATION)):
            m = rng.random(len(new)) < ADDON_P[acc.segment[new], a] * 0.5
            sub = new[m]
            seq = self._emit(sub, prod, st[m], en[m], sign_new[sub])
            self._set_current(sub, prod, st[m], en[m], seq)

    # -- events -------------------------------------------------------------------------------------------------
    def renewals_per_year_share(self, idx: np.ndarray) -> np.ndarray:
        """A term's share of a year (1 for annual and longer terms): scales per-renewal odds of terms under a year."""
        return np.minimum(self.term[idx], 12) / 12

    @property
    def renew_day(self) -> np.ndarray:
        return self.end[:, CORE]

    def account_arr(self, idx: np.ndarray) -> np.ndarray:
        seats = self.seats[idx][:, None]
        return np.round((seats * self.price[idx] * self.owned[idx]).sum(axis=1), 2)

    def product_mask(self) -> np.ndarray:
        return (self.owned[:, CORE] * 1 + self.owned[:, ANALYTICS] * 2 + self.owned[:, AUTOMATION] * 4).astype(np.uint8)

    def renew(self, idx: np.ndarray, d: int, outcome: np.ndarray, rng: np.random.Generator, *, p_churn, h90, v90,
              util, competitor) -> None:
        """Apply renewal outcomes for accounts whose core contract ends on day `d`."""
        cal = self.cal
        k = len(idx)
        old_seq = self.cur_seq[idx, CORE].copy()
        seats_before = self.seats[idx].copy()
        arr_before = self.account_arr(idx)
        price_inc = self.price_flag[idx] & (outcome != CONTRACTED) & (outcome != CHURNED)
        gap = np.where((rng.random(k) < RENEWAL_GAP_P) & (self.term[idx] >= 12), rng.integers(1, 21, k), 0)
        new_start = d + gap
        new_end = cal.add_months(new_start, self.term[idx])
        sign = new_start - rng.integers(0, 22, k)

        inc = np.where(price_inc, rng.uniform(1.05, 1.12, k), 1.0)
        self.price[idx] *= inc[:, None]
        seats = self.seats[idx].copy()
        unowned = ~self.owned[idx, 1:]
        exp = outcome == EXPANDED
        can_add = unowned.any(axis=1)
        add_on = exp & can_add & (rng.random(k) < 0.5)
        seat_up = exp & (~add_on | (rng.random(k) < 0.35))
        seats = np.where(seat_up, np.maximum(seats + 1, np.round(seats * rng.uniform(1.1, 1.6, k))), seats)
        con = outcome == CONTRACTED
        seats = np.where(con, np.maximum(1, np.minimum(seats - 1, np.round(seats * rng.uniform(0.6, 0.9, k)))), seats)
        self.seats[idx] = seats.astype(np.int64)
        # add-on added / dropped
        pick = np.where(unowned[:, 0] & unowned[:, 1], 1 + (rng.random(k) < 0.5), np.where(unowned[:, 0], 1, 2))
        for prod in (ANALYTICS, AUTOMATION):
            self.owned[idx[add_on & (pick == prod)], prod] = True
        owned_addons = self.owned[idx, 1:]
        drop = con & owned_addons.any(axis=1) & (rng.random(k) < 0.35)
        dpick = np.where(owned_addons[:, 1], 2, 1)
        for prod in (ANALYTICS, AUTOMATION):
            self.owned[idx[drop & (dpick == prod)], prod] = False
        churn = outcome == CHURNED
        self.owned[idx[churn]] = False
        self.end[idx[churn]] = -1
        new_seq = np.full(k, -1, dtype=np.int64)
        for prod in (CORE, ANALYTICS, AUTOMATION):
            m = self.owned[idx, prod]
            sub = idx[m]
            seq = self._emit(sub, prod, new_start[m], new_end[m], sign[m])
            self._set_current(sub, prod, new_start[m], new_end[m], seq)
            if prod == CORE:
                new_seq[m] = seq
            # an owned add-on that was dropped keeps no current line
        for prod in (ANALYTICS, AUTOMATION):
            gone = ~self.owned[idx, prod]
            self.end[idx[gone], prod] = -1
        self.price_flag[idx] = rng.random(k) < PRICE_INCREASE_P * self.renewals_per_year_share(idx)
        arr_after = np.where(churn, 0.0, self.account_arr(idx))
        self._renewals.append(RenewalRecord(
            acc=idx.copy(), old_seq=old_seq, day=np.full(k, d), outcome=outcome.copy(), p_churn=p_churn,
            health_90d=h90, value_90d=v90, util=util, price_increase=price_inc, competitor=competitor,
            new_seq=new_seq, new_start=np.where(churn, -1, new_start), seats_before=seats_before,
            seats_after=np.where(churn, 0, seats), arr_before=arr_before, arr_after=arr_after,
        ))

    def add_addon(self, idx: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
        """Mid-term expansion: an add-on line starting today, co-termed with the core contract."""
        k = len(idx)
        unowned = ~self.owned[idx, 1:]
        pick = np.where(unowned[:, 0] & unowned[:, 1], 1 + (rng.random(k) < 0.5), np.where(unowned[:, 0], 1, 2))
        for prod in (ANALYTICS, AUTOMATION):
            m = pick == prod
            sub = idx[m]
            st = np.full(len(sub), d)
            en = self.end[sub, CORE]
            seq = self._emit(sub, prod, st, en, st - rng.integers(0, 10, len(sub)))
            self._set_current(sub, prod, st, en, seq)
        return pick

    # -- output -------------------------------------------------------------------------------------------------
    def rows(self) -> dict[str, np.ndarray]:
        cols = ("acc", "prod", "seq", "start", "end", "arr", "seats", "sign")
        if not self._rows:
            return {c: np.zeros(0) for c in cols}
        return {c: np.concatenate([r[i] for r in self._rows]) for i, c in enumerate(cols)}

    def renewals(self) -> dict[str, np.ndarray]:
        fields = RenewalRecord.__dataclass_fields__
        if not self._renewals:
            return {f: np.zeros(0) for f in fields}
        return {f: np.concatenate([getattr(r, f) for r in self._renewals]) for f in fields}


def contract_ids(acc: Accounts, acc_idx: np.ndarray, seq: np.ndarray) -> pa.Array:
    base = pc.utf8_replace_slice(acc.ids, 0, 1, "C").take(pa.array(acc_idx))
    return pc.binary_join_element_wise(base, pc.utf8_lpad(pc.cast(pa.array(seq + 1), pa.string()), 2, "0"), "-")


def contracts_table(acc: Accounts, cal: Calendar, rows: dict[str, np.ndarray]) -> tuple[pa.Table, np.ndarray]:
    """The landing rows of all contract lines and the day each one lands (its signing day)."""
    idx = rows["acc"].astype(np.int64)
    seats = rows["seats"].astype(np.int64)
    table = pa.table({
        "contract_id": contract_ids(acc, idx, rows["seq"].astype(np.int64)),
        "account_id": acc.ids.take(pa.array(idx)),
        "product": pa.array(np.array(PRODUCTS)[rows["prod"].astype(np.int64)].tolist()),
        "start_date": fmt_date(cal, rows["start"]),
        "end_date": fmt_date(cal, rows["end"]),
        "arr": pa.array(rows["arr"].astype(np.float64)),
        "licensed_seats": pa.array(seats, mask=seats < 0),
        "currency": pa.array(["USD"] * len(idx), pa.string()),
    })
    return table, rows["sign"].astype(np.int64)
