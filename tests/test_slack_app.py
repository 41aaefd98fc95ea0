"""The approval app (real slack_bolt over HTTP on 127.0.0.1, its Web API calls to the local Slack server): signed
button clicks record decisions through `decide` and update the message; forged, stale and replayed requests are
refused and recorded; reject asks for a reason in a modal."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from delivery.slack.app import REJECT_VIEW, build_app, make_http_server
from delivery.slack.outbox import RefusedRequest
from delivery.slack.routing import Routing
from lab.slack_server import SlackServer
from tests.slack_helpers import TOKEN, fast_outbox, make_alert, transport

SECRET = "test-signing-secret-0123456789"

# The account agent's approval function is not on this branch: a small real one over its own table.
decisions_metadata = MetaData()
decisions = Table("test_decisions", decisions_metadata, Column("id", Integer, primary_key=True),
                  Column("alert_id", String), Column("decision", String), Column("by", String), Column("reason", String))


def make_decide(engine):
    decisions_metadata.create_all(engine)

    def decide(alert_id: str, decision: str, by: str, reason: str | None = None) -> str:
        if decision not in ("approve", "reject"):
            raise ValueError(f"unknown decision {decision!r}")
        with engine.begin() as connection:
            if connection.execute(select(decisions.c.id).where(decisions.c.alert_id == alert_id)).first():
                raise ValueError(f"alert {alert_id} was already decided")
            connection.execute(insert(decisions).values(alert_id=alert_id, decision=decision, by=by, reason=reason))
        return f"alert {alert_id}: {decision} recorded"

    return decide


@pytest.fixture
def setup(opdb_url):
    with SlackServer(TOKEN) as slack:
        outbox = fast_outbox(opdb_url)
        outbox.enqueue_alerts([make_alert(1, needs_decision=True), make_alert(2, needs_decision=True)],
                              Routing(default_channel="C1", dm_min_severity=None))
        outbox.deliver(transport(slack.base_url), budget_seconds=10)
        app = build_app(token=TOKEN, signing_secret=SECRET, decide=make_decide(outbox.engine), engine=outbox.engine,
                        base_url=slack.base_url)
        server = make_http_server(app, port=0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
        yield slack, outbox, url
        server.shutdown()
        server.server_close()
        outbox.engine.dispose()


def send(url: str, payload: dict, secret: str = SECRET, timestamp: int | None = None, body: str | None = None):
    body = body or urllib.parse.urlencode({"payload": json.dumps(payload)})
    timestamp = str(timestamp or int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def posted(slack: SlackServer, n: int) -> dict:
    """The message of make_alert(n) (found by the outbox key in its metadata)."""
    return next(m for m in slack.state.messages["C1"] if f":acct-{n}:" in m["metadata"]["event_payload"]["key"])


def click(slack: SlackServer, action: str, n: int) -> dict:
    message, alert_id = posted(slack, n), f"alert-{n}"
    return {"type": "block_actions", "team": {"id": "T0CSOPS"}, "api_app_id": "A0CSOPS", "trigger_id": "1337.42",
            "user": {"id": "U0JANE", "username": "jane", "team_id": "T0CSOPS"}, "channel": {"id": "C1"},
            "container": {"type": "message", "channel_id": "C1", "message_ts": message["ts"]},
            "message": {"ts": message["ts"], "blocks": message["blocks"], "text": message["text"]},
            "actions": [{"type": "button", "action_id": action, "block_id": "decision",
                         "value": alert_id, "action_ts": "1"}]}


def recorded(outbox) -> list[tuple]:
    with outbox.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(decisions.c.alert_id, decisions.c.decision, decisions.c.by, decisions.c.reason))]


def refusals(outbox) -> list[str]:
    with Session(outbox.engine) as session:
        return list(session.scalars(select(RefusedRequest.reason).order_by(RefusedRequest.id)))


def test_a_signed_approve_records_the_decision_and_updates_the_message(setup):
    slack, outbox, url = setup
    status, _ = send(url, click(slack, "alert_approve", 1))
    assert status == 200
    assert recorded(outbox) == [("alert-1", "approve", "jane (Slack U0JANE)", None)]
    message = posted(slack, 1)
    assert not any(block["type"] == "actions" for block in message["blocks"])
    assert "*Approved* by jane (Slack U0JANE)" in message["blocks"][-1]["elements"][0]["text"]
    assert "alert alert-1: approve recorded" in message["blocks"][-1]["elements"][0]["text"]
    # A second click (another person, same alert): the agent refuses, the clicker is told, nothing else changes.
    status, _ = send(url, click(slack, "alert_approve", 1) | {"user": {"id": "U0OMAR", "username": "omar"}})
    assert status == 200 and len(recorded(outbox)) == 1
    assert "already decided" in slack.state.ephemeral[-1]["text"] and slack.state.ephemeral[-1]["user"] == "U0OMAR"


def test_reject_asks_a_reason_in_a_modal_and_records_it(setup):
    slack, outbox, url = setup
    status, _ = send(url, click(slack, "alert_reject", 2))
    assert status == 200 and recorded(outbox) == []  # nothing decided before the reason
    view = slack.state.views[-1]
    assert view["trigger_id"] == "1337.42" and view["view"]["callback_id"] == REJECT_VIEW
    submission = {"type": "view_submission", "team": {"id": "T0CSOPS"}, "api_app_id": "A0CSOPS",
                  "user": {"id": "U0JANE", "username": "jane", "team_id": "T0CSOPS"},
                  "view": {**view["view"], "id": "V1", "state": {"values": {"reason": {"reason": {
                      "type": "plain_text_input", "value": ""}}}}}}
    status, body = send(url, submission)
    assert status == 200 and json.loads(body)["response_action"] == "errors" and recorded(outbox) == []
    submission["view"]["state"]["values"]["reason"]["reason"]["value"] = "Renewal already handled <!channel>"
    status, _ = send(url, submission)
    assert status == 200
    assert recorded(outbox) == [("alert-2", "reject", "jane (Slack U0JANE)", "Renewal already handled <!channel>")]
    last = posted(slack, 2)["blocks"][-1]["elements"][0]["text"]
    assert "*Rejected* by jane (Slack U0JANE): Renewal already handled &lt;!channel&gt;" in last


def test_forged_stale_replayed_and_unsigned_requests_are_refused_and_recorded(setup):
    slack, outbox, url = setup
    payload = click(slack, "alert_approve", 1)
    assert send(url, payload, secret="not-the-secret")[0] == 401
    assert send(url, payload, timestamp=int(time.time()) - 301)[0] == 401  # signed, but older than five minutes
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    tampered = body.replace("alert-1", "alert-2")
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    request = urllib.request.Request(url, data=tampered.encode(), method="POST", headers={
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401  # a valid signature of another body
    unsigned = urllib.request.Request(url, data=body.encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(unsigned, timeout=10)
    assert recorded(outbox) == [] and slack.state.updates == []
    now = int(time.time())
    assert send(url, payload, timestamp=now)[0] == 200
    assert send(url, payload, timestamp=now)[0] == 401  # the very same signed request again
    assert refusals(outbox) == ["forged", "stale", "forged", "unsigned", "replayed"]
    assert len(recorded(outbox)) == 1


def test_csops_slack_app_serves_signed_requests_and_refuses_the_rest(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    csops = str(Path(sys.executable).parent / "csops")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    decisions_file = tmp_path / "decisions.jsonl"
    with SlackServer(TOKEN) as slack:
        outbox = fast_outbox(f"sqlite:///{tmp_path / 'data' / 'ops.sqlite'}")
        outbox.enqueue_alerts([make_alert(1, needs_decision=True)], Routing(default_channel="C1", dm_min_severity=None))
        outbox.deliver(transport(slack.base_url), budget_seconds=5)
        env = {**os.environ, "PYTHONPATH": str(root), "CSOPS_DATA_DIR": str(tmp_path / "data"),
               "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_BASE_URL": slack.base_url,
               "CSOPS_SLACK_DECIDE": "tests.slack_helpers:record_decision", "CSOPS_TEST_DECISIONS": str(decisions_file)}
        missing = subprocess.run([csops, "slack-app", "--port", str(port)], cwd=root,
                                 env=env, capture_output=True, text=True, timeout=60)
        assert missing.returncode == 2 and missing.stdout.strip() == "[csops] slack-app: set SLACK_SIGNING_SECRET"
        app = subprocess.Popen([csops, "slack-app", "--port", str(port)], cwd=root,
                               env={**env, "SLACK_SIGNING_SECRET": SECRET}, stdout=subprocess.PIPE, text=True)
        try:
            assert "Slack approval app on http://127.0.0.1" in app.stdout.readline()
            url = f"http://127.0.0.1:{port}/slack/events"
            assert send(url, click(slack, "alert_approve", 1), secret="forged")[0] == 401
            assert send(url, click(slack, "alert_approve", 1))[0] == 200
            assert json.loads(decisions_file.read_text()) == ["alert-1", "approve", "jane (Slack U0JANE)", None]
            assert "*Approved* by jane" in json.dumps(posted(slack, 1)["blocks"])
            assert refusals(outbox) == ["forged"]
        finally:
            app.terminate()
            app.wait(10)
