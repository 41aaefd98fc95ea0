"""Risk alerts of a tick: one per account and risk kind while active (dedup key `account:kind`), raised when a risk
appears or escalates, held back on stale inputs, notified within each owner's weekly budget (the rest: digest)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from actions.lifecycle import ACTIVE, AGENT, DECIDED, move
from actions.playbook import RISK_KINDS, SEVERITIES, Playbook
from csops.opdb.models import Action, Alert, AlertEvent, Plan

# Signals every alert carries besides its playbooks' triggers: the model's view and the data's day.
CONTEXT_SIGNALS = ("account_name", "segment", "churn_probability", "churn_band", "churn_reasons", "score_as_of_date",
                   "active_arr", "days_to_renewal")


def _severity(name: str) -> int:
    return SEVERITIES.index(name)


def evidence(books: list[Playbook], s: dict, input_age: int) -> dict:
    signals = {name: s.get(name) for name in CONTEXT_SIGNALS}
    for book in books:
        signals.update(book.evidence(s))
    return {"signals": signals, "playbooks": [b.name for b in books], "input_age_days": input_age}


def input_age(tick, s: dict) -> int:
    day = s.get("score_as_of_date")
    return (tick.today - date.fromisoformat(day)).days if day else 10**6


def close_decided(tick) -> None:
    """Alerts decided since the last tick (executed, rejected, expired) close; the next step re-plans."""
    for key, alert in list(tick.alerts.items()):
        if alert.status in DECIDED:
            move(tick.session, alert, "closed", AGENT, tick.now,
                 f"{alert.status}: closed; {alert.playbook} is not proposed again within its cooldown")
            del tick.alerts[key]
            tick.result.alerts_closed += 1


def _retire_plan(tick, plan_id: int | None, status: str) -> None:
    plan = tick.session.get(Plan, plan_id) if plan_id else None
    if plan is not None and plan.status in ("pending", "active"):
        plan.status = status
        for action in tick.session.scalars(select(Action).where(Action.plan_id == plan.id)):
            if action.status in ("queued", "deferred", "awaiting_approval"):
                action.status, action.updated_at = status, tick.now


def _open_plan(tick, alert: Alert, book: Playbook, s: dict) -> None:
    plan = tick.propose_plan(s["account_id"], book, "save" if book.severity == "critical" else "mitigation", s)
    alert.plan_id, alert.playbook, alert.owner = plan.id, book.name, tick.owner(book, s)
    tick.ensure_action(s["account_id"], book, s, plan=plan)


def raise_alerts(tick, signals: list[dict]) -> None:
    for s in signals:
        account = s["account_id"]
        active = s["contract_status"] != "churned"
        age = input_age(tick, s)
        stale = age > tick.policy.stale_input_days
        for kind in RISK_KINDS:
            key = f"{account}:{kind}"
            alert = tick.alerts.get(key)
            books = sorted((b for b in tick.books.values() if b.risk_kind == kind and active and b.triggered(s)),
                           key=lambda b: (-_severity(b.severity), b.priority, b.name))
            if not books:
                if alert is not None:
                    _retire_plan(tick, alert.plan_id, "superseded")
                    move(tick.session, alert, "closed", AGENT, tick.now, "risk cleared")
                    del tick.alerts[key]
                    tick.result.alerts_closed += 1
                continue
            severity = books[0].severity
            pick = next((b for b in books if (alert is not None and alert.playbook == b.name)
                         or (not tick.in_cooldown(account, b) and not tick.held_out(account, b))), None)
            proof = evidence(books, s, age)
            if alert is None:
                if pick is None:
                    tick.result.alerts_suppressed += 1
                    continue
                alert = Alert(dedup_key=key, account_id=account, kind=kind, severity=severity, playbook=pick.name,
                              owner=tick.owner(pick, s), evidence=proof, as_of_date=tick.as_of,
                              status="held" if stale else "open", raised_on=tick.as_of, created_at=tick.now,
                              updated_at=tick.now)
                tick.session.add(alert)
                tick.session.flush()
                tick.alerts[key] = alert
                tick.session.add(AlertEvent(alert_id=alert.id, from_status=None, to_status=alert.status, by=AGENT,
                                            at=tick.now, note=f"{severity} {kind}: {pick.title}"
                                            + (f" (held: inputs {age} days old)" if stale else "")))
                if not stale:
                    _open_plan(tick, alert, pick, s)
                    tick.result.alerts_raised += 1
                continue
            if _severity(severity) > _severity(alert.severity):
                note = f"escalated from {alert.severity} to {severity}"
                if pick is not None and pick.name != alert.playbook and alert.status != "held":
                    _retire_plan(tick, alert.plan_id, "superseded")
                    _open_plan(tick, alert, pick, s)
                    note += f": {pick.title}"
                alert.severity = severity
                if alert.status in ("notified", "acknowledged"):
                    move(tick.session, alert, "open", AGENT, tick.now, note)
                tick.result.alerts_escalated += 1
            if alert.evidence != proof or alert.as_of_date != tick.as_of:
                alert.evidence, alert.as_of_date, alert.updated_at = proof, tick.as_of, tick.now
            if alert.status == "held" and not stale:
                move(tick.session, alert, "open", AGENT, tick.now, "inputs fresh again")
                if pick is not None:
                    _open_plan(tick, alert, pick, s)
                tick.result.alerts_raised += 1
            elif alert.status == "open" and stale:
                move(tick.session, alert, "held", AGENT, tick.now, f"held: inputs {age} days old")
            elif alert.plan_id and alert.status in ACTIVE:
                plan = tick.session.get(Plan, alert.plan_id)
                book = tick.books.get(alert.playbook)
                if book is not None and plan.status in ("pending", "active"):
                    tick.ensure_action(account, book, s, plan=plan)
    held = [a for a in tick.alerts.values() if a.status == "held"]
    tick.result.alerts_held = len(held)
    tick.result.held_accounts = sorted(a.account_id for a in held)


def notify(tick) -> None:
    """Open alerts become notified: to the owner within the weekly budget (most severe first), the rest in the
    owner's digest. Nothing is dropped."""
    from actions.tick import iso_week

    week = iso_week(tick.today)
    used = dict(tick.session.execute(
        select(Alert.owner, func.count()).where(Alert.notified_week == week, Alert.delivery == "notify")
        .group_by(Alert.owner)).all())
    pending = sorted((a for a in tick.alerts.values() if a.status == "open"),
                     key=lambda a: (-_severity(a.severity), -(a.evidence["signals"].get("active_arr") or 0), a.id))
    for alert in pending:
        within = used.get(alert.owner, 0) < tick.policy.alerts_per_owner_per_week
        alert.delivery, alert.notified_week = ("notify" if within else "digest"), week
        used[alert.owner] = used.get(alert.owner, 0) + within
        move(tick.session, alert, "notified", AGENT, tick.now, "notified" if within else
             f"in the weekly digest: {tick.policy.alerts_per_owner_per_week} alerts already notified this week")
        tick.result.alerts_notified += within
        tick.result.alerts_digest += not within
