"""The account agent's graph on a tiny real DuckDB warehouse: every branch of the phase router, the history of why
each account is where it is, and the idempotent daily tick (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from agent_world import CRITICAL, DAY, HIGH_RISK, World, tick
from sqlalchemy import inspect, select

from actions.tick import run_tick
from csops.opdb import open_opdb, sessions
from csops.opdb.models import AccountState, Action, Alert, AlertEvent, Plan, Postmortem, StateTransition, metadata




def state(session, account: str) -> AccountState:
    return session.get(AccountState, account)


def history(session, account: str) -> list[StateTransition]:
    return list(session.scalars(select(StateTransition).where(StateTransition.account_id == account)
                                .order_by(StateTransition.id)))


def test_a_healthy_account_gets_a_success_plan_and_reaches_the_queue_with_its_reason(session):
    world = World().add("A1")
    tick(world, session)
    st = state(session, "A1")
    assert (st.stage, st.gate, st.open_plan_kind, st.open_plan_status) == ("queue", None, "success", "active")
    (first,) = history(session, "A1")
    assert first.from_stage is None and first.to_stage == "queue" and "no risk detected" in first.reason
    assert first.evidence["diagnostic"] == {"champion_present": True, "sponsor_present": True,
                                            "pain_documented": True, "value_measured": True}


def test_missing_handoff_fields_hold_the_gate_one_task_per_field_then_escalate_then_release(session):
    world = World().add("N1", is_new_account=True, phase_number=1, handoff=["champion", "success_criteria"])
    tick(world, session)
    st = state(session, "N1")
    assert (st.stage, st.gate, st.missing, st.escalated) == ("fetch_missing_anchors", "data_ready",
                                                             ["champion", "success_criteria"], False)
    tasks = session.scalars(select(Action).where(Action.account_id == "N1")).all()
    assert sorted(t.evidence["item"] for t in tasks) == ["champion", "success_criteria"]
    assert all(t.playbook == "fetch_missing_anchors" and t.status == "queued" for t in tasks)

    tick(world.set("N1", handoff=["champion"]), session, day=DAY + timedelta(days=5))  # the loop re-audits
    assert state(session, "N1").missing == ["champion"] and not state(session, "N1").escalated
    statuses = {a.evidence["item"]: a.status for a in session.scalars(select(Action).where(Action.account_id == "N1"))}
    assert statuses == {"champion": "queued", "success_criteria": "resolved"}

    tick(world, session, day=DAY + timedelta(days=14))  # stuck 14 days at the gate: escalation to the manager
    st = state(session, "N1")
    assert st.escalated and st.stage_since == DAY
    assert "escalated to CS Director" in history(session, "N1")[-1].reason
    escalation = session.scalars(select(Action).where(Action.owner == "CS Director")).one()
    assert "stuck 14 days" in escalation.title

    tick(world.set("N1", handoff=[]), session, day=DAY + timedelta(days=15))  # data ready: on to the diagnostic
    assert state(session, "N1").stage == "queue"
    assert [t.to_stage for t in history(session, "N1")][-1] == "queue"


def test_high_risk_drafts_a_mitigation_plan_awaiting_approval_and_critical_risk_a_save_play(session):
    world = World().add("R1", **HIGH_RISK)
    tick(world, session)
    st = state(session, "R1")
    assert (st.stage, st.gate, st.open_plan_kind, st.open_plan_status) == ("risk_mitigation", "approval",
                                                                           "mitigation", "pending")
    alert = session.scalars(select(Alert).where(Alert.kind == "churn_risk")).one()
    assert (alert.severity, alert.playbook, alert.status) == ("high", "risk_mitigation_plan", "notified")

    tick(world.set("R1", **CRITICAL), session, day=DAY + timedelta(days=1))
    st = state(session, "R1")
    assert (st.stage, st.open_plan_kind, st.open_plan_status) == ("save_play", "save", "pending")
    same = session.scalars(select(Alert).where(Alert.kind == "churn_risk")).one()  # escalated, not a second alert
    assert same.id == alert.id and (same.severity, same.playbook) == ("critical", "save_plan")
    notes = [e.note for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id))]
    assert any(n and n.startswith("escalated from high to critical") for n in notes)
    plans = {p.playbook: p.status for p in session.scalars(select(Plan).where(Plan.account_id == "R1"))}
    assert plans["risk_mitigation_plan"] == "superseded" and plans["save_plan"] == "pending"


def test_a_churned_account_gets_a_post_mortem_with_its_root_cause_and_a_win_back_returns_it_to_phase_one(session):
    churn_day = DAY - timedelta(days=10)
    world = World().add("A0").add("C1", contract_status="churned", phase_number=11, last_churn_date=churn_day,
                        is_winback_eligible=True, champion_left_90d=True)
    tick(world, session)
    st = state(session, "C1")
    assert (st.stage, st.gate) == ("post_mortem", "win_back")
    pm = session.scalars(select(Postmortem)).one()
    assert (pm.account_id, pm.churn_date, pm.root_cause, pm.winback_eligible) == ("C1", churn_day, "champion_lost",
                                                                                  True)
    assert pm.evidence["champion_left_90d"] is True
    winback = session.scalars(select(Action).where(Action.account_id == "C1")).one()
    assert winback.playbook == "postmortem_winback" and "win-back eligible" in winback.title

    world.set("C1", contract_status="active", phase_number=1, last_churn_date=churn_day, champion_left_90d=False)
    tick(world, session, day=DAY + timedelta(days=30))
    moves = [(t.from_stage, t.to_stage, t.to_phase) for t in history(session, "C1")]
    assert moves[-2] == ("post_mortem", "handoff_audit", 1) and moves[-1][1] == "queue"
    assert "won back" in history(session, "C1")[-2].reason


@pytest.mark.parametrize("cause, values", [
    ("poor_support", {"is_support_spike": True}),
    ("low_usage", {"seat_utilization": 0.2}),
    ("pricing", {"price_increase_on": DAY - timedelta(days=100)}),
    ("competition", {}),
])
def test_root_cause_follows_the_evidence_of_the_last_active_day(session, cause, values):
    world = World().add("A0").add("C2", contract_status="churned", last_churn_date=DAY - timedelta(days=3), **values)
    tick(world, session)
    assert session.scalars(select(Postmortem)).one().root_cause == cause


def _snapshot(engine) -> dict:
    with engine.connect() as connection:
        return {name: sorted(tuple(map(repr, row)) for row in connection.execute(table.select()))
                for name, table in metadata.tables.items()}


def test_rerunning_a_tick_on_unchanged_data_changes_nothing(opdb_url):
    engine = open_opdb(opdb_url)
    world = (World().add("A1").add("R1", **HIGH_RISK).add("X1", **CRITICAL, csm_owner="csm_bo")
             .add("M1", unused_seat_share=0.7, unused_seat_cost_per_year=30_000.0, days_to_renewal=90,
                  is_erratic=True)
             .add("N1", is_new_account=True, handoff=["champion"])
             .add("C1", contract_status="churned", last_churn_date=DAY - timedelta(days=5)))
    with sessions(engine)() as session:
        first = tick(world, session)
    assert first.transitions == 6 and first.alerts_raised >= 4
    before = _snapshot(engine)
    with sessions(engine)() as session:
        again = tick(world, session)
    assert _snapshot(engine) == before
    assert again.transitions == again.alerts_raised == again.actions_created == again.plans_proposed == 0
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)


def test_a_tick_before_any_score_does_nothing_and_says_why(session):
    world = World().add("A1")
    con = world.write()
    con.execute("delete from ml.churn_scores")
    result = run_tick(con, session)
    assert result.accounts == 0 and "ml.churn_scores is empty" in result.note
    assert session.scalars(select(AccountState)).all() == []
