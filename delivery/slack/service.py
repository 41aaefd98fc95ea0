"""One delivery tick (what the Dagster sensor runs): queue new and escalated alerts, once a day each owner's queue,
then drain the outbox for a bounded time. Reads only the operational database and Slack: never the warehouse."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from delivery.slack.blocks import AlertMessage
from delivery.slack.outbox import DeliveryReport, EnqueueReport, Outbox, OutboxMessage
from delivery.slack.routing import Routing


class AlertFeed(Protocol):
    """What the account agent provides (wired at merge): alerts due for delivery, each owner's open queue, and the
    lifecycle step after a message is recorded as sent (open -> notified)."""

    def pending_alerts(self) -> list[AlertMessage]: ...

    def open_alerts(self) -> list[AlertMessage]: ...

    def notified(self, alert_id: str) -> None: ...  # idempotent


def load_feed(path: str) -> AlertFeed:
    """`module:attribute` -> the feed object; a clear one-line error when it cannot be found."""
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"alert feed {path!r} not found ({error}); expected module:attribute") from None


@dataclass
class TickReport:
    enqueued: EnqueueReport
    owner_digests: int
    delivery: DeliveryReport
    feed: bool = True

    def line(self) -> str:
        e = self.enqueued
        if not self.feed:
            return f"no alert feed configured (CSOPS_SLACK_ALERT_FEED); delivery: {self.delivery.line()}"
        return (f"queued {e.new} alerts ({e.already} already queued, {e.digested} in {e.digests} digests), "
                f"{self.owner_digests} owner digests; delivery: {self.delivery.line()}")


def tick(outbox: Outbox, routing: Routing, transport, feed: AlertFeed | None, now: datetime | None = None,
         budget_seconds: float = 20.0) -> TickReport:
    """`feed` None: only drain what is already queued."""
    now = now or datetime.now(timezone.utc)
    enqueued = outbox.enqueue_alerts(feed.pending_alerts(), routing) if feed else EnqueueReport()
    owner_digests = 0
    if feed and now.hour >= routing.daily_digest_hour_utc:
        owner_digests = outbox.enqueue_owner_digests(feed.open_alerts(), routing, now.date())

    def sent(row: OutboxMessage) -> None:
        # An alert reached someone, alone or in a digest (called once per destination: `notified` is idempotent).
        for alert_id in [row.alert_id] if row.kind == "alert" else outbox.digested_alert_ids(row.key):
            feed.notified(alert_id)

    delivery = outbox.deliver(transport, budget_seconds=budget_seconds, on_sent=sent)
    return TickReport(enqueued, owner_digests, delivery, feed is not None)
