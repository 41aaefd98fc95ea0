"""Shared fixtures: a temp data folder per test, and the dbt manifest prepared once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    from orchestration.dbt_project import prepare_manifest

    return prepare_manifest()


@pytest.fixture
def csops_env(tmp_path, monkeypatch):
    """Point every csops path (landing, warehouse, Dagster home) into a temp folder."""
    from csops.instance import ensure_dagster_home
    from csops.settings import Settings

    data = tmp_path / "data"
    for name in ("CSOPS_LANDING_DIR", "CSOPS_DUCKDB_PATH", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CSOPS_DATA_DIR", str(data))
    settings = Settings.from_env()
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    ensure_dagster_home(settings.dagster_home)
    return settings
