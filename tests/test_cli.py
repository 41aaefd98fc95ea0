"""The commands a new user runs: `csops --help`, and `csops demo` twice (the second run reuses everything)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

CSOPS = str(Path(sys.executable).parent / "csops")


def run_csops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CSOPS, *args], env=env, capture_output=True, text=True, timeout=600)


def test_help_lists_the_commands():
    completed = subprocess.run([CSOPS, "--help"], capture_output=True, text=True, check=True)
    for command in ("generate", "demo", "run", "evaluate", "summary", "ui"):
        assert command in completed.stdout


def test_generate_rejects_bad_arguments(tmp_path):
    completed = run_csops("generate", "--accounts", "many", env=os.environ.copy())
    assert completed.returncode == 2
    assert "invalid int value" in completed.stderr


def test_demo_builds_everything_and_a_rerun_duplicates_nothing(csops_env, dbt_manifest):
    env = os.environ.copy()
    first = run_csops("demo", "--accounts", "30", "--months", "4", env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "generating 30 accounts x 4 months" in first.stdout
    # The summary reads the serving file the run published (marts and ingest records; staging stays behind).
    assert "Serving file" in first.stdout and "Tables built" in first.stdout
    assert "  marts.fct_account_health: " in first.stdout and "  staging.stg_usage_events: " not in first.stdout
    assert "Quarantined rows by source and reason" in first.stdout
    assert str(csops_env.duckdb_path) in first.stdout
    with duckdb.connect(str(csops_env.duckdb_path), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM raw.usage_events").fetchone()[0]

    second = run_csops("demo", env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "reusing the landing zone" in second.stdout
    with duckdb.connect(str(csops_env.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.usage_events").fetchone()[0] == before
    # Both runs are in the project's Dagster instance (not a temporary one), which the UI reads.
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs_count() == 2
        latest = instance.get_latest_materialization_event(dg.AssetKey(["raw", "usage_events"]))
        assert latest.asset_materialization.metadata["new_batches"].value == 0
    assert "Top 5 Muda" in first.stdout and "Open handoff gaps" in first.stdout
