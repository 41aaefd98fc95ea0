"""Shared by the tests/test_slack_*.py files: alerts, an outbox with short timings, a client for the local server."""

from __future__ import annotations

import json
import os
from datetime import date

from delivery.slack.blocks import AlertMessage
from delivery.slack.outbox import Outbox, create_outbox_engine
from delivery.slack.transport import SlackTransport, slack_client
from lab.slack_faults import TOKEN  # the lab's deliverer subprocess uses it too



def make_alert(i: int, **changes) -> AlertMessage:
    values = dict(alert_id=f"alert-{i}", dedup_key=f"churn_risk:acct-{i}", account_id=f"acct-{i}",
                  account_name=f"Account {i}", arr=10_000.0 * (i + 1), renewal_date=date(2027, 3, 1),
                  severity="high", kind="churn_risk", reasons=("weekly active users down 38% over 4 weeks",),
                  playbook="Executive check-in within 7 days", as_of=date(2026, 12, 1),
                  owner="jane@example.com", segment="mid_market", needs_decision=False)
    values.update(changes)
    return AlertMessage(**values)


def fast_outbox(url: str, **options) -> Outbox:
    settings = dict(backoff_base=0.1, backoff_cap=1.0, uncertain_grace=0.2, lease_seconds=3.0)
    settings.update(options)
    return Outbox(create_outbox_engine(url), **settings)


def transport(base_url: str, timeout: float = 1.0) -> SlackTransport:
    return SlackTransport(slack_client(TOKEN, base_url, timeout=timeout))


class ListFeed:
    """An AlertFeed the tests fill directly (the account agent's feed at merge)."""

    def __init__(self):
        self.pending: list[AlertMessage] = []
        self.open: list[AlertMessage] = []
        self.notified_ids: list[str] = []

    def pending_alerts(self) -> list[AlertMessage]:
        return list(self.pending)

    def open_alerts(self) -> list[AlertMessage]:
        return list(self.open)

    def notified(self, alert_id: str) -> None:
        self.notified_ids.append(alert_id)


FEED = ListFeed()  # the sensor's resource names it as "tests.slack_helpers:FEED"


def record_decision(alert_id: str, decision: str, by: str, reason: str | None = None) -> str:
    """A decide function for `csops slack-app` in a subprocess: one JSON line per decision in CSOPS_TEST_DECISIONS."""
    with open(os.environ["CSOPS_TEST_DECISIONS"], "a") as out:
        out.write(json.dumps([alert_id, decision, by, reason]) + "\n")
    return f"alert {alert_id}: {decision} recorded"
