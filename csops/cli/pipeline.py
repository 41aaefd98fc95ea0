"""Pipeline commands: `demo`, `run`, `summary`, `ui`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from csops.cli.output import say
from csops.instance import ensure_dagster_home
from csops.settings import Settings

JOBS = ("csops_pipeline", "ml_weekly_retrain", "ml_daily_scoring")


def register(commands: argparse._SubParsersAction) -> None:
    from csops.cli.lab import DEMO_ACCOUNTS, DEMO_MONTHS, DEMO_SEED

    demo = commands.add_parser("demo", help="generate demo data if none, run the whole pipeline, print a summary")
    demo.add_argument("--accounts", type=int, default=DEMO_ACCOUNTS)
    demo.add_argument("--months", type=int, default=DEMO_MONTHS)
    demo.add_argument("--seed", type=int, default=DEMO_SEED)
    demo.set_defaults(handler=_demo_command)
    run = commands.add_parser("run", help="run the main job on the landing zone as it is (new batches only)")
    run.add_argument("--job", default="csops_pipeline", choices=JOBS,
                     help="csops_pipeline (default: everything), ml_weekly_retrain or ml_daily_scoring")
    run.set_defaults(handler=_run_command)
    summary = commands.add_parser("summary", help="print tables, row counts and quarantined rows of the warehouse")
    summary.set_defaults(handler=lambda _args, settings: print_summary(settings))
    ui = commands.add_parser("ui", help="start the Dagster UI (dagster dev) on this project")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=_ui_command)


def _prepare(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_dagster_home(settings.dagster_home)


def _demo_command(args: argparse.Namespace, settings: Settings) -> int:
    from csops.cli.lab import generate_landing

    _prepare(settings)
    if (settings.landing_dir / "_manifest.json").exists():
        say(f"reusing the landing zone in {settings.landing_dir}")
    else:
        generate_landing(settings.landing_dir, args.accounts, args.months, args.seed)
    return run_pipeline(settings)


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    _prepare(settings)
    return run_pipeline(settings, args.job)


def run_pipeline(settings: Settings, job_name: str = JOBS[0]) -> int:
    import dagster as dg

    from orchestration.lib.dbt_project import prepare_manifest
    from orchestration.lib.recovery import launch_guard
    from orchestration.run import failed_checks, run_pipeline as run_job

    # One run at a time: refuses at once while another is alive, cleans up after a crashed one (lib/recovery.py).
    with dg.DagsterInstance.get() as instance, launch_guard(instance, settings.duckdb_path, say):
        say("parsing the dbt project")
        prepare_manifest()
        say(f"running job {job_name} (Dagster instance {settings.dagster_home})")
        started = time.monotonic()
        result = run_job(instance, job_name=job_name)
    say(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.1f} s")
    print_summary(settings)
    for severity, heading in (
        ("ERROR", "Failed checks (steps downstream of a failed blocking check did not run)"),
        ("WARN", "Warnings (advisory checks; nothing was stopped)"),
    ):
        names = failed_checks(result, severity)
        if names:
            print(heading)
            print("\n".join(f"  {name}" for name in names))
    print(f"Warehouse: {settings.duckdb_path}")
    print("Open the Dagster UI with `make ui` (or `csops ui`), then http://127.0.0.1:3000")
    return 0 if result.success else 1


def print_summary(settings: Settings) -> int:
    import duckdb

    from csops.reporting.cs_highlights import format_highlights
    from csops.reporting.pipeline_summary import format_summary

    from csops.serving import open_summary_source, summary_heading

    if not settings.duckdb_path.exists():
        print(f"No warehouse at {settings.duckdb_path} yet: run `csops demo` or `csops run` first.")
        return 1
    path, con = open_summary_source(settings)
    with con:
        print(summary_heading(con, path))
        print(format_summary(con))
        try:
            print(format_highlights(con))
        except duckdb.CatalogException:
            print("The marts are not built yet (a check failed or dbt did not run): no highlights.")
    return 0


def _ui_command(args: argparse.Namespace, settings: Settings) -> int:
    from csops.settings import PROJECT_ROOT
    from orchestration.lib.dbt_project import prepare_manifest

    _prepare(settings)
    prepare_manifest()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-p", str(args.port)]
    os.chdir(PROJECT_ROOT)
    os.execv(command[0], command)
