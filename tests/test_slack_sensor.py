"""The Slack sensors in the code location: the alerts sensor delivers through the outbox while a run holds the
DuckDB warehouse (it never opens it and never waits for it), is idempotent across ticks and moves alerts to notified;
the run-failure sensor is dagster-slack's, stopped by default."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from delivery.slack.outbox import Outbox, create_outbox_engine
from delivery.slack.routing import Routing
from delivery.slack.service import tick
from lab.slack_server import SlackServer
from tests.slack_helpers import FEED, TOKEN, make_alert, transport

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HOLDER = textwrap.dedent("""
    import pathlib, sys, time
    import dagster as dg, duckdb

    db, started, release = sys.argv[1:4]

    @dg.asset
    def hold_warehouse():
        connection = duckdb.connect(db)
        connection.execute("create schema if not exists marts; create or replace table marts.held as select 1 as x")
        pathlib.Path(started).write_text("holding")
        while not pathlib.Path(release).exists():
            time.sleep(0.05)
        connection.close()

    sys.exit(0 if dg.materialize([hold_warehouse]).success else 1)
""")


@pytest.fixture
def slack_env(tmp_path, monkeypatch):
    routing = tmp_path / "routing.yaml"
    routing.write_text("default_channel: C1\ndm_min_severity: null\nops_channel: C0OPS\n")
    FEED.__init__()
    with SlackServer(TOKEN) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_BASE_URL", slack.base_url)
        yield slack, routing


def sensor_context(tmp_path, routing):
    from orchestration.defs.resources import SlackDelivery

    return dg.build_sensor_context(resources={"slack_delivery": SlackDelivery(
        outbox_url=f"sqlite:///{tmp_path / 'opdb.sqlite'}", routing_path=str(routing),
        sink_path=str(tmp_path / "sink.jsonl"), alert_feed="tests.slack_helpers:FEED", budget_seconds=15)})


def test_the_sensor_delivers_while_a_run_holds_the_warehouse(tmp_path, slack_env, monkeypatch):
    from orchestration.defs.delivery.sensors import slack_alerts_sensor

    slack, routing = slack_env
    warehouse, started, release = tmp_path / "warehouse.duckdb", tmp_path / "started", tmp_path / "release"
    run = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse), str(started), str(release)],
                           cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT),
                                              "DAGSTER_DISABLE_TELEMETRY": "true"})
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert run.poll() is None and time.monotonic() < deadline, "the holding run did not start"
            time.sleep(0.1)
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(warehouse))  # the run holds the file: anything that opened it would fail now

        def no_warehouse(*_args, **_kwargs):
            raise AssertionError("the Slack sensor opened DuckDB")

        monkeypatch.setattr(duckdb, "connect", no_warehouse)
        FEED.pending = [make_alert(i) for i in range(3)]
        began = time.monotonic()
        result = slack_alerts_sensor(sensor_context(tmp_path, routing))
        assert isinstance(result, dg.SkipReason) and "3 posted" in result.skip_message
        assert time.monotonic() - began < 15
        assert len(slack.state.stored_posts) == 3
        assert run.poll() is None  # the run is still holding the warehouse: the sensor neither waited nor failed it
    finally:
        release.write_text("go")
    assert run.wait(120) == 0


def test_ticks_are_idempotent_and_move_each_alert_to_notified_once(tmp_path, slack_env):
    from orchestration.defs.delivery.sensors import slack_alerts_sensor

    slack, routing = slack_env
    FEED.pending = [make_alert(i) for i in range(2)]
    slack_alerts_sensor(sensor_context(tmp_path, routing))
    FEED.pending.append(make_alert(0, severity="critical"))  # an escalation posts again
    result = slack_alerts_sensor(sensor_context(tmp_path, routing))
    assert "queued 1 alerts (2 already queued" in result.skip_message
    assert len(slack.state.stored_posts) == 3
    assert sorted(FEED.notified_ids) == ["alert-0", "alert-0", "alert-1"]


def test_owner_digests_start_at_the_configured_hour_once_a_day(tmp_path):
    routing = Routing(default_channel="C1", dm_min_severity=None, daily_digest_hour_utc=8,
                      owners={"jane@example.com": {"user_id": "U0JANE"}})
    FEED.__init__()
    FEED.open = [make_alert(i) for i in range(4)]
    with SlackServer(TOKEN) as slack:
        outbox = Outbox(create_outbox_engine(f"sqlite:///{tmp_path / 'o.sqlite'}"))
        early = tick(outbox, routing, transport(slack.base_url), FEED, datetime(2026, 12, 7, 7, 59, tzinfo=timezone.utc))
        assert early.owner_digests == 0
        for hour in (8, 15):
            tick(outbox, routing, transport(slack.base_url), FEED, datetime(2026, 12, 7, hour, tzinfo=timezone.utc))
        assert [m["text"] for m in slack.state.messages["D0JANE"]] == ["Your csops queue for 2026-12-07: 4 alerts"]


def test_the_run_failure_sensor_is_dagster_slacks_and_stopped_by_default(dbt_manifest):
    from orchestration.definitions import defs

    sensors = {sensor.name: sensor for sensor in defs().sensors}
    assert sensors["slack_run_failures"].default_status == dg.DefaultSensorStatus.STOPPED
    assert sensors["slack_alerts"].default_status == dg.DefaultSensorStatus.RUNNING
    assert isinstance(sensors["slack_run_failures"], dg.RunStatusSensorDefinition)


def test_csops_slack_deliver_without_a_token_writes_the_file_sink_and_the_console(csops_env, monkeypatch, capsys):
    from csops.cli import main

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("CSOPS_OPDB_URL", raising=False)
    monkeypatch.setenv("CSOPS_SLACK_ALERT_FEED", "tests.slack_helpers:FEED")
    FEED.__init__()
    FEED.pending = [make_alert(1, needs_decision=True), make_alert(2, severity="critical")]
    assert main(["slack-deliver", "--budget", "10"]) == 0
    sink = csops_env.data_dir / "slack" / "messages.jsonl"
    records = [json.loads(line) for line in sink.read_text().splitlines()]
    # The shipped routing: critical to the leaders' channel instead of the default, DMs from high up (the e-mail).
    assert sorted(r["channel"] for r in records) == sorted(
        ["C0CSOPSALERTS", "C0CSLEADERS", "email:jane@example.com", "email:jane@example.com"])
    assert any(block["type"] == "actions" for r in records for block in r["blocks"])
    out = capsys.readouterr().out
    # two echoed, then where the rest are: every message is still in the file
    assert out.count("[csops] slack (file sink)") == 3 and "further messages only in" in out and "4 posted" in out
    assert main(["slack-deliver", "--budget", "2"]) == 0  # again: nothing new
    assert len(sink.read_text().splitlines()) == 4
    monkeypatch.setenv("CSOPS_SLACK_ALERT_FEED", "nowhere:FEED")
    assert main(["slack-deliver"]) == 2
    assert "alert feed 'nowhere:FEED' not found" in capsys.readouterr().out
