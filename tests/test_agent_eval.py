"""The agent's measurements (lab/agent_eval.py) on hand-made backtests: what counts as a true critical alert, a
churner warned 60 days ahead, an owner's weekly load, and a found missing handoff field."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from agent_world import DAY, World

from actions.tick import run_tick
from csops.opdb import open_opdb, sessions
from lab.agent_eval import Backtest, alert_figures, handoff_figures

D0 = date(2026, 1, 5)


def truth(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"account_id": a, "churn_date": c, "contraction_dates": k} for a, c, k in rows])


def test_precision_counts_critical_alerts_followed_by_churn_or_contraction_within_90_days():
    bt = Backtest(ticks=[D0, D0 + timedelta(days=7)],
                  criticals=[(D0, "A"), (D0, "B"), (D0, "C"), (D0 + timedelta(days=7), "D")],
                  scored=[(D0, a) for a in "ABCDEF"])
    accounts = truth([("A", D0 + timedelta(days=30), []), ("B", None, [D0 + timedelta(days=80)]),
                      ("C", D0 + timedelta(days=120), []), ("D", None, [])])
    figures = alert_figures(bt, accounts, end=D0 + timedelta(days=95), out_of_sample_from=D0)
    # D's outcome window ends after the data: not counted; C churns too late: a false alarm
    assert figures["precision_all_ticks"] == {"critical_alerts": 3, "true": 2, "precision": 0.667}
    assert figures["base_rate_all_ticks"] == round(2 / 6, 3)
    assert figures["precision_out_of_sample"]["critical_alerts"] == 0


def test_recall_needs_an_active_alert_60_to_180_days_before_the_churn():
    ticks = [D0 + timedelta(weeks=w) for w in range(30)]
    churn_a, churn_b, churn_c = ticks[0] + timedelta(days=100), ticks[0] + timedelta(days=150), ticks[29]
    bt = Backtest(ticks=ticks, active=[
        (ticks[0], "A", "churn_risk", "high"),  # 100 days ahead: warned
        (ticks[18], "B", "churn_risk", "critical"),  # 24 days ahead: too late
        (ticks[2], "C", "muda", "medium"),  # any kind counts for the second figure only
    ], notified=[(ticks[0], "ann", "notify"), (ticks[0], "ann", "notify"), (ticks[0], "ann", "digest"),
                 (ticks[1], "bo", "notify")])
    accounts = truth([("A", churn_a, []), ("B", churn_b, []), ("C", churn_c, []), ("Z", None, [])])
    figures = alert_figures(bt, accounts, end=ticks[29], out_of_sample_from=None)
    assert figures["recall_churn_risk_alerts"] == {"churners": 3, "alerted_60d_ahead": 1, "recall": 0.333}
    assert figures["recall_any_alert"]["alerted_60d_ahead"] == 1  # C's alert is 189 days ahead: too early
    load = figures["alerts_per_owner_per_week"]
    assert (load["owners"], load["weeks"], load["max_notified"]) == (2, 30, 2)
    assert load["mean_notified"] == round(3 / 60, 2) and load["mean_digest"] == round(1 / 60, 2)


def test_handoff_precision_and_recall_compare_the_agent_s_missing_fields_with_the_truth(tmp_path):
    engine = open_opdb(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    world = World().add("N1", handoff=["champion", "use_cases"], is_new_account=True).add("N2", handoff=[])
    with sessions(engine)() as session:
        run_tick(world.write(DAY), session)
        session.commit()
        planned = pd.DataFrame([{"account_id": a, "field": f, "present": not missing}
                                for a, f, missing in [("N1", "champion", True), ("N1", "use_cases", False),
                                                      ("N1", "pain_points", True), ("N2", "champion", False)]])
        figures = handoff_figures(session, planned)
    # found champion (true) and use_cases (planned present: a false positive); pain_points missed
        only_n2 = handoff_figures(session, planned, audited={"N2"})
    assert figures == {"accounts": 2, "truly_missing": 2, "found_missing": 2, "precision": 0.5, "recall": 0.5}
    assert only_n2 == {"accounts": 1, "truly_missing": 0, "found_missing": 0, "precision": None, "recall": None}
