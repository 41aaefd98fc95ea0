"""`csops account`, `queue` and `alerts` on an operational database the agent filled; an approval goes through
while another process holds the DuckDB warehouse for writing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from agent_world import CRITICAL, HIGH_RISK, World
from sqlalchemy import select

from actions.tick import run_tick
from csops.cli import main
from csops.opdb import open_opdb, sessions
from csops.opdb.models import Alert, EmailDraft

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from csops.cli import main; sys.exit(main())"


@pytest.fixture
def opdb(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    monkeypatch.setenv("CSOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSOPS_OPDB_URL", url)
    engine = open_opdb(url)
    world = World().add("A1").add("R1", **HIGH_RISK).add("X1", **CRITICAL).add("N1", handoff=["champion"],
                                                                              is_new_account=True)
    with sessions(engine)() as session:
        run_tick(world.write(), session)
        session.commit()
    return engine


def alert_id(engine, account: str) -> int:
    with sessions(engine)() as session:
        return session.scalars(select(Alert.id).where(Alert.account_id == account)).first()


def test_account_shows_state_reason_history_and_open_actions(opdb, capsys):
    assert main(["account", "N1"]) == 0
    out = capsys.readouterr().out
    assert "stage fetch_missing_anchors" in out and "missing: champion" in out
    assert "why: handoff audit: data not ready" in out and "(new) -> fetch_missing_anchors" in out
    assert "fetch_missing_anchors -> csm_ann" in out
    assert main(["account", "NOPE"]) == 1
    assert "no account 'NOPE'" in capsys.readouterr().err


def test_queue_lists_queued_actions_by_expected_value_and_filters_by_owner(opdb, capsys):
    assert main(["queue"]) == 0
    out = capsys.readouterr().out
    assert "fetch_missing_anchors" in out and "success_plan" not in out  # plans are not queue items
    assert main(["queue", "--owner", "nobody"]) == 0
    assert "the queue is empty for nobody" in capsys.readouterr().out


def test_alerts_list_show_approve_twice_and_reject_with_clear_errors(opdb, capsys):
    assert main(["alerts", "list"]) == 0
    out = capsys.readouterr().out
    assert "R1" in out and "X1" in out and "raised 2, held 0" in out
    risky = alert_id(opdb, "R1")
    assert main(["alerts", "show", str(risky)]) == 0
    out = capsys.readouterr().out
    assert "needs approval" in out and "churn_probability: 0.35" in out and "open -> notified  by agent" in out
    assert main(["alerts", "ack", str(risky), "--by", "maria"]) == 0
    assert "acknowledged by maria" in capsys.readouterr().out
    assert main(["alerts", "approve", str(risky), "--by", "maria", "--note", "ok"]) == 0
    assert "approved by maria and executed" in capsys.readouterr().out
    assert main(["alerts", "approve", str(risky), "--by", "maria"]) == 0
    again = capsys.readouterr().out
    assert "already executed by maria" in again and "nothing to do" in again
    assert main(["alerts", "reject", str(risky), "--by", "bob", "--reason", "no"]) == 1
    assert "cannot become rejected" in capsys.readouterr().err
    assert main(["alerts", "show", "4242"]) == 1
    assert "no alert with id 4242" in capsys.readouterr().err
    critical = alert_id(opdb, "X1")
    assert main(["alerts", "reject", str(critical), "--by", "bob", "--reason", "customer already called"]) == 0
    with pytest.raises(SystemExit):
        main(["alerts", "reject", str(critical), "--by", "bob"])  # --reason is required


def test_an_approval_succeeds_while_another_process_writes_the_warehouse(opdb, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(warehouse)!r})\n"
         "con.execute('begin transaction'); con.execute('create table marts_busy as select range from range(1000000)')\n"
         "print('writing', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "writing"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(warehouse))  # the warehouse is taken, as during a dbt build
        env = {**os.environ, "CSOPS_DUCKDB_PATH": str(warehouse), "PYTHONPATH": str(PROJECT_ROOT)}
        approved = subprocess.run([sys.executable, "-c", CLI, "alerts", "approve", str(alert_id(opdb, "X1")),
                                   "--by", "maria"], env=env, capture_output=True, text=True, timeout=120)
        assert holder.poll() is None  # still holding the warehouse
    finally:
        holder.kill()
        holder.wait()
    assert approved.returncode == 0, approved.stderr
    assert "approved by maria and executed" in approved.stdout
    with sessions(opdb)() as session:
        assert session.scalars(select(EmailDraft)).one().account_id == "X1"
