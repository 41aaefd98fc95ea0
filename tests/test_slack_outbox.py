"""The outbox against a local Slack-like server with the real slack_sdk client: exactly once under 5xx, timeouts,
dropped connections, 429s, crashes and restarts; pacing; digests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.slack.outbox import DIGESTED, FAILED, SENDING, SENT, OutboxMessage
from delivery.slack.routing import Routing, Rule
from lab.slack_server import SlackServer
from tests.slack_helpers import TOKEN, fast_outbox, make_alert, transport

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def rows(outbox) -> list[OutboxMessage]:
    with Session(outbox.engine) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def assert_each_posted_once(slack: SlackServer, outbox) -> None:
    """Every sent row was stored by Slack exactly once, under the ts the outbox recorded."""
    posts = slack.state.posts_by_key()
    stored = {m["metadata"]["event_payload"]["key"]: m["ts"] for ms in slack.state.messages.values() for m in ms
              if m.get("metadata")}
    sent = [row for row in rows(outbox) if row.status == SENT]
    assert sent and {row.key: posts.get(row.key) for row in sent} == {row.key: 1 for row in sent}
    assert {row.key: row.ts for row in sent} == {row.key: stored[row.key] for row in sent}
    assert sum(posts.values()) == len(sent)


def test_each_alert_posted_once_under_5xx_timeouts_drops_and_429(opdb_url):
    routing = Routing(default_channel="C1", dm_min_severity=None, rules=[Rule(segment=["enterprise"], channel="C2")])
    alerts = [make_alert(i, segment="enterprise" if i % 2 else "smb") for i in range(8)]
    with SlackServer(TOKEN, hang=1.5) as slack:
        # Three of these store the message and still fail: a blind retry would post those three twice.
        slack.state.inject("500", "500_after", "timeout", "drop_after", "429", "timeout_before")
        outbox = fast_outbox(opdb_url)
        assert outbox.enqueue_alerts(alerts, routing).new == 8
        report = outbox.deliver(transport(slack.base_url), budget_seconds=60, workers=4)  # 2 channels at once
        assert report.left == 0 and report.failed == 0
        assert slack.state.max_posts_per_channel_per_second() == 1
        assert report.found_after_uncertain == 3  # 500_after, timeout, drop_after: found, not re-posted
        assert report.rate_limited >= 1
        assert_each_posted_once(slack, outbox)
        assert len(slack.state.stored_posts) == 8
        # The same batch again (the next sensor tick): nothing new, nothing posted.
        assert outbox.enqueue_alerts(alerts, routing).already == 8
        outbox.deliver(transport(slack.base_url), budget_seconds=5)
        assert len(slack.state.stored_posts) == 8


def test_429_waits_for_retry_after_and_posts_stay_under_one_per_second_per_channel(tmp_path):
    routing = Routing(default_channel="C1", dm_min_severity=None)
    with SlackServer(TOKEN, retry_after=2) as slack:
        slack.state.inject("429")
        outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
        outbox.enqueue_alerts([make_alert(i) for i in range(4)], routing)
        report = outbox.deliver(transport(slack.base_url), budget_seconds=30)
        posts = [at for method, outcome, at in slack.state.requests if method == "chat.postMessage"]
        assert report.posted == 4 and report.rate_limited == 1
        assert posts[1] - posts[0] >= 2.0  # Retry-After honoured
        # The server also answers 429 to a second post within a second: the outbox's own pacing never triggers it.
        assert [outcome for method, outcome, _ in slack.state.requests if method == "chat.postMessage"] == \
               ["429", "ok", "ok", "ok", "ok"]
        assert slack.state.max_posts_per_channel_per_second() == 1


class Crash(BaseException):
    """The deliverer process dying right after Slack stored the message (not an Exception: nothing catches it)."""


class CrashAfterPost:
    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def post(self, channel, message, key):
        self.inner.post(channel, message, key)
        raise Crash


def test_a_restart_finds_the_message_a_crashed_deliverer_posted_and_does_not_repost(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    routing = Routing(default_channel="C1", dm_min_severity=None)
    with SlackServer(TOKEN) as slack:
        first = fast_outbox(url, lease_seconds=1.0)
        first.enqueue_alerts([make_alert(1)], routing)
        with pytest.raises(Crash):
            first.deliver(CrashAfterPost(transport(slack.base_url)), budget_seconds=5)
        assert [row.status for row in rows(first)] == [SENDING]
        first.engine.dispose()
        restarted = fast_outbox(url, lease_seconds=1.0)  # a new process: only the database carries state
        report = restarted.deliver(transport(slack.base_url), budget_seconds=10)
        assert report.found_after_uncertain == 1 and report.posted == 0
        assert_each_posted_once(slack, restarted)


def test_killing_the_deliverer_between_post_and_record_does_not_post_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    routing = Routing(default_channel="C1", dm_min_severity=None)
    with SlackServer(TOKEN) as slack:
        outbox = fast_outbox(url)
        outbox.enqueue_alerts([make_alert(i) for i in range(3)], routing)
        slack.state.scheduled = {2: "hold_after"}  # the 2nd post is stored, its answer held until we kill
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        process = subprocess.Popen([sys.executable, "-m", "lab.slack_faults", "--deliver", url, slack.base_url, "60"],
                                   cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL)
        assert slack.state.held.wait(60), "the deliverer never reached the second post"
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
        slack.state.release()
        statuses = {row.key: row.status for row in rows(outbox)}
        assert list(statuses.values()).count(SENDING) == 1  # claimed, posted, never recorded
        assert len(slack.state.stored_posts) == 2
        report = fast_outbox(url).deliver(transport(slack.base_url), budget_seconds=30)
        assert report.found_after_uncertain == 1 and report.posted == 1
        assert_each_posted_once(slack, outbox)
        assert len(slack.state.stored_posts) == 3


def test_over_budget_alerts_go_out_as_one_digest_per_channel_listing_every_one(tmp_path):
    routing = Routing(default_channel="C1", dm_min_severity=None, max_messages_per_channel_per_run=3)
    alerts = [make_alert(i, severity="critical" if i == 9 else "medium") for i in range(10)]
    with SlackServer(TOKEN) as slack:
        outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
        report = outbox.enqueue_alerts(alerts, routing)
        assert (report.new, report.digested, report.digests) == (3, 7, 1)
        outbox.deliver(transport(slack.base_url), budget_seconds=30)
        messages = slack.state.messages["C1"]
        assert len(messages) == 4
        # The critical one (and the two largest accounts) alone; the other seven listed in the digest.
        alone = {m["text"].split(": ", 1)[1].split(" (")[0] for m in messages[:3]}
        assert "Account 9" in alone
        digest = " ".join(block["text"]["text"] for block in messages[3]["blocks"] if "text" in block)
        listed = {f"Account {i}" for i in range(10)} - alone
        assert len(listed) == 7 and all(f"*{name}*" in digest for name in listed)
        statuses = [row.status for row in rows(outbox)]
        assert statuses.count(DIGESTED) == 7 and statuses.count(SENT) == 4
        assert outbox.enqueue_alerts(alerts, routing).new == 0


def test_owner_daily_digest_is_one_dm_per_owner_per_day(tmp_path):
    routing = Routing(default_channel="C1", dm_min_severity=None)
    alerts = [make_alert(i, owner="jane@example.com" if i < 3 else "omar@example.com") for i in range(5)]
    with SlackServer(TOKEN, users={"jane@example.com": "UJANE", "omar@example.com": "UOMAR"}) as slack:
        outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
        assert outbox.enqueue_owner_digests(alerts, routing, date(2026, 12, 7)) == 2
        assert outbox.enqueue_owner_digests(alerts, routing, date(2026, 12, 7)) == 0
        outbox.deliver(transport(slack.base_url), budget_seconds=10)
        assert set(slack.state.messages) == {"DJANE", "DOMAR"}  # DM channels from users.lookupByEmail
        jane = slack.state.messages["DJANE"][0]
        assert jane["text"].startswith("Your csops queue for 2026-12-07: 3 alerts")
        assert outbox.enqueue_owner_digests(alerts, routing, date(2026, 12, 8)) == 2


def test_permanent_errors_are_kept_with_their_reason_and_not_retried(tmp_path):
    routing = Routing(default_channel="not-a-channel-id", dm_min_severity=None)
    with SlackServer(TOKEN) as slack:
        outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
        outbox.enqueue_alerts([make_alert(1)], routing)
        report = outbox.deliver(transport(slack.base_url), budget_seconds=5)
        assert report.failed == 1 and report.left == 0
        assert [(row.status, row.error, row.attempts) for row in rows(outbox)] == [(FAILED, "channel_not_found", 1)]


def test_the_lookup_pages_through_a_busy_channel(tmp_path):
    routing = Routing(default_channel="C1", dm_min_severity=None)
    with SlackServer(TOKEN) as slack:
        slack.state.inject("500_after")  # stored, answered 500: the retry must look first
        inner = transport(slack.base_url)

        class BusyChannel:
            def __getattr__(self, name):
                return getattr(inner, name)

            def find(self, channel, key, oldest):
                with slack.state.lock:  # 450 newer messages by others: ours is on the third page of 200
                    slack.state.messages[channel] += [{"type": "message", "ts": slack.state.new_ts(), "text": "hi"}
                                                      for _ in range(450)]
                return inner.find(channel, key, oldest)

        outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
        outbox.enqueue_alerts([make_alert(1)], routing)
        report = outbox.deliver(BusyChannel(), budget_seconds=10)
        assert report.found_after_uncertain == 1 and report.posted == 0
        assert [m for m, _, _ in slack.state.requests].count("conversations.history") == 3
        assert_each_posted_once(slack, outbox)


def test_a_failed_lookup_is_retried_and_never_turns_into_a_blind_post(tmp_path):
    routing = Routing(default_channel="C1", dm_min_severity=None)
    with SlackServer(TOKEN) as slack:
        slack.state.inject("500_after")
        slack.state.history_faults.extend([500, 429])  # the first two lookups fail
        outbox = fast_outbox(f"sqlite:///{tmp_path / 'o.sqlite'}")
        outbox.enqueue_alerts([make_alert(1)], routing)
        report = outbox.deliver(transport(slack.base_url), budget_seconds=20)
        assert (report.found_after_uncertain, report.posted, report.rate_limited) == (1, 0, 1)
        assert [outcome for method, outcome, _ in slack.state.requests if method == "conversations.history"] == \
               ["500", "429", "ok"]
        assert len(slack.state.stored_posts) == 1
        assert_each_posted_once(slack, outbox)
