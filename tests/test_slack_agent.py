"""Slack wired to the account agent: the agent's notified alert goes out through the outbox, and a signed Approve
click moves it through the same lifecycle as `csops alerts approve` (plan executed, tasks and an email draft)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy import select

from csops.opdb import open_opdb, sessions
from csops.opdb.models import Alert, AlertEvent, EmailDraft, Plan
from delivery.slack.agent_feed import POSTED_NOTE, AgentAlertFeed, decide
from delivery.slack.app import build_app, make_http_server
from delivery.slack.routing import Routing
from delivery.slack.service import tick as slack_tick
from lab.slack_server import SlackServer
from tests.agent_world import HIGH_RISK, World, tick
from tests.slack_helpers import TOKEN, fast_outbox, transport
from tests.test_slack_app import SECRET, send


def test_an_agent_alert_posted_to_slack_and_approved_by_its_button(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    monkeypatch.setenv("CSOPS_OPDB_URL", url)  # `decide` opens the operational database from the settings
    with sessions(open_opdb(url))() as session:
        tick(World().add("R1", **HIGH_RISK), session)
        (alert,) = session.scalars(select(Alert)).all()
        assert alert.status == "notified" and alert.plan_id is not None
    feed = AgentAlertFeed(url)
    (pending,) = feed.pending_alerts()
    assert pending.needs_decision and pending.account_name == "Account R1" and pending.severity == alert.severity

    with SlackServer(TOKEN) as slack:
        outbox = fast_outbox(url)
        routing = Routing(default_channel="C1", dm_min_severity=None)
        # Before the daily digest hour: the owner's digest is a DM to a user this server does not know
        # (test_slack_sensor covers digests); without a fixed clock the test failed after 08:00 UTC.
        early = datetime(2026, 12, 7, 7, tzinfo=timezone.utc)
        report = slack_tick(outbox, routing, transport(slack.base_url), feed, now=early, budget_seconds=10)
        assert report.enqueued.new == 1 and report.delivery.failed == 0
        again = slack_tick(outbox, routing, transport(slack.base_url), feed, now=early, budget_seconds=10)
        assert again.enqueued.new == 0  # a second tick posts nothing twice
        (message,) = slack.state.messages["C1"]
        buttons = next(block for block in message["blocks"] if block["type"] == "actions")["elements"]
        assert {b["value"] for b in buttons} == {str(alert.id)}

        app = build_app(token=TOKEN, signing_secret=SECRET, decide=decide, engine=outbox.engine,
                        base_url=slack.base_url)
        server = make_http_server(app, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            click = {"type": "block_actions", "team": {"id": "T0CSOPS"}, "api_app_id": "A0CSOPS",
                     "trigger_id": "1.2", "user": {"id": "U0JANE", "username": "jane", "team_id": "T0CSOPS"},
                     "channel": {"id": "C1"}, "container": {"type": "message", "channel_id": "C1",
                                                            "message_ts": message["ts"]},
                     "message": {"ts": message["ts"], "blocks": message["blocks"], "text": message["text"]},
                     "actions": [{"type": "button", "action_id": "alert_approve", "block_id": "decision",
                                  "value": str(alert.id), "action_ts": "1"}]}
            status, _ = send(f"http://127.0.0.1:{server.server_address[1]}/slack/events", click)
        finally:
            server.shutdown()
            server.server_close()
        assert status == 200
        assert "*Approved* by jane" in str(slack.state.messages["C1"][0]["blocks"])

    with sessions(open_opdb(url))() as session:
        alert = session.get(Alert, alert.id)
        plan = session.get(Plan, alert.plan_id)
        assert alert.status == "executed" and (plan.status, plan.decided_by) == ("executed", "jane (Slack U0JANE)")
        assert session.scalars(select(EmailDraft)).one().status == "draft"  # for a person to review and send
        notes = [e.note for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id))]
        assert notes.count(POSTED_NOTE) == 1
