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
    for name in ("CSOPS_LANDING_DIR", "CSOPS_DUCKDB_PATH", "CSOPS_SERVING_PATH", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CSOPS_DATA_DIR", str(data))
    monkeypatch.setenv("CSOPS_MODELS_DIR", str(tmp_path / "models"))
    settings = Settings.from_env()
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    ensure_dagster_home(settings.dagster_home)
    return settings
