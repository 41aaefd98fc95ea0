"""The account agent's alerts as the Slack delivery sees them, and the buttons' decisions: the same operational
database and the same lifecycle functions as `csops alerts approve|reject`. The defaults of `SlackConfig`.

The agent's tick decides who is notified (within each owner's weekly budget; the rest go to the owner's digest) and
moves those alerts to `notified`; this feed hands them to the outbox, whose keys carry the severity, so an escalation
posts again and a re-run posts nothing twice."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.lifecycle import AGENT, approve, reject, utcnow
from csops.opdb import open_opdb, sessions
from csops.opdb.models import Alert, AlertEvent, Plan
from csops.settings import Settings
from delivery.slack.blocks import AlertMessage

POSTED_NOTE = "posted to Slack"


def message(alert: Alert, plan: Plan | None) -> AlertMessage:
    signals = alert.evidence.get("signals", {})
    days = signals.get("days_to_renewal")
    reasons = tuple(signals.get("churn_reasons") or ()) or (f"{alert.kind.replace('_', ' ')} ({alert.playbook})",)
    if signals.get("voice_quote"):  # customer-written: escaped with every reason by the blocks (delivery/slack)
        reasons = (f"Customer wrote: \u201c{signals['voice_quote']}\u201d", *reasons)
    return AlertMessage(
        alert_id=str(alert.id), dedup_key=alert.dedup_key, account_id=alert.account_id,
        account_name=signals.get("account_name") or alert.account_id, arr=float(signals.get("active_arr") or 0),
        renewal_date=alert.as_of_date + timedelta(days=int(days)) if days is not None else None,
        severity=alert.severity, kind=alert.kind, reasons=reasons[:3], playbook=alert.playbook,
        as_of=alert.as_of_date, owner=alert.owner, segment=signals.get("segment") or "",
        needs_decision=plan is not None and plan.status == "pending")


class AgentAlertFeed:
    """Reads the operational database named by the settings (lazily: the sensor's process may start before it)."""

    def __init__(self, url: str | None = None) -> None:
        self._url = url

    @cached_property
    def _sessions(self):
        return sessions(open_opdb(self._url or Settings.from_env().opdb_url))

    def _messages(self, statuses: tuple[str, ...], notify_only: bool) -> list[AlertMessage]:
        with self._sessions() as session:
            query = select(Alert).where(Alert.status.in_(statuses))
            if notify_only:
                query = query.where(Alert.delivery == "notify")
            return [message(alert, session.get(Plan, alert.plan_id) if alert.plan_id else None)
                    for alert in session.scalars(query.order_by(Alert.id))]

    def pending_alerts(self) -> list[AlertMessage]:
        """Alerts the agent notified within the owners' budgets (the outbox skips what it already holds)."""
        return self._messages(("notified",), notify_only=True)

    def open_alerts(self) -> list[AlertMessage]:
        """Every alert still waiting on a person, for the owners' daily digests (over-budget ones included)."""
        return self._messages(("notified", "acknowledged"), notify_only=False)

    def notified(self, alert_id: str) -> None:
        """Record the post in the alert's history, once (called from the deliverer's worker threads)."""
        with self._sessions() as session, session.begin():
            alert = session.get(Alert, int(alert_id), with_for_update=True)
            if alert is None or session.scalar(select(AlertEvent.id).where(
                    AlertEvent.alert_id == alert.id, AlertEvent.note == POSTED_NOTE)):
                return
            session.add(AlertEvent(alert_id=alert.id, from_status=alert.status, to_status=alert.status, by=AGENT,
                                   at=utcnow(), note=POSTED_NOTE))


agent_feed = AgentAlertFeed()


def decide(alert_id: str, decision: str, by: str, reason: str | None = None) -> str:
    """A button's decision through the CLI's own functions; raises the agent's one-line error when it is refused."""
    engine = open_opdb(Settings.from_env().opdb_url)
    try:
        with Session(engine) as session, session.begin():
            outcome = (approve(session, int(alert_id), by, reason) if decision == "approve"
                       else reject(session, int(alert_id), by, reason or ""))
        return outcome.message
    finally:
        engine.dispose()

