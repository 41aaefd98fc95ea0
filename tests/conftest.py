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
    for name in ("CSOPS_LANDING_DIR", "CSOPS_DUCKDB_PATH", "DAGSTER_HOME", "CSOPS_REPORTS_DIR"):
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
