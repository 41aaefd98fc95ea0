"""`csops`: generate data, run the pipeline, open the UI. `csops --help` lists the commands."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from csops.bench.options import DEFAULT_SEED, SIZES
from csops.bench.options import add_arguments as add_bench_arguments
from csops.instance import ensure_dagster_home
from csops.settings import Settings

DEMO_ACCOUNTS, DEMO_MONTHS, DEMO_SEED = SIZES["small"].accounts, SIZES["small"].months, DEFAULT_SEED
JOBS = ("csops_pipeline", "ml_weekly_retrain", "ml_daily_scoring")


def _say(message: str) -> None:
    print(f"[csops] {message}", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csops",
        description="Customer Success operations as Dagster pipelines. Paths come from CSOPS_DATA_DIR "
        "(default: ./data), CSOPS_LANDING_DIR, CSOPS_DUCKDB_PATH and DAGSTER_HOME.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="write a synthetic landing zone (all eight sources)")
    generate.add_argument("--accounts", type=int, default=DEMO_ACCOUNTS, help="number of accounts (default %(default)s)")
    generate.add_argument("--months", type=int, default=DEMO_MONTHS, help="months of history (default %(default)s)")
    generate.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed (default %(default)s)")
    generate.add_argument("--out", type=Path, default=None, help="landing folder (default: CSOPS_LANDING_DIR)")
    generate.add_argument("--defect-rate", type=float, default=0.005, help="share of defective rows (default %(default)s)")
    generate.add_argument("--end", type=date.fromisoformat, default=None, help="last day of data, YYYY-MM-DD")

    demo = commands.add_parser("demo", help="generate demo data if none, run the whole pipeline, print a summary")
    demo.add_argument("--accounts", type=int, default=DEMO_ACCOUNTS)
    demo.add_argument("--months", type=int, default=DEMO_MONTHS)
    demo.add_argument("--seed", type=int, default=DEMO_SEED)

    run = commands.add_parser("run", help="run the pipeline on the landing zone as it is (new batches only)")
    run.add_argument("--job", default="csops_pipeline", choices=JOBS,
                     help="csops_pipeline (default), ml_weekly_retrain (also retrains the models) or ml_daily_scoring")
    # Listed for --help only: main() hands `evaluate` and its own options to ml.evaluate.
    commands.add_parser("evaluate", help="train and evaluate the models on a fresh generated set (`csops evaluate --help`)")
    bench = commands.add_parser("bench", help="measure every stage against physical baselines (docs/benchmarks.md)")
    add_bench_arguments(bench)
    commands.add_parser("summary", help="print tables, row counts and quarantined rows of the warehouse")
    ui = commands.add_parser("ui", help="start the Dagster UI (dagster dev) on this project")
    ui.add_argument("--port", type=int, default=3000)
    return parser


def _generate(out: Path, accounts: int, months: int, seed: int, defect_rate: float = 0.005, end: date | None = None):
    from csops.generator import generate

    _say(f"generating {accounts} accounts x {months} months (seed {seed}) into {out}")
    options = {"end": end} if end else {}
    summary = generate(out, accounts=accounts, months=months, seed=seed, defect_rate=defect_rate,
                       progress=lambda msg: _say(f"  {msg}"), **options)
    rows = ", ".join(f"{source} {count:,}" for source, count in summary.rows.items())
    _say(f"generated in {summary.seconds:.1f} s: {rows}")
    return summary


def _run_pipeline(settings: Settings, job_name: str = JOBS[0]) -> int:
    import dagster as dg

    from orchestration.dbt_project import prepare_manifest
    from orchestration.run import failed_checks, run_pipeline

    _say("parsing the dbt project")
    prepare_manifest()
    _say(f"running job {job_name} (Dagster instance {settings.dagster_home})")
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(instance, job_name=job_name)
    _say(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.1f} s")
    _print_summary(settings)
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


def _print_summary(settings: Settings) -> int:
    import duckdb

    from csops.reporting.cs_highlights import format_highlights
    from csops.reporting.pipeline_summary import format_summary

    if not settings.duckdb_path.exists():
        print(f"No warehouse at {settings.duckdb_path} yet: run `csops demo` or `csops run` first.")
        return 1
    with settings.connect_warehouse(read_only=True) as con:
        print(format_summary(con))
        try:
            print(format_highlights(con))
        except duckdb.CatalogException:
            print("The marts are not built yet (a check failed or dbt did not run): no highlights.")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["evaluate"]:
        from ml.evaluate import main as evaluate_main

        return evaluate_main(argv[1:])
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    settings.export()

    if args.command == "generate":
        _generate(args.out or settings.landing_dir, args.accounts, args.months, args.seed, args.defect_rate, args.end)
        return 0

    if args.command == "bench":
        from csops.bench.run import main as bench_main

        return bench_main(args)

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_dagster_home(settings.dagster_home)
    if args.command == "demo":
        if (settings.landing_dir / "_manifest.json").exists():
            _say(f"reusing the landing zone in {settings.landing_dir}")
        else:
            _generate(settings.landing_dir, args.accounts, args.months, args.seed)
        return _run_pipeline(settings)
    if args.command == "run":
        return _run_pipeline(settings, args.job)
    if args.command == "summary":
        return _print_summary(settings)
    if args.command == "ui":
        from orchestration.dbt_project import prepare_manifest
        from csops.settings import PROJECT_ROOT

        prepare_manifest()
        dagster = Path(sys.executable).parent / "dagster"
        command = [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-p", str(args.port)]
        os.chdir(PROJECT_ROOT)
        os.execv(command[0], command)
    return 2


if __name__ == "__main__":
    sys.exit(main())
