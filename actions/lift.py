"""Lift per playbook: treated vs held-out accounts on health, renewal and expansion, once outcomes are known.

An assignment's outcome is known when `lift.outcome_days` have passed since it was drawn. Lift is the difference of
means (treated minus holdout) with a Welch confidence interval; fewer than two accounts on a side gives no interval.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.policy import Policy
from csops.opdb.models import HoldoutAssignment

METRICS = ("health_change", "renewed", "expanded")

_OUTCOMES = """
select a.account_id, a.playbook, a.in_holdout,
       h1.health_score - h0.health_score as health_change,
       case when exists (select 1 from marts.fct_revenue_events r where r.account_id = a.account_id
                         and r.event_type = 'churn' and r.event_date > a.assigned_on and r.event_date <= a.outcome_day)
            then 0.0 else 1.0 end as renewed,
       case when exists (select 1 from marts.fct_revenue_events r where r.account_id = a.account_id
                         and r.event_type = 'expansion' and r.event_date > a.assigned_on
                         and r.event_date <= a.outcome_day) then 1.0 else 0.0 end as expanded
from assignments a
left join marts.fct_account_health h0 on h0.account_id = a.account_id and h0.date_day = a.assigned_on
left join marts.fct_account_health h1 on h1.account_id = a.account_id and h1.date_day = a.outcome_day
"""


def _interval(treated: pd.Series, control: pd.Series, confidence: float) -> tuple[float | None, float | None]:
    if len(treated) < 2 or len(control) < 2:
        return None, None
    va, vb = treated.var(ddof=1) / len(treated), control.var(ddof=1) / len(control)
    se = math.sqrt(va + vb)
    diff = treated.mean() - control.mean()
    if se == 0:
        return diff, diff
    dof = (va + vb) ** 2 / ((va ** 2 / (len(treated) - 1) if va else 0) + (vb ** 2 / (len(control) - 1) if vb else 0))
    t = stats.t.ppf(0.5 + confidence / 2, dof)
    return diff - t * se, diff + t * se


def playbook_lift(con, session: Session, policy: Policy, as_of: date) -> pd.DataFrame:
    """One row per playbook and metric: counts, means, lift and its interval, and a status saying why not when
    outcomes are not known yet."""
    rows = [{"account_id": h.account_id, "playbook": h.playbook, "in_holdout": h.in_holdout,
             "assigned_on": h.assigned_on, "outcome_day": h.assigned_on + timedelta(days=policy.lift_outcome_days)}
            for h in session.scalars(select(HoldoutAssignment))]
    columns = ["playbook", "metric", "treated_n", "holdout_n", "treated_mean", "holdout_mean", "lift", "ci_low",
               "ci_high", "confidence", "pending_n", "status"]
    if not rows:
        return pd.DataFrame(columns=columns)
    assignments = pd.DataFrame(rows)
    known = assignments[assignments["outcome_day"] <= as_of]
    out = []
    if len(known):
        con.register("assignments", known)
        try:
            outcomes = con.execute(_OUTCOMES).df()
        finally:
            con.unregister("assignments")
    else:
        outcomes = pd.DataFrame(columns=["playbook", "in_holdout", *METRICS])
    for playbook in sorted(assignments["playbook"].unique()):
        pending = int(((assignments["playbook"] == playbook) & (assignments["outcome_day"] > as_of)).sum())
        mine = outcomes[outcomes["playbook"] == playbook]
        for metric in METRICS:
            treated = mine.loc[~mine["in_holdout"].astype(bool), metric].dropna().astype(float)
            control = mine.loc[mine["in_holdout"].astype(bool), metric].dropna().astype(float)
            low, high = _interval(treated, control, policy.lift_confidence)
            if not len(treated) and not len(control):
                status = f"outcomes not known yet ({pending} pending, {policy.lift_outcome_days} days each)"
            elif low is None:
                status = "too few accounts on a side for an interval"
            else:
                status = "known"
            out.append({"playbook": playbook, "metric": metric, "treated_n": len(treated), "holdout_n": len(control),
                        "treated_mean": treated.mean() if len(treated) else None,
                        "holdout_mean": control.mean() if len(control) else None,
                        "lift": treated.mean() - control.mean() if len(treated) and len(control) else None,
                        "ci_low": low, "ci_high": high, "confidence": policy.lift_confidence, "pending_n": pending,
                        "status": status})
    return pd.DataFrame(out, columns=columns)
