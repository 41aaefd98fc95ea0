"""The project's own Dagster instance (DAGSTER_HOME under the data folder), so the UI shows the demo's runs."""

from __future__ import annotations

from pathlib import Path

# Pools: DuckDB takes one writer process, so the `duckdb` pool (and any other) runs one step at a time.
DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def ensure_dagster_home(dagster_home: Path) -> Path:
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return dagster_home
