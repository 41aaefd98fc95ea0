"""Post-mortem of a churn: the root-cause category from the evidence on the account's last active days."""

from __future__ import annotations

from datetime import date, timedelta

ROOT_CAUSES = ("champion_lost", "poor_support", "low_usage", "pricing", "competition")

_SQL = """
select d.champion_left_90d, d.has_champion, d.seat_utilization, d.usage_trend_28d, d.csat_avg_90d,
       d.urgent_high_tickets_90d, w.is_support_spike, w.support_load_ratio, h.health_band,
       (select count(*) from marts.fct_revenue_events r where r.account_id = $account
          and r.event_date between $day - interval 365 day and $day and r.price_change_arr_amount > 0) as price_increases
from marts.fct_account_daily d
left join marts.fct_lean_waste w using (account_id, date_day)
left join marts.fct_account_health h using (account_id, date_day)
where d.account_id = $account and d.date_day = (
    select max(date_day) from marts.fct_account_daily where account_id = $account and date_day < $churn)
"""


def root_cause(con, account_id: str, churn_date: date) -> tuple[str, dict]:
    """(category, evidence): the first rule that the last active day's figures support, in this order: champion lost,
    poor support, low usage, pricing; `competition` when none does (healthy usage and support, yet they left)."""
    row = con.execute(_SQL, {"account": account_id, "churn": churn_date,
                             "day": churn_date - timedelta(days=1)}).df()
    if row.empty:
        return "competition", {"note": "no active day before the churn in the marts"}
    r = row.iloc[0].to_dict()
    evidence = {k: (None if v is None or v != v else (float(v) if not isinstance(v, (bool, str)) else v))
                for k, v in r.items()}
    if r["champion_left_90d"] or r["has_champion"] is False:
        return "champion_lost", evidence
    if r["is_support_spike"] or (r["csat_avg_90d"] == r["csat_avg_90d"] and r["csat_avg_90d"] is not None
                                 and r["csat_avg_90d"] < 3.5) or (r["urgent_high_tickets_90d"] or 0) >= 3:
        return "poor_support", evidence
    if (r["seat_utilization"] or 0) < 0.4 or (r["usage_trend_28d"] == r["usage_trend_28d"]
                                              and r["usage_trend_28d"] is not None and r["usage_trend_28d"] < 0.8):
        return "low_usage", evidence
    if r["price_increases"]:
        return "pricing", evidence
    return "competition", evidence
