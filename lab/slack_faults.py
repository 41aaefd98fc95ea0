"""Exactly-once Slack delivery under a fault schedule (docs/slack.md has the figures).

N alerts are queued in an outbox (SQLite, WAL) and drained by a deliverer subprocess, with the real slack_sdk
client, against lab/slack_server.py enforcing one message per second per channel and injecting, on chat.postMessage:
5xx (half after storing the message), 429 with Retry-After, timeouts (half after storing), and deliverer crashes:
the deliverer is SIGKILLed while Slack holds a stored message's answer, i.e. between the post and the record.

    python -m lab.slack_faults --alerts 1000 --channels 50 --crashes 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from delivery.slack.blocks import AlertMessage
from delivery.slack.outbox import SENT, Outbox, OutboxMessage, create_outbox_engine
from delivery.slack.routing import Routing, Rule
from delivery.slack.transport import SlackTransport, slack_client
from lab.slack_server import STORING_FAULTS, SlackServer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "xoxb-lab-token"
# Shares of chat.postMessage requests: 20% 5xx, 10% 429, 5% timeouts.
FAULT_RATES = {"500": 0.10, "500_after": 0.10, "429": 0.10, "timeout": 0.025, "timeout_before": 0.025}
CLIENT_TIMEOUT = 1.0  # the deliverer's HTTP timeout; the server hangs longer on a timeout fault
LEASE_SECONDS = 3.0  # a killed deliverer's rows are looked up after this
WORKERS = 8  # deliverer threads (channels posted to at once)


def lab_alerts(count: int, channels: int, seed: int) -> tuple[list[AlertMessage], Routing]:
    rng = random.Random(seed)
    owners = [f"csm{i}@example.com" for i in range(channels)]
    alerts = [AlertMessage(
        alert_id=f"alert-{i}", dedup_key=f"churn_risk:acct-{i}", account_id=f"acct-{i}",
        account_name=f"Account {i} <!channel>", arr=rng.uniform(5_000, 500_000),
        renewal_date=date(2027, 1, 1) + timedelta(days=rng.randrange(365)),
        severity=rng.choice(["critical", "high", "medium"]), kind="churn_risk",
        reasons=("weekly active users down 38% over 4 weeks", "2 P1 tickets open"), playbook="Executive check-in",
        as_of=date(2026, 12, 1), owner=owners[i % channels], segment="mid_market", needs_decision=i % 3 == 0)
        for i in range(count)]
    routing = Routing(default_channel="C0DEFAULT", dm_min_severity=None, max_messages_per_channel_per_run=count,
                      rules=[Rule(owner=[owner], channel=f"C{i:04d}") for i, owner in enumerate(owners)])
    return alerts, routing


def outbox(db_url: str) -> Outbox:
    return Outbox(create_outbox_engine(db_url), backoff_base=0.5, backoff_cap=8.0, uncertain_grace=0.5,
                  lease_seconds=LEASE_SECONDS)


def deliverer(db_url: str, base_url: str, budget: float) -> None:
    """The deliverer process: drain the outbox, print the report as JSON."""
    transport = SlackTransport(slack_client(TOKEN, base_url, timeout=CLIENT_TIMEOUT))
    report = outbox(db_url).deliver(transport, budget_seconds=budget, workers=WORKERS)
    print(json.dumps(report.__dict__), flush=True)


def start_deliverer(db_url: str, base_url: str, budget: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab.slack_faults", "--deliver", db_url, base_url, str(budget)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def run(alerts: int = 1000, channels: int = 50, crashes: int = 3, seed: int = 7, workdir: Path | None = None,
        max_seconds: float = 1800) -> dict:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="slack-faults-"))
    db_url = f"sqlite:///{workdir / 'outbox.sqlite'}"
    queued, routing = lab_alerts(alerts, channels, seed)
    box = outbox(db_url)
    box.enqueue_alerts(queued, routing)
    rng = random.Random(seed)
    with SlackServer(TOKEN, hang=CLIENT_TIMEOUT + 0.5, seed=seed) as slack:
        state = slack.state
        state.fault_rates = dict(FAULT_RATES)
        # Crashes spread over the first 80% of the posts: the deliverer dies holding a stored message's answer.
        state.scheduled = {n: "hold_after" for n in sorted(rng.sample(range(5, max(int(alerts * 0.8), 10)), crashes))}
        started = time.monotonic()
        killed = 0
        while time.monotonic() - started < max_seconds:
            process = start_deliverer(db_url, slack.base_url, budget=max_seconds)
            while process.poll() is None and not state.held.is_set():
                time.sleep(0.05)
            if state.held.is_set():
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed += 1
                state.held.clear()
                state.release()  # the held answer now goes to a dead socket
                time.sleep(0.1)
                state.release_event.clear()
                continue
            process.stdout.read()
            if box.counts().get("pending", 0) + box.counts().get("sending", 0) == 0:
                break
        drained = time.monotonic() - started
        posts = state.posts_by_key()
    from sqlalchemy.orm import Session
    from sqlalchemy import select

    with Session(box.engine) as session:
        rows = session.execute(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.ts)).all()
    stored_ts = {m["metadata"]["event_payload"]["key"]: m["ts"] for ms in state.messages.values() for m in ms}
    faults: dict[str, int] = {}
    for method, outcome, _ in state.requests:
        if method == "chat.postMessage":
            faults[outcome] = faults.get(outcome, 0) + 1
    return {
        "alerts": alerts, "channels": channels, "messages": len(rows),
        "sent": sum(status == SENT for _, status, _ in rows),
        "posted_once": sum(posts.get(key) == 1 for key, _, _ in rows),
        "posted_twice_or_more": sum(posts.get(key, 0) > 1 for key, _, _ in rows),
        "lost": sum(key not in posts for key, _, _ in rows),
        "recorded_ts_matches_slack": sum(stored_ts.get(key) == ts for key, _, ts in rows),
        "deliverer_crashes": killed, "drain_seconds": round(drained, 1),
        "max_messages_per_channel_per_second": state.max_posts_per_channel_per_second(),
        "post_requests_by_outcome": dict(sorted(faults.items())),
        # Stored by Slack without a success answer: each would be a duplicate after a blind retry.
        "stored_without_success_answer": sum(faults.get(fault, 0) for fault in STORING_FAULTS),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.slack_faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deliver", nargs=3, metavar=("DB_URL", "BASE_URL", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.deliver:
        deliverer(args.deliver[0], args.deliver[1], float(args.deliver[2]))
        return 0
    print(json.dumps(run(args.alerts, args.channels, args.crashes, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
