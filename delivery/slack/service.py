"""One delivery tick (what the Dagster sensor runs): queue new and escalated alerts, once a day each owner's queue,
then drain the outbox for a bounded time. Reads only the operational database and Slack: never the warehouse."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from csops.settings import Settings

from delivery.slack.blocks import AlertMessage
from delivery.slack.outbox import DeliveryReport, EnqueueReport, Outbox, OutboxMessage
from delivery.slack.routing import DEFAULT_ROUTING, Routing


# The account agent's alerts and its approve/reject functions (delivery/slack/agent_feed.py); the variables
# CSOPS_SLACK_ALERT_FEED / CSOPS_SLACK_DECIDE (module:attribute) replace them, e.g. in tests.
AGENT_FEED, AGENT_DECIDE = "delivery.slack.agent_feed:agent_feed", "delivery.slack.agent_feed:decide"


@dataclass(frozen=True)
class SlackConfig:
    """Where the Slack delivery keeps and finds things, from the environment (secrets are read where used)."""

    outbox_url: str
    routing_path: str
    sink_path: str
    alert_feed: str  # module:attribute of an AlertFeed (default: the account agent's); empty: none
    decide: str  # module:function recording approve/reject decisions (default: the account agent's)

    @classmethod
    def from_env(cls, settings: Settings) -> SlackConfig:
        return cls(
            outbox_url=settings.opdb_url,  # the operational database holds the outbox
            routing_path=os.environ.get("CSOPS_SLACK_ROUTING") or str(DEFAULT_ROUTING),
            sink_path=str(settings.data_dir / "slack" / "messages.jsonl"),
            alert_feed=os.environ.get("CSOPS_SLACK_ALERT_FEED", AGENT_FEED),
            decide=os.environ.get("CSOPS_SLACK_DECIDE", AGENT_DECIDE))


class AlertFeed(Protocol):
    """What the account agent provides (wired at merge): alerts due for delivery, each owner's open queue, and the
    lifecycle step after a message is recorded as sent (open -> notified)."""

    def pending_alerts(self) -> list[AlertMessage]: ...

    def open_alerts(self) -> list[AlertMessage]: ...

    def notified(self, alert_id: str) -> None: ...  # idempotent; called from the deliverer's worker threads


def load_object(path: str, what: str):
    """`module:attribute` -> the object (an alert feed, a decide function); one-line error when not found."""
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"{what} {path!r} not found ({error}); expected module:attribute") from None


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
         budget_seconds: float = 20.0, workers: int = 4) -> TickReport:
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

    delivery = outbox.deliver(transport, budget_seconds=budget_seconds, on_sent=sent, workers=workers)
    return TickReport(enqueued, owner_digests, delivery, feed is not None)


def run_tick(config: SlackConfig, budget_seconds: float = 20.0, now: datetime | None = None) -> TickReport:
    """One tick from configuration: the outbox's database, the routing file, the feed, Slack or the file sink."""
    from delivery.slack.outbox import create_outbox_engine
    from delivery.slack.routing import load_routing
    from delivery.slack.transport import transport_from_env

    routing = load_routing(config.routing_path)
    feed = load_object(config.alert_feed, "alert feed") if config.alert_feed else None
    engine = create_outbox_engine(config.outbox_url)
    try:
        return tick(Outbox(engine), routing, transport_from_env(Path(config.sink_path)), feed, now, budget_seconds)
    finally:
        engine.dispose()
