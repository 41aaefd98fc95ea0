"""Labels: does the account churn (or expand) within the horizon after the snapshot day?

Outcomes come from `marts.fct_revenue_events` (contract meaning, landing contract v1):
- churn: `event_type = 'churn'`, dated the day the last active contract ended with nothing starting within the grace
  period; confirmed only once the grace period passed before the as-of date;
- expansion: `event_type = 'expansion'` whose `change_driver` is more seats or an added product (never a price change).

A snapshot on day D is positive when an outcome falls in (D, D + horizon]. Its label is known only when
D + horizon (+ grace for churn) is on or before the as-of date; later snapshots get `label = NaN`,
`label_known = False` and are never trained or evaluated on.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from ml.config import MLConfig

REVENUE_EVENTS = "marts.fct_revenue_events"


def load_outcome_events(con: duckdb.DuckDBPyConnection, task: str, cfg: MLConfig) -> pd.DataFrame:
    """(account_id, event_date) of every churn, or of every seat/product expansion."""
    if task == "churn":
        sql = f"select account_id, event_date from {REVENUE_EVENTS} where event_type = 'churn'"
        params: list = []
    elif task == "expansion":
        sql = (f"select account_id, event_date from {REVENUE_EVENTS} where event_type = 'expansion' "
               "and change_driver in (select unnest($1::varchar[]))")
        params = [list(cfg.expansion_drivers)]
    else:
        raise ValueError(f"unknown task {task!r}")
    frame = con.execute(sql + " order by account_id, event_date", params).df()
    return normalise_events(frame)


def normalise_events(events: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "account_id": events["account_id"].astype(str),
        "event_date": pd.to_datetime(events["event_date"]).dt.date,
    })
    return out.dropna().drop_duplicates().reset_index(drop=True)


def label_snapshots(snapshots: pd.DataFrame, events: pd.DataFrame, as_of: date, horizon_days: int,
                    delay_days: int | None = None) -> pd.DataFrame:
    """Label each (account_id, snapshot_date) row; returns the rows with `label`, `label_known`, `event_date`.

    `event_date` is the first outcome in the window (NaT/None when negative or unknown); `delay_days` is how long after
    the snapshot the label becomes known (default: the horizon).
    """
    delay = horizon_days if delay_days is None else delay_days
    snaps = snapshots[["account_id", "snapshot_date"]].copy()
    snaps["_row"] = np.arange(len(snaps))
    snaps["_ts"] = pd.to_datetime(snaps["snapshot_date"]).astype("datetime64[ns]")
    ev = normalise_events(events) if len(events) else pd.DataFrame({"account_id": [], "event_date": []})
    ev = ev.assign(_ev_ts=pd.to_datetime(ev["event_date"]).astype("datetime64[ns]")).astype({"account_id": str})
    merged = pd.merge_asof(
        snaps.sort_values("_ts"), ev.sort_values("_ev_ts")[["account_id", "_ev_ts"]],
        left_on="_ts", right_on="_ev_ts", by="account_id", direction="forward", allow_exact_matches=False,
    ).sort_values("_row")
    in_window = merged["_ev_ts"].notna() & (merged["_ev_ts"] <= merged["_ts"] + pd.Timedelta(days=horizon_days))
    known = (merged["_ts"] + pd.Timedelta(days=delay)) <= pd.Timestamp(as_of)
    out = snapshots.copy()
    out["label_known"] = known.to_numpy()
    out["label"] = np.where(known.to_numpy(), in_window.to_numpy().astype(float), np.nan)
    event_dates = merged["_ev_ts"].where(in_window & known).dt.date
    out["event_date"] = event_dates.to_numpy()
    return out
