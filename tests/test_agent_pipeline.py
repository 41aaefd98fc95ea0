"""The account agent in the real main job on a small generated warehouse: its assets run after the scores, its
blocking checks pass, BI's `agent` tables are published, an approval goes through while a second run writes the
warehouse, and a tick on the same data changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from orchestration.run import failed_checks, run_pipeline

CLI = "import sys; from csops.cli import main; sys.exit(main())"
AGENT_ASSETS = {"agent/account_state", "agent/state_transitions", "agent/actions", "agent/alerts",
                "agent/postmortems"}


def _locked(path) -> bool:
    """True while another process holds the DuckDB file (any connection from here then fails)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.IOException:
        return True
    return False


@pytest.fixture
def agent_env(csops_env, tmp_path, monkeypatch, dbt_manifest):
    from lab.generator import generate

    from csops.settings import Settings

    landing = tmp_path / "landing"
    generate(landing, accounts=60, months=8, seed=21)
    monkeypatch.setenv("CSOPS_LANDING_DIR", str(landing))
    monkeypatch.delenv("CSOPS_OPDB_URL", raising=False)
    return Settings.from_env()


def test_the_main_job_runs_the_agent_after_the_scores_with_its_gates_passing(agent_env):
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    state = graph.get(dg.AssetKey(["agent", "account_state"]))
    assert state.group_name == "agent"
    assert {dg.AssetKey(["ml", "churn_scores"]), dg.AssetKey(["ml", "expansion_scores"])} <= state.parent_keys
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(instance, definitions=definitions)
    assert result.success, failed_checks(result)
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert AGENT_ASSETS <= built
    checks = {(e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name):
              e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks[("agent/account_state", "every_active_account_has_a_state")].passed
    evidence = checks[("agent/alerts", "alert_evidence_in_marts")]
    assert evidence.passed and evidence.metadata["alerts_checked"].value > 0  # risk hallucination: 0

    assert (agent_env.data_dir / "ops.sqlite").exists()  # the default operational database
    with duckdb.connect(str(agent_env.duckdb_path), read_only=True) as con:
        scored = {r[0] for r in con.execute("select account_id from ml.churn_scores").fetchall()}
        states = {r[0] for r in con.execute("select account_id from agent.account_state").fetchall()}
        assert scored <= states
        for table in ("state_transitions", "actions", "alerts", "alert_events", "plans", "playbook_lift",
                      "holdout_assignments", "postmortems"):
            con.execute(f"select count(*) from agent.{table}").fetchall()
        assert con.execute("select count(*) from agent.actions where status = 'queued'").fetchall()[0][0] > 0

    # A second run of the main job holds the warehouse while a person approves an alert from the CLI.
    from sqlalchemy import select

    from csops.opdb import open_opdb, sessions
    from csops.opdb.models import Alert

    with sessions(open_opdb(agent_env.opdb_url))() as session:
        alert = session.scalars(select(Alert).where(Alert.status == "notified").order_by(Alert.id)).first()
    run = subprocess.Popen([sys.executable, "-c", CLI, "run"], env=os.environ.copy(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not _locked(agent_env.duckdb_path):
            assert run.poll() is None and time.monotonic() < deadline, "the run never took the warehouse"
            time.sleep(0.2)
        approved = subprocess.run([sys.executable, "-c", CLI, "alerts", "approve", str(alert.id), "--by", "maria"],
                                  env=os.environ.copy(), capture_output=True, text=True, timeout=120)
        assert run.poll() is None  # the run was still going when the approval was stored
        assert approved.returncode == 0, approved.stderr
        assert "approved by maria and executed" in approved.stdout
    finally:
        assert run.wait(timeout=900) == 0  # the run finishes too, and its tick closes the executed alert
    with sessions(open_opdb(agent_env.opdb_url))() as session:
        assert session.get(Alert, alert.id).status == "closed"

    # The daily tick again on the same data: nothing in the operational database changes.
    from csops.opdb.models import metadata
    from orchestration.defs.agent import assets
    from orchestration.lib.opdb import OperationalDatabase
    from orchestration.lib.warehouse import Warehouse

    engine = open_opdb(agent_env.opdb_url)

    def snapshot() -> dict:
        with engine.connect() as connection:
            return {name: sorted(map(repr, connection.execute(table.select()))) for name, table in
                    metadata.tables.items()}

    before = snapshot()
    again = dg.materialize([assets.account_state], resources={
        "duckdb": DuckDBResource(database=str(agent_env.duckdb_path)),
        "opdb": OperationalDatabase(url=agent_env.opdb_url), "warehouse": Warehouse()})
    assert again.success and snapshot() == before
