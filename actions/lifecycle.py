"""The alert lifecycle and the human decisions on plans: approve, reject, acknowledge, expire.

    held -> open -> notified -> acknowledged / approved / rejected / expired -> executed -> closed

Every move appends an `alert_events` row (who, when, note). Approving executes the plan at once: its internal tasks
and, for email playbooks, a customer email draft for the owner to review and send (csops never sends it).
Decisions are made in the operational database only, so they never wait for a pipeline run holding the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from csops.opdb.models import Action, Alert, AlertEvent, EmailDraft, Plan, PlanTask

AGENT = "agent"
ACTIVE = ("held", "open", "notified", "acknowledged", "approved")
DECIDED = ("rejected", "expired", "executed")  # closed by the next tick
MOVES = {
    "held": {"open", "closed"},
    "open": {"notified", "approved", "rejected", "closed", "held"},
    "notified": {"acknowledged", "approved", "rejected", "expired", "closed", "open"},  # open: escalated
    "acknowledged": {"approved", "rejected", "expired", "closed", "open"},
    "approved": {"executed"},
    "executed": {"closed"},
    "rejected": {"closed"},
    "expired": {"closed"},
    "closed": set(),
}


class LifecycleError(ValueError):
    """An unknown alert or a move the lifecycle does not allow; the message says which."""


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def move(session: Session, alert: Alert, to: str, by: str, at: datetime, note: str | None = None) -> None:
    if to not in MOVES[alert.status]:
        raise LifecycleError(f"alert {alert.id} is {alert.status}: it cannot become {to}")
    session.add(AlertEvent(alert_id=alert.id, from_status=alert.status, to_status=to, by=by, at=at, note=note))
    alert.status, alert.updated_at = to, at


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise LifecycleError(f"no alert with id {alert_id}")
    return alert


def _plan(session: Session, alert: Alert) -> Plan | None:
    return session.get(Plan, alert.plan_id) if alert.plan_id else None


def _decided(alert: Alert, plan: Plan | None) -> str:
    who = f" by {plan.decided_by} at {plan.decided_at:%Y-%m-%d %H:%M}" if plan and plan.decided_by else ""
    return f"alert {alert.id} is already {alert.status}{who}"


def _actions(session: Session, plan: Plan) -> list[Action]:
    return list(session.scalars(select(Action).where(Action.plan_id == plan.id)))


def approve(session: Session, alert_id: int, by: str, note: str | None = None, now: datetime | None = None) -> Outcome:
    """Approve the alert's plan and execute it. Approving an approved or executed alert changes nothing."""
    now = now or utcnow()
    alert = get_alert(session, alert_id)
    plan = _plan(session, alert)
    if alert.status in ("approved", "executed") or (alert.status == "closed" and plan and plan.status == "executed"):
        return Outcome(False, _decided(alert, plan) + ": nothing to do")
    if not by.strip():
        raise LifecycleError("approve needs --by NAME")
    move(session, alert, "approved", by, now, note)
    if plan is not None:
        plan.status, plan.decided_by, plan.decided_at, plan.reason = "approved", by, now, note
        _execute(session, alert, plan, now)
    move(session, alert, "executed", AGENT, now, "plan executed: internal tasks created"
         + (", email draft waiting for review" if plan and _draft_needed(plan) else ""))
    return Outcome(True, f"alert {alert.id} approved by {by} and executed")


def _draft_needed(plan: Plan) -> bool:
    return plan.evidence.get("channel") == "email_draft"


def _execute(session: Session, alert: Alert, plan: Plan, now: datetime) -> None:
    """The approved plan's internal tasks and (email playbooks) a draft for its owner to review and send."""
    plan.status = "executed"
    today = alert.as_of_date
    due = today + timedelta(days=int(plan.evidence.get("due_in_days", 7)))
    session.add(PlanTask(plan_id=plan.id, account_id=alert.account_id, owner=alert.owner,
                         title=plan.evidence.get("action", plan.playbook), due_on=due, created_at=now))
    if _draft_needed(plan):
        session.add(PlanTask(plan_id=plan.id, account_id=alert.account_id, owner=alert.owner,
                             title="Review, edit and send the customer email draft", due_on=due, created_at=now))
        name = plan.evidence.get("account_name") or alert.account_id
        session.add(EmailDraft(
            plan_id=plan.id, account_id=alert.account_id, reviewer=alert.owner,
            subject=f"{name}: {plan.evidence.get('title', plan.playbook)}",
            body=(f"Hello,\n\nFollowing our recent work together, we would like to propose: "
                  f"{plan.evidence.get('action', plan.playbook).lower()}.\n\nCould we find 30 minutes in the next "
                  f"two weeks to go through it?\n\nBest regards,\n{alert.owner}\n\n"
                  "[Draft by csops for review: edit before sending; no commitments on pricing or terms.]"),
            created_at=now))
    for action in _actions(session, plan):
        if action.status == "awaiting_approval":  # its work is now the plan's tasks
            action.status, action.updated_at = "executed", now


def reject(session: Session, alert_id: int, by: str, reason: str, now: datetime | None = None) -> Outcome:
    """Reject the alert's plan with a reason: the next tick re-plans without this playbook until its cooldown ends."""
    now = now or utcnow()
    if not reason or not reason.strip():
        raise LifecycleError("reject needs --reason")
    alert = get_alert(session, alert_id)
    plan = _plan(session, alert)
    if alert.status == "rejected" or (alert.status == "closed" and plan and plan.status == "rejected"):
        return Outcome(False, _decided(alert, plan) + ": nothing to do")
    move(session, alert, "rejected", by, now, reason)
    if plan is not None:
        plan.status, plan.decided_by, plan.decided_at, plan.reason = "rejected", by, now, reason
        for action in _actions(session, plan):
            action.status, action.updated_at = "rejected", now
    return Outcome(True, f"alert {alert.id} rejected by {by}: {reason}")


def acknowledge(session: Session, alert_id: int, by: str, note: str | None = None,
                now: datetime | None = None) -> Outcome:
    now = now or utcnow()
    alert = get_alert(session, alert_id)
    if alert.status == "acknowledged":
        return Outcome(False, f"alert {alert.id} is already acknowledged: nothing to do")
    move(session, alert, "acknowledged", by, now, note)
    return Outcome(True, f"alert {alert.id} acknowledged by {by}")


def expire_due(session: Session, today: date, now: datetime) -> int:
    """Plans nobody decided on before they expired: the plan, its alert and its actions become expired."""
    count = 0
    for plan in session.scalars(select(Plan).where(Plan.status == "pending", Plan.expires_on < today)):
        plan.status, plan.decided_by, plan.decided_at = "expired", AGENT, now
        plan.reason = f"no decision by {plan.expires_on}"
        for alert in session.scalars(select(Alert).where(Alert.plan_id == plan.id)):
            if "expired" in MOVES[alert.status]:
                move(session, alert, "expired", AGENT, now, plan.reason)
        for action in _actions(session, plan):
            action.status, action.updated_at = "expired", now
        count += 1
    return count
