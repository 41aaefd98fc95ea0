"""Shared fixtures: a temp data folder per test, and the dbt manifest prepared once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """Parse once per test worker; the lock keeps parallel workers (pytest-xdist) from writing it at once."""
    import fcntl

    from orchestration.lib.dbt_project import csops_dbt_project, prepare_manifest

    lock_path = csops_dbt_project.project_dir / "target" / ".parse.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return prepare_manifest()


@pytest.fixture
def csops_env(tmp_path, monkeypatch):
    """Point every csops path (landing, warehouse, Dagster home, model registry) into a temp folder."""
    from csops.instance import ensure_dagster_home
    from csops.settings import Settings

    data = tmp_path / "data"
    for name in ("CSOPS_LANDING_DIR", "CSOPS_DUCKDB_PATH", "CSOPS_SERVING_PATH", "DAGSTER_HOME", "CSOPS_REPORTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CSOPS_DATA_DIR", str(data))
    monkeypatch.setenv("CSOPS_MODELS_DIR", str(tmp_path / "models"))
    settings = Settings.from_env()
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    ensure_dagster_home(settings.dagster_home)
    return settings


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """A DuckDB warehouse with every dbt model and seed built on a small generated set (150 accounts x 15 months):
    enough churn for a model to train. Tests copy it before writing to it."""
    import duckdb

    from csops import contract
    from csops.dbt import run_dbt
    from csops.ingest import ingest_source
    from lab.generator import generate

    root = tmp_path_factory.mktemp("built_warehouse")
    landing = root / "landing"
    generate(landing, accounts=150, months=15, seed=5)
    db = root / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        for source in contract.SOURCE_NAMES:
            ingest_source(con, landing, source)
    run_dbt(["build", "--resource-type", "model", "--resource-type", "seed"], db, root / "dbt")
    return db


@pytest.fixture(scope="session")
def scored_warehouse(built_warehouse, tmp_path_factory) -> tuple[Path, Path]:
    """`built_warehouse` after the Dagster ML assets ran on it: churn and expansion scores in the warehouse and a
    model registry beside it. Returns (warehouse file, registry root); tests copy the file before writing to it."""
    import json
    import shutil

    import dagster as dg
    from dagster_duckdb import DuckDBResource

    root = tmp_path_factory.mktemp("scored_warehouse")
    db, models = root / "warehouse.duckdb", root / "models"
    shutil.copy(built_warehouse, db)
    config = root / "ml.json"
    config.write_text(json.dumps({"pit_dates": 1, "pit_accounts": 12}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSOPS_MODELS_DIR", str(models))
        patch.setenv("CSOPS_ML_CONFIG", str(config))
        from orchestration.defs.ml import assets as ml_assets
        from orchestration.defs.ml import checks as ml_checks
        from orchestration.lib.warehouse import Warehouse

        result = dg.materialize([ml_assets.feature_snapshots, *ml_assets.task_assets, *ml_checks.task_checks],
                                resources={"duckdb": DuckDBResource(database=str(db)), "warehouse": Warehouse()})
    assert result.success
    return db, models


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server (Debian's package) for this session, on 127.0.0.1 and a free port. initdb and postgres
    refuse to run as root, so they run as the `postgres` user in a temp folder that user owns. Missing: the test fails."""
    import glob
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not binaries or shutil.which("runuser") is None:
        pytest.fail("PostgreSQL is not installed: `apt-get install -y postgresql` (the opdb tests need a real server)")
    bindir = Path(binaries[-1]).parent
    # Its own folder in the system temp folder, which the postgres user can reach: pytest resets its own base folder
    # to 0700 whenever another pytest session starts, which would cut a running server off from its data.
    root = Path(tempfile.mkdtemp(prefix="csops-postgres-"))
    data = root / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres")
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "csops", "--auth=trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                    "-w", "start"], check=True, capture_output=True)
    try:
        for _ in range(50):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        subprocess.run([*as_postgres, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "csops",
                        "csops_test"], check=True, capture_output=True)
        yield f"postgresql+psycopg://csops@127.0.0.1:{port}/csops_test"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def opdb_url(request, tmp_path) -> str:
    """An empty operational database on each backend: a SQLite file, or a fresh schema on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    import uuid

    from sqlalchemy import create_engine, text

    server = request.getfixturevalue("postgres_url")
    database = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {database}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{database}"


@pytest.fixture
def session(tmp_path):
    """A session on a fresh SQLite operational database (the account agent's unit tests)."""
    from csops.opdb import open_opdb, sessions

    with sessions(open_opdb(f"sqlite:///{tmp_path / 'ops.sqlite'}"))() as session:
        yield session
