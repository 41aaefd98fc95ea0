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
    from ml.registry import Registry

    env = os.environ.copy()
    first = run_csops("demo", "--accounts", "30", "--months", "4", env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "generating 30 accounts x 4 months" in first.stdout
    # One line per stage on the console, dbt's and Dagster's own lines in the log file it names.
    lines = first.stdout.splitlines()
    assert len(lines) < 80, first.stdout
    for stage in ("ingest:", "transform:", "ml:"):
        assert any(line.startswith(f"[csops]   {stage}") for line in lines), stage
    assert "START sql" not in first.stdout
    log_file = Path(next(line for line in lines if "its full log: " in line).split("its full log: ")[1])
    assert "OK created sql incremental model marts.fct_account_daily" in log_file.read_text()
    # The summary reads the serving file the run published.
    assert "Serving file" in first.stdout
    assert "Quarantined rows by source and reason" in first.stdout
    assert "Top 5 accounts most at risk of churn within 90 days" in first.stdout
    assert str(csops_env.duckdb_path) in first.stdout
    # the reports: decks, value reports and PDFs of the accounts renewing within 120 days, and the portfolio
    assert f"the portfolio report in {csops_env.reports_dir / 'portfolio.html'}" in first.stdout
    assert (csops_env.reports_dir / "portfolio.pdf").exists()
    with duckdb.connect(str(csops_env.duckdb_path), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM raw.usage_events").fetchone()[0]
        scored = con.execute("SELECT count(*) FROM ml.churn_scores").fetchone()[0]
    assert scored > 0
    versions = {task: Registry(csops_env.data_dir.parent / "models").versions(task) for task in ("churn", "expansion")}

    second = run_csops("demo", env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "reusing the landing zone" in second.stdout
    with duckdb.connect(str(csops_env.duckdb_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.usage_events").fetchone()[0] == before
    # Unchanged data: no model version is made again.
    assert {task: Registry(csops_env.data_dir.parent / "models").versions(task)
            for task in ("churn", "expansion")} == versions
    # Both runs are in the project's Dagster instance (not a temporary one), which the UI reads.
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs_count() == 2
        latest = instance.get_latest_materialization_event(dg.AssetKey(["raw", "usage_events"]))
        assert latest.asset_materialization.metadata["new_batches"].value == 0
    assert "Top 5 Muda" in first.stdout and "Open handoff gaps" in first.stdout

def _stat(pid: str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, parent, ...), or None when the process is gone."""
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _descendants(ancestor: int) -> set[str]:
    parents = {p.name: (_stat(p.name) or [None, "0"])[1] for p in Path("/proc").iterdir() if p.name.isdigit()}
    found, frontier = set(), {str(ancestor)}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[str]) -> set[str]:
    return {pid for pid in pids if (_stat(pid) or ["Z"])[0] != "Z"}


def test_ui_stops_all_its_processes_on_sigterm(csops_env, dbt_manifest):
    import contextlib
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ui = subprocess.Popen([CSOPS, "ui", "--port", str(port)], env=os.environ.copy(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not answer within 240 s"
                time.sleep(1)
        processes = _descendants(ui.pid)
        assert len(processes) >= 3, processes  # dagster dev, its webserver, daemon and code server
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=15)
        deadline = time.monotonic() + 5
        while _alive(processes) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(processes), f"still running 5 s after csops ui ended: {_alive(processes)}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ui.pid, signal.SIGKILL)
