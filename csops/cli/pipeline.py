"""Pipeline commands: `demo`, `run`, `summary`, `ui`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from csops.cli.output import say
from csops.instance import ensure_dagster_home
from csops.settings import Settings

JOBS = ("csops_pipeline", "csops_daily", "ml_weekly_retrain")


def register(commands: argparse._SubParsersAction) -> None:
    from csops.cli.lab import DEMO_ACCOUNTS, DEMO_MONTHS, DEMO_SEED

    demo = commands.add_parser("demo", help="generate demo data if none, run the whole pipeline, print a summary")
    demo.add_argument("--accounts", type=int, default=DEMO_ACCOUNTS)
    demo.add_argument("--months", type=int, default=DEMO_MONTHS)
    demo.add_argument("--seed", type=int, default=DEMO_SEED)
    demo.set_defaults(handler=_demo_command)
    run = commands.add_parser("run", help="run the main job on the landing zone as it is (new batches only)")
    run.add_argument("--job", default="csops_pipeline", choices=JOBS,
                     help="csops_pipeline (default: everything), csops_daily (no training) or ml_weekly_retrain")
    run.set_defaults(handler=_run_command)
    summary = commands.add_parser("summary", help="print tables, row counts and quarantined rows of the warehouse")
    summary.set_defaults(handler=lambda _args, settings: print_summary(settings, tables_built=True))
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
        generate_landing(settings.landing_dir, args.accounts, args.months, args.seed, verbose=False)
    code = run_pipeline(settings)
    if code == 0:
        deliver_alerts(settings)
    return code


def deliver_alerts(settings: Settings) -> None:
    """One Slack delivery tick, what the `slack_alerts` sensor does under the Dagster daemon: with no SLACK_BOT_TOKEN
    (the demo) the Block Kit messages go to the file sink."""

    from delivery.slack.service import SlackConfig, run_tick

    config = SlackConfig.from_env(settings)
    report = run_tick(config)
    where = "Slack" if os.environ.get("SLACK_BOT_TOKEN") else config.sink_path
    say(f"Slack delivery ({where}): {report.line()}")


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    _prepare(settings)
    return run_pipeline(settings, args.job)


def run_pipeline(settings: Settings, job_name: str = JOBS[0]) -> int:
    import dagster as dg

    from orchestration.lib.dbt_project import prepare_manifest
    from orchestration.lib.recovery import launch_guard
    from orchestration.run import check_descriptions, failed_checks, write_run_log
    from orchestration.run import run_pipeline as run_job

    log_path = settings.data_dir / "logs" / f"{time.strftime('%Y%m%dT%H%M%S')}-{job_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console = sys.stdout
    # One run at a time: refuses at once while another is alive, cleans up after a crashed one (lib/recovery.py).
    with dg.DagsterInstance.get() as instance, launch_guard(instance, settings.duckdb_path, say):
        say("parsing the dbt project")
        prepare_manifest()
        say(f"running job {job_name} (Dagster instance {settings.dagster_home}); one line per stage:")
        started = time.monotonic()
        with log_path.open("w") as log:
            # The console shows stages only. dbt's own output (dagster-dbt writes it to stdout) goes to the log
            # file, followed by every event of the run, which also stays in the Dagster event log (the UI).
            with contextlib.redirect_stdout(log):
                result = run_job(instance, log_level="CRITICAL", job_name=job_name,
                                 progress=lambda line: print(f"[csops]   {line}", file=console, flush=True))
            write_run_log(instance, result.run_id, log)
    say(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.1f} s; "
        f"its full log: {log_path}")
    print_summary(settings, tables_built=False)
    for severity, heading in (
        ("ERROR", "Failed checks (a failed blocking check stops the steps downstream of it)"),
        ("WARN", "Warnings (advisory checks; nothing was stopped)"),
    ):
        names = failed_checks(result, severity)
        if names:
            print(heading)
            print("\n".join(f"  {name}" for name in names))
    # A customer's data that leaves features empty is worth its own lines: the scores read differently.
    for description in check_descriptions(result, "data_profile"):
        print(f"Data profile: {description}")
    print(f"Warehouse: {settings.duckdb_path}; the Dagster UI: `make ui` (or `csops ui`), then http://127.0.0.1:3000")
    return 0 if result.success else 1


def print_summary(settings: Settings, tables_built: bool) -> int:
    """What the warehouse holds; after a run (`tables_built=False`) the short form a person reads first."""
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
        print(format_summary(con, tables_built=tables_built, most_reasons=None if tables_built else 3))
        try:
            print(format_highlights(con))
        except duckdb.CatalogException:
            print("The marts are not built yet (a check failed or dbt did not run): no highlights.")
        print(format_action_layer(settings, con))
    return 0


def format_action_layer(settings: Settings, con, top: int = 5) -> str:
    """What the account agent and delivery left for people: the top of the queue, the alerts, briefs and reports."""
    from actions.summary import alert_counts, top_of_queue
    from csops.opdb import open_opdb, sessions
    from delivery.briefs.store import summary as briefs_summary

    lines = [f"Top {top} of the next-best-action queue (by expected value; `csops queue` lists it)"]
    with sessions(open_opdb(settings.opdb_url))() as session:
        queue, alerts = top_of_queue(session, top), alert_counts(session)
    lines += [f"  {row['account_id']} -> {row['owner']}: {row['title']} (expected value {row['expected_value']:,.0f}, "
              f"due {row['due_on']})" for row in queue] or ["  empty"]
    lines.append(f"Alerts: {alerts['raised']} raised ({alerts['digest']} into digests over the weekly budget), "
                 f"{alerts['held']} held back on stale data (`csops alerts list`)")
    briefs = dict(briefs_summary(con))
    lines.append(f"Briefs and plan drafts: {briefs.get('briefs written', briefs.get('briefs', 'none'))} in "
                 f"delivery.briefs, {briefs.get('briefs flagged', '0')} flagged")
    reports = settings.reports_dir
    if (reports / "portfolio.html").exists():
        decks = len(list((reports / "accounts").glob("*.pptx")))
        lines.append(f"Reports: {decks} QBR decks with HTML and PDF (renewals within 120 days) in {reports / 'accounts'}, "
                     f"the portfolio report in {reports / 'portfolio.html'}")
    return "\n".join(lines)


def _ui_command(args: argparse.Namespace, settings: Settings) -> int:
    from csops.settings import PROJECT_ROOT
    from orchestration.lib.dbt_project import prepare_manifest

    _prepare(settings)
    prepare_manifest()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-p", str(args.port)]
    say(f"starting the Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
    return run_process_group(command, cwd=PROJECT_ROOT)


def run_process_group(command: list[str], cwd: Path, grace_seconds: float = 5.0) -> int:
    """Run `command` in a process group of its own and end the whole group when this process is asked to stop:
    `dagster dev` starts a webserver, a daemon and code servers that can outlive a signal sent to it alone."""
    import signal
    import subprocess

    child = subprocess.Popen(command, cwd=cwd, start_new_session=True)
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        deadline = None
        while (code := child.poll()) is None:
            time.sleep(0.2)
            if stopping and deadline is None:
                deadline = time.monotonic() + grace_seconds
            if deadline is not None and time.monotonic() > deadline:  # still there after the grace period
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is left (a code server, say)
            os.killpg(child.pid, signal.SIGKILL)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else code
