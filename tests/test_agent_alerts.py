"""Risk alerts: dedup, escalation, stale inputs held back, the weekly budget with its digest, and the lifecycle of
human decisions (approve, reject with re-planning, expire), with who and when for every move."""

from __future__ import annotations

from datetime import timedelta

import pytest
from agent_world import DAY, HIGH_RISK, World, tick
from sqlalchemy import select

from actions import lifecycle
from actions.policy import load_policy
from actions.signals import verify_evidence
from actions.tick import run_tick
from csops.opdb import open_opdb, sessions
from csops.opdb.models import Action, Alert, AlertEvent, EmailDraft, Plan, PlanTask

RENEWAL_RISK = {**HIGH_RISK, "days_to_renewal": 60}  # both the business review and the mitigation plan trigger




def alerts(session, kind: str | None = None) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    return list(session.scalars(query.where(Alert.kind == kind) if kind else query))


def events(session, alert: Alert) -> list[tuple]:
    return [(e.from_status, e.to_status, e.by) for e in
            session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id))]


def test_one_alert_per_account_and_kind_raised_once_while_the_risk_lasts_and_closed_when_it_clears(session):
    world = World().add("R1", **HIGH_RISK)
    first = tick(world, session)
    assert first.alerts_raised == 1
    for days in (1, 2, 3):
        assert tick(world.set("R1", churn_probability=0.3 + days / 100), session,
                    day=DAY + timedelta(days=days)).alerts_raised == 0
    (alert,) = alerts(session)
    assert alert.dedup_key == "R1:churn_risk" and alert.evidence["signals"]["churn_probability"] == 0.33
    assert alert.as_of_date == DAY + timedelta(days=3)  # evidence follows the data
    tick(world.set("R1", churn_band="low", churn_probability=0.05), session, day=DAY + timedelta(days=4))
    assert alerts(session)[0].status == "closed" and events(session, alert)[-1] == ("notified", "closed", "agent")


def test_alerts_on_stale_inputs_are_held_reported_and_released_when_fresh(session):
    world = World().add("R1", **HIGH_RISK).add("A1")
    result = tick(world, session, today=DAY + timedelta(days=10))  # scores 10 days old, policy allows 3
    assert (result.alerts_held, result.alerts_raised, result.held_accounts) == (1, 0, ["R1"])
    (alert,) = alerts(session)
    assert alert.status == "held" and alert.plan_id is None and alert.evidence["input_age_days"] == 10
    fresh = tick(world, session, day=DAY + timedelta(days=10))
    assert (fresh.alerts_held, fresh.alerts_raised) == (0, 1)
    assert alerts(session)[0].status == "notified" and alerts(session)[0].plan_id is not None


def test_the_weekly_budget_notifies_the_most_severe_first_and_puts_the_rest_in_the_digest(session):
    policy = load_policy().replace(alerts_per_owner_per_week=2, holdout_share=0.0)
    world = World()
    for i in range(5):
        world.add(f"R{i}", **HIGH_RISK, active_arr_amount=10_000.0 * (i + 1))
    world.add("M1", is_erratic=True, active_arr_amount=500_000.0)  # low severity despite the largest ARR
    world.add("X1", churn_probability=0.8, churn_band="high", churn_percentile=0.99)  # the CS director's
    result = tick(world, session, policy=policy)
    assert (result.alerts_notified, result.alerts_digest) == (3, 4)
    delivered = {(a.account_id, a.kind): (a.owner, a.delivery) for a in alerts(session)}
    assert delivered == {("R4", "churn_risk"): ("csm_ann", "notify"), ("R3", "churn_risk"): ("csm_ann", "notify"),
                         ("R2", "churn_risk"): ("csm_ann", "digest"), ("R1", "churn_risk"): ("csm_ann", "digest"),
                         ("R0", "churn_risk"): ("csm_ann", "digest"), ("M1", "mura"): ("csm_ann", "digest"),
                         ("X1", "churn_risk"): ("CS Director", "notify")}
    assert all(a.status == "notified" for a in alerts(session))  # nothing dropped: the digest is a delivery


def test_approve_executes_the_plan_into_tasks_and_an_email_draft_and_approving_twice_is_a_no_op(session):
    world = World().add("R1", **HIGH_RISK)
    tick(world, session)
    (alert,) = alerts(session)
    outcome = lifecycle.approve(session, alert.id, by="maria", note="go")
    session.commit()
    assert outcome.changed and alert.status == "executed"
    plan = session.get(Plan, alert.plan_id)
    assert (plan.status, plan.decided_by) == ("executed", "maria")
    assert len(session.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id)).all()) == 2
    draft = session.scalars(select(EmailDraft)).one()
    assert draft.status == "draft" and draft.reviewer == "csm_ann" and "pricing" in draft.body
    assert events(session, alert)[-2:] == [("notified", "approved", "maria"), ("approved", "executed", "agent")]
    again = lifecycle.approve(session, alert.id, by="maria")
    assert not again.changed and "already executed by maria" in again.message
    with pytest.raises(lifecycle.LifecycleError, match="cannot become rejected"):
        lifecycle.reject(session, alert.id, by="bob", reason="late")
    with pytest.raises(lifecycle.LifecycleError, match="no alert with id 999"):
        lifecycle.approve(session, 999, by="maria")
    tick(world, session, day=DAY + timedelta(days=1))
    assert alert.status == "closed"


def test_a_rejection_makes_the_next_tick_re_plan_without_re_proposing_within_the_cooldown(session):
    world = World().add("R1", **RENEWAL_RISK)
    tick(world, session, policy=load_policy().replace(holdout_share=0.0))
    (alert,) = alerts(session)
    assert alert.playbook == "executive_business_review"
    lifecycle.reject(session, alert.id, by="maria", reason="sponsor on leave")
    session.commit()
    assert session.get(Plan, alert.plan_id).reason == "sponsor on leave"
    tick(world, session, day=DAY + timedelta(days=1), policy=load_policy().replace(holdout_share=0.0))
    first, second = alerts(session)
    assert first.status == "closed" and second.status == "notified"
    assert second.playbook == "risk_mitigation_plan"  # re-planned with the next playbook of the kind
    lifecycle.reject(session, second.id, by="maria", reason="not now")
    session.commit()
    result = tick(world, session, day=DAY + timedelta(days=2), policy=load_policy().replace(holdout_share=0.0))
    assert len(alerts(session)) == 2 and result.alerts_suppressed == 1  # both playbooks in their cooldown
    tick(world, session, day=DAY + timedelta(days=31), policy=load_policy().replace(holdout_share=0.0))
    assert [a.playbook for a in alerts(session)][-1] == "risk_mitigation_plan"  # its 30-day cooldown is over


def test_plans_nobody_decides_on_expire_and_are_recorded_as_expired(session):
    world = World().add("R1", **HIGH_RISK)
    tick(world, session)
    (alert,) = alerts(session)
    result = tick(world, session, day=DAY + timedelta(days=8))
    assert result.plans_expired == 1
    plan = session.get(Plan, alert.plan_id)
    assert (plan.status, plan.decided_by) == ("expired", "agent")
    assert ("notified", "expired", "agent") in events(session, alert)
    actions = session.scalars(select(Action).where(Action.plan_id == plan.id)).all()
    assert {a.status for a in actions} == {"expired"}
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.approve(session, alert.id, by="late")


def test_every_alert_s_evidence_is_rebuilt_from_the_marts_and_a_tampered_figure_is_caught(session):
    world = World().add("R1", **HIGH_RISK, days_to_renewal=40).add("M1", unused_seat_share=0.8,
                                                                  unused_seat_cost_per_year=20_000.0, is_erratic=True)
    con = world.write()
    run_tick(con, session)
    rows = [{"id": a.id, "account_id": a.account_id, "as_of_date": a.as_of_date, "evidence": a.evidence}
            for a in alerts(session)]
    assert len(rows) >= 3 and verify_evidence(con, rows) == []
    rows[0]["evidence"] = {"signals": {**rows[0]["evidence"]["signals"], "churn_probability": 0.99}}
    assert "churn_probability is 0.99 in the alert" in verify_evidence(con, rows)[0]


def test_decisions_and_re_planning_work_the_same_on_sqlite_and_postgresql(opdb_url):
    engine = open_opdb(opdb_url)
    world = World().add("R1", **RENEWAL_RISK).add("X1", churn_probability=0.9, churn_band="high",
                                                  churn_percentile=0.99)
    policy = load_policy().replace(holdout_share=0.0)
    with sessions(engine)() as session:
        tick(world, session, policy=policy)
        review, save = (session.scalars(select(Alert).where(Alert.account_id == a)).one() for a in ("R1", "X1"))
        assert lifecycle.approve(session, save.id, by="maria").changed
        assert lifecycle.reject(session, review.id, by="maria", reason="sponsor on leave").changed
        session.commit()
        tick(world, session, day=DAY + timedelta(days=1), policy=policy)
        assert [a.playbook for a in alerts(session, "churn_risk") if a.account_id == "R1"] == [
            "executive_business_review", "risk_mitigation_plan"]
        assert session.scalars(select(EmailDraft)).one().account_id == "X1"
