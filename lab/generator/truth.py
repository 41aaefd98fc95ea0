"""Ground truth written beside the landing zone (`<out>/_truth/`, never read by the pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .accounts import ARCHETYPES, SEGMENTS, Accounts
from .contracts import OUTCOMES, PRODUCTS, contract_ids
from .handoffs import FIELDS as HANDOFF_FIELDS
from .handoffs import HandoffPlan
from .state import EV, EVENT_TYPES, SimResult
from .timegrid import REGIONS, Calendar

STATE_DAILY_MAX_ROWS = 2_000_000  # above this the state is written weekly


class TextFlags:
    """Rows whose free text holds personal data and/or machine-aimed instructions."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []
        self.labels: list[pa.Table] = []
        self.summary: dict[str, dict[str, int]] = {}

    def label(self, source: str, keys: pa.Array, field: str, texts: pa.Array, sentiment: np.ndarray,
              topic: np.ndarray) -> None:
        """The sentiment and primary topic each non-null text was written with (`_truth/text_labels.parquet`)."""
        valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False))
        idx = pa.array(np.nonzero(valid)[0])
        self.labels.append(pa.table({
            "text_id": pc.binary_join_element_wise(pa.scalar(source), keys.take(idx), pa.scalar(field), ":"),
            "text": texts.take(idx), "sentiment": pa.array(np.asarray(sentiment)[valid].tolist(), pa.string()),
            "topic": pa.array(np.asarray(topic)[valid].tolist(), pa.string()),
        }))

    def add(self, source: str, key_column: str, keys: pa.Array, field: str, pii: np.ndarray, inj: np.ndarray) -> None:
        name = f"{source}.{field}"
        s = self.summary.setdefault(name, {"texts": 0, "pii": 0, "injection": 0})
        s["texts"] += len(pii)
        s["pii"] += int(pii.sum())
        s["injection"] += int(inj.sum())
        m = pii | inj
        if not m.any():
            return
        idx = pa.array(np.nonzero(m)[0])
        k = int(m.sum())
        self.parts.append(pa.table({
            "source": pa.array([source] * k), "key_column": pa.array([key_column] * k), "key": keys.take(idx),
            "field": pa.array([field] * k), "has_pii": pa.array(pii[m]), "has_injection": pa.array(inj[m]),
        }))

    def table(self) -> pa.Table:
        if not self.parts:
            return pa.table({"source": pa.array([], pa.string()), "key_column": pa.array([], pa.string()),
                             "key": pa.array([], pa.string()), "field": pa.array([], pa.string()),
                             "has_pii": pa.array([], pa.bool_()), "has_injection": pa.array([], pa.bool_())})
        return pa.concat_tables(self.parts)


def _dates(cal: Calendar, days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    d = cal.to_date64(np.asarray(days)).astype("datetime64[D]")
    arr = pa.array(d, pa.date32())
    if valid is not None:
        arr = pa.array(d, pa.date32(), mask=~valid)
    return arr


def write_truth(out: Path, acc: Accounts, cal: Calendar, sim: SimResult, hp: HandoffPlan, contracts_rows: dict,
                contract_landed: np.ndarray, flags: TextFlags, defects_report: dict) -> dict:
    tdir = Path(out) / "_truth"
    tdir.mkdir(parents=True, exist_ok=True)
    book = sim.book
    opts = {"compression": "zstd"}

    # events
    order = np.lexsort((sim.ev_type, sim.ev_acc, sim.ev_day))
    ev_d, ev_a, ev_t = sim.ev_day[order], sim.ev_acc[order], sim.ev_type[order]
    events = pa.table({
        "account_id": acc.ids.take(pa.array(ev_a)),
        "date": _dates(cal, ev_d),
        "event_type": pa.array(list(EVENT_TYPES)).take(pa.array(ev_t)),
    })
    pq.write_table(events, tdir / "events.parquet", **opts)

    # renewals
    r = book.renewals()
    ra = r["acc"].astype(np.int64)
    has_new = r["new_seq"] >= 0
    renewals = pa.table({
        "account_id": acc.ids.take(pa.array(ra)),
        "contract_id": contract_ids(acc, ra, r["old_seq"].astype(np.int64)),
        "renewal_date": _dates(cal, r["day"]),
        "outcome": pa.array(list(OUTCOMES)).take(pa.array(r["outcome"].astype(np.int64))),
        "churn_probability": pa.array(r["p_churn"].astype(np.float64)),
        "health_90d": pa.array(r["health_90d"].astype(np.float64)),
        "value_90d": pa.array(r["value_90d"].astype(np.float64)),
        "expected_utilization": pa.array(r["util"].astype(np.float64)),
        "price_increase": pa.array(r["price_increase"].astype(bool)),
        "competitor_evaluation": pa.array(r["competitor"].astype(bool)),
        "new_contract_id": _mask_strings(contract_ids(acc, ra, np.maximum(r["new_seq"], 0).astype(np.int64)), has_new),
        "new_start_date": _dates(cal, np.maximum(r["new_start"], 0), has_new),
        "seats_before": pa.array(r["seats_before"].astype(np.int64)),
        "seats_after": pa.array(r["seats_after"].astype(np.int64)),
        "arr_before": pa.array(r["arr_before"].astype(np.float64)),
        "arr_after": pa.array(r["arr_after"].astype(np.float64)),
    })
    pq.write_table(renewals, tdir / "renewals.parquet", **opts)

    # contracts (all lines, including those signed after the window and not landed)
    c = contracts_rows
    ci = c["acc"].astype(np.int64)
    seats = c["seats"].astype(np.int64)
    contracts = pa.table({
        "contract_id": contract_ids(acc, ci, c["seq"].astype(np.int64)),
        "account_id": acc.ids.take(pa.array(ci)),
        "product": pa.array(list(PRODUCTS)).take(pa.array(c["prod"].astype(np.int64))),
        "start_date": _dates(cal, c["start"]),
        "end_date": _dates(cal, c["end"]),
        "signed_date": _dates(cal, c["sign"]),
        "arr": pa.array(c["arr"].astype(np.float64)),
        "licensed_seats": pa.array(seats, mask=seats < 0),
        "landed": pa.array(contract_landed),
    })
    pq.write_table(contracts, tdir / "contracts.parquet", **opts)

    # accounts
    churned = sim.churn_day >= 0
    exp_days = [[] for _ in range(acc.n)]
    con_days = [[] for _ in range(acc.n)]
    ev_lists = [[] for _ in range(acc.n)]
    for d, a, t in zip(ev_d.tolist(), ev_a.tolist(), ev_t.tolist()):
        ev_lists[a].append((d, t))
        if t in (EV["expanded"], EV["midterm_expansion"]):
            exp_days[a].append(d)
        elif t == EV["contracted"]:
            con_days[a].append(d)
    day0 = cal.day0
    to_date = (lambda d: (day0 + np.timedelta64(d, "D")).astype(object))
    onboarding = np.where(acc.is_new, np.where(sim.onboarding_success, "success", "failure"), None)
    last = cal.n_days - 1
    arr_end = np.round((sim.book.seats[:, None] * sim.book.price * sim.book.owned).sum(axis=1), 2)
    accounts = pa.table({
        "account_id": acc.ids,
        "segment": pa.array(list(SEGMENTS)).take(pa.array(acc.segment.astype(np.int64))),
        "region": pa.array(list(REGIONS)).take(pa.array(acc.region.astype(np.int64))),
        "created_at": pa.array((cal.to_date64(acc.crm_created_day).astype("datetime64[s]")
                                + acc.created_sec.astype("timedelta64[s]")), pa.timestamp("s")),
        "customer_since": _dates(cal, acc.created_day),
        "is_new_logo": pa.array(acc.is_new),
        "archetype": pa.array(list(ARCHETYPES)).take(pa.array(acc.archetype.astype(np.int64))),
        "onboarding_outcome": pa.array(onboarding.tolist(), pa.string()),
        "handoff_completeness": pa.array(hp.completeness, mask=np.isnan(hp.completeness)),
        "product_fit_base": pa.array(acc.fit_base),
        "erratic": pa.array(acc.erratic),
        "seats_initial": pa.array(acc.seats0.astype(np.int64)),
        "churned": pa.array(churned),
        "churn_date": _dates(cal, np.maximum(sim.churn_day, 0), churned),
        "expansion_dates": pa.array([[to_date(d) for d in x] for x in exp_days], pa.list_(pa.date32())),
        "contraction_dates": pa.array([[to_date(d) for d in x] for x in con_days], pa.list_(pa.date32())),
        "events": pa.array([[{"date": to_date(d), "type": EVENT_TYPES[t]} for d, t in x] for x in ev_lists],
                           pa.list_(pa.struct([("date", pa.date32()), ("type", pa.string())]))),
        "arr_at_end": pa.array(np.where(churned, 0.0, arr_end)),
        "health_at_end": pa.array(sim.health[last].astype(np.float64)),
    })
    pq.write_table(accounts, tdir / "accounts.parquet", **opts)

    # the new-logo handoffs as planned: which fields sales filled in (what the handoff audit should find missing)
    k = len(hp.acc)
    handoff_truth = pa.table({
        "account_id": acc.ids.take(pa.array(np.repeat(hp.acc, len(HANDOFF_FIELDS)).astype(np.int64))),
        "field": pa.array(list(HANDOFF_FIELDS) * k, pa.string()),
        "present": pa.array(hp.present.reshape(-1)),
    })
    pq.write_table(handoff_truth, tdir / "handoffs.parquet", **opts)

    # hidden state, daily or weekly
    f0, D = cal.first_day, cal.n_days
    daily = acc.n * (D - f0) <= STATE_DAILY_MAX_ROWS
    days = np.arange(f0, D) if daily else np.arange(f0, D, 7)
    end_day = np.where(churned, sim.churn_day, D)
    state_name = "state_daily.parquet" if daily else "state_weekly.parquet"
    writer = None
    try:
        for lo in range(0, len(days), 64):
            dd = days[lo:lo + 64]
            m = (acc.created_day[None, :] <= dd[:, None]) & (dd[:, None] < end_day[None, :])
            di, ai = np.nonzero(m)
            d = dd[di]
            t = pa.table({
                "account_id": acc.ids.take(pa.array(ai)),
                "date": _dates(cal, d),
                "value_realized": pa.array(sim.value[d, ai]),
                "champion_strength": pa.array(sim.champion[d, ai]),
                "product_fit": pa.array(sim.fit[d, ai]),
                "support_pain": pa.array(sim.pain[d, ai]),
                "health": pa.array(sim.health[d, ai]),
            })
            if writer is None:
                writer = pq.ParquetWriter(tdir / state_name, t.schema, compression="zstd")
            writer.write_table(t)
    finally:
        if writer is not None:
            writer.close()

    pq.write_table(flags.table(), tdir / "text_flags.parquet", **opts)
    if flags.labels:
        pq.write_table(pa.concat_tables(flags.labels), tdir / "text_labels.parquet", **opts)
    with open(tdir / "defects.json", "w") as fh:
        json.dump(defects_report, fh, indent=2, sort_keys=True)
    return {"state_file": state_name, "state_granularity": "daily" if daily else "weekly",
            "text": flags.summary}


def _mask_strings(col: pa.Array, valid: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc
    return pc.if_else(pa.array(valid), col, pa.scalar(None, pa.string()))
