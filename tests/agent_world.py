"""A tiny warehouse for the account agent's unit tests: the mart and score columns the agent reads, one row per
account, written into a real DuckDB database so the agent's own SQL runs on it. Each account starts healthy."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from actions.signals import HANDOFF_FIELDS

DAY = date(2026, 3, 2)
HEALTHY = {
    "account_name": None, "csm_owner": "csm_ann", "segment": "mid_market", "active_arr_amount": 50_000.0,
    "days_to_renewal": 300, "contract_status": "active", "phase_number": 8, "phase_gate": "time_to_value_reached",
    "is_new_account": False, "last_churn_date": None, "is_winback_eligible": False, "latest_nps_score": 7.0,
    "health_score": 80.0, "health_band": "green", "handoff": None,  # None: no handoff; else the missing fields
    "has_champion": True, "has_executive_sponsor": True, "champion_left_90d": False, "seat_utilization": 0.8,
    "usage_trend_28d": 1.0, "first_value_date": date(2025, 6, 1), "tenure_days": 400, "csat_avg_90d": 4.5,
    "urgent_high_tickets_90d": 0, "unused_seats": 4, "unused_seat_share": 0.1, "unused_seat_cost_per_year": 1000.0,
    "is_erratic": False, "is_support_spike": False, "is_in_renewal_window": False, "muri_score": 0.0,
    "support_load_ratio": 1.0, "churn_probability": 0.05, "churn_band": "low", "churn_percentile": 0.3,
    "churn_reasons": "usage steady", "expansion_probability": 0.1, "expansion_band": "low",
    "expansion_percentile": 0.3, "price_increase_on": None,
}
HIGH_RISK = {"churn_probability": 0.35, "churn_band": "high", "churn_percentile": 0.95,
             "churn_reasons": "active users down 40% in 30 days"}
CRITICAL = {"churn_probability": 0.7, "churn_band": "high", "churn_percentile": 0.99,
            "churn_reasons": "active users down 70% in 30 days"}


class World:
    def __init__(self, con: duckdb.DuckDBPyConnection | None = None):
        self.con = con or duckdb.connect()
        self.accounts: dict[str, dict] = {}
        self.day = DAY

    def add(self, account_id: str, **values) -> World:
        self.accounts[account_id] = {**HEALTHY, "account_name": f"Account {account_id}", **values}
        return self

    def set(self, account_id: str, **values) -> World:
        self.accounts[account_id].update(values)
        return self

    def write(self, day: date | None = None) -> duckdb.DuckDBPyConnection:
        """(Re)write every table for the as-of `day`; daily tables also hold the day before each churn."""
        self.day = day or self.day
        con, rows = self.con, list(self.accounts.items())
        for schema in ("marts", "ml"):
            con.execute(f"create schema if not exists {schema}")
        active = [(a, v) for a, v in rows if v["contract_status"] != "churned"]

        def table(name: str, records: list[dict]) -> None:
            frame = pd.DataFrame(records)
            con.register("frame", frame)
            con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")

        for task in ("churn", "expansion"):
            table(f"ml.{task}_scores", [{"account_id": a, "as_of_date": self.day,
                                         "probability": v[f"{task}_probability"], "risk_band": v[f"{task}_band"],
                                         "risk_percentile": v[f"{task}_percentile"],
                                         "reasons_text": v.get(f"{task}_reasons", "")} for a, v in active])
        table("marts.dim_accounts", [{"account_id": a, **{k: v[k] for k in (
            "account_name", "csm_owner", "segment", "active_arr_amount", "days_to_renewal")}} for a, v in rows])
        table("marts.fct_account_lifecycle", [{"account_id": a, **{k: v[k] for k in (
            "contract_status", "is_new_account", "last_churn_date", "is_winback_eligible")}} for a, v in rows])
        churned = lambda v: v["contract_status"] == "churned"  # noqa: E731
        table("marts.fct_account_phase_history", [{
            "account_id": a, "phase_number": 11 if churned(v) else v["phase_number"],
            "phase_gate": "churned" if churned(v) else v["phase_gate"], "entry_contract_status": v["contract_status"],
            "valid_from_date": DAY - timedelta(days=1000), "valid_to_date": None} for a, v in rows])
        handoffs = [{"account_id": a, "has_handoff": True,
                     **{f"has_{f}": f not in v["handoff"] for f in HANDOFF_FIELDS},
                     "missing_field_count": len(v["handoff"])} for a, v in rows if v["handoff"] is not None]
        table("marts.fct_handoff_audit", handoffs or [{"account_id": "none", "has_handoff": True,
              **{f"has_{f}": True for f in HANDOFF_FIELDS}, "missing_field_count": 0}])
        daily = []
        for a, v in rows:
            days = [self.day] + ([v["last_churn_date"] - timedelta(days=1)] if v["last_churn_date"] else [])
            daily += [{"account_id": a, "date_day": d, **v, "active_arr": v["active_arr_amount"],
                       "days_to_next_renewal": v["days_to_renewal"], "active_contracts": 0 if churned(v) else 1}
                      for d in days]
        keep = lambda cols: [{c: r[c] for c in ("account_id", "date_day", *cols)} for r in daily]  # noqa: E731
        table("marts.fct_account_daily", keep(("active_arr", "days_to_next_renewal", "latest_nps_score",
              "active_contracts", "has_champion", "has_executive_sponsor", "champion_left_90d",
              "seat_utilization", "usage_trend_28d", "first_value_date", "tenure_days", "csat_avg_90d",
              "urgent_high_tickets_90d")))
        table("marts.fct_lean_waste", keep(("unused_seats", "unused_seat_share", "unused_seat_cost_per_year",
              "is_erratic", "is_support_spike", "is_in_renewal_window", "muri_score", "support_load_ratio")))
        table("marts.fct_account_health", keep(("health_score", "health_band")))
        events = [{"account_id": a, "event_type": "price_increase", "event_date": v["price_increase_on"],
                   "price_change_arr_amount": 100.0} for a, v in rows if v["price_increase_on"]]
        table("marts.fct_revenue_events", events or [{"account_id": "none", "event_type": "new",
              "event_date": DAY, "price_change_arr_amount": 0.0}])
        return con


def tick(world: World, session, day: date | None = None, **options):
    """One agent tick on the world (rewritten for `day`), committed."""
    from actions.tick import run_tick

    result = run_tick(world.write(day), session, **options)
    session.commit()
    return result
