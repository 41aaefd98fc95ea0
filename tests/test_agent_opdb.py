"""The operational database on SQLite and on a real PostgreSQL server: migrations, pragmas, nothing deleted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import create_engine, inspect, select, text

from csops.opdb import current_revision, open_opdb, sessions, upgrade
from csops.opdb.models import AccountState, Alert, AlertEvent, metadata


def test_migrations_create_every_table_at_head_and_rerun_as_a_no_op(opdb_url):
    engine = open_opdb(opdb_url)
    assert current_revision(engine) == "0002"
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables and "alembic_version" in tables
    upgrade(engine)  # at head: nothing to do, no error
    assert current_revision(engine) == "0002"


def test_rows_round_trip_with_json_evidence_on_both_backends(opdb_url):
    engine = open_opdb(opdb_url)
    now = datetime(2026, 1, 5, 9, 0)
    with sessions(engine)() as session:
        session.add(AccountState(account_id="A-1", stage="queue", missing=["champion"], stage_since=date(2026, 1, 1),
                                 as_of_date=date(2026, 1, 5), last_transition_at=now, escalated=False))
        alert = Alert(dedup_key="A-1:churn_risk", account_id="A-1", kind="churn_risk", severity="high",
                      playbook="risk_mitigation_plan", owner="Ann", evidence={"churn_probability": 0.61,
                      "reasons": ["usage down 40%"]}, as_of_date=date(2026, 1, 5), status="open",
                      raised_on=date(2026, 1, 5), created_at=now, updated_at=now)
        session.add(alert)
        session.flush()
        session.add(AlertEvent(alert_id=alert.id, from_status=None, to_status="open", by="agent", at=now))
        session.commit()
    with sessions(engine)() as session:
        stored = session.scalars(select(Alert)).one()
        assert stored.evidence == {"churn_probability": 0.61, "reasons": ["usage down 40%"]}
        assert session.get(AccountState, "A-1").missing == ["champion"]


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = open_opdb(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_the_settings_default_is_sqlite_under_the_data_folder_and_the_variable_overrides_it(monkeypatch, tmp_path):
    from csops.settings import Settings

    monkeypatch.setenv("CSOPS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CSOPS_OPDB_URL", raising=False)
    assert Settings.from_env().opdb_url == f"sqlite:///{tmp_path.resolve() / 'ops.sqlite'}"
    monkeypatch.setenv("CSOPS_OPDB_URL", "postgresql+psycopg://u@db/ops")
    assert Settings.from_env().opdb_url == "postgresql+psycopg://u@db/ops"


def test_the_migration_chain_is_linear():
    from alembic.script import ScriptDirectory

    from csops.opdb import MIGRATIONS_DIR
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    assert all(len(rev._all_down_revisions) <= 1 for rev in script.walk_revisions())


def test_the_test_server_keeps_running_when_another_pytest_session_starts(postgres_url, tmp_path):
    # Another pytest session on the machine resets pytest's base folder to 0700; a server whose data lived there
    # lost it at its next checkpoint and every later PostgreSQL test failed to connect (seen with two checkouts).
    import subprocess
    import sys

    (tmp_path / "test_other.py").write_text("def test_other(tmp_path):\n    assert tmp_path.exists()\n")
    other = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_other.py"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert other.returncode == 0, other.stdout[-500:]
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CHECKPOINT"))
    with engine.connect() as connection:
        assert connection.execute(text("select 1")).scalar() == 1
    engine.dispose()
