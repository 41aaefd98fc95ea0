"""Lab commands: synthetic data, benchmarks and model evaluation (they drive the product from outside)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from csops.cli.output import say
from csops.settings import Settings
from lab.bench.options import DEFAULT_SEED, SIZES
from lab.bench.options import add_arguments as add_bench_arguments

DEMO_ACCOUNTS, DEMO_MONTHS, DEMO_SEED = SIZES["small"].accounts, SIZES["small"].months, DEFAULT_SEED


def register(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser("generate", help="write a synthetic landing zone (all eight sources)")
    generate.add_argument("--accounts", type=int, default=DEMO_ACCOUNTS, help="number of accounts (default %(default)s)")
    generate.add_argument("--months", type=int, default=DEMO_MONTHS, help="months of history (default %(default)s)")
    generate.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed (default %(default)s)")
    generate.add_argument("--out", type=Path, default=None, help="landing folder (default: CSOPS_LANDING_DIR)")
    generate.add_argument("--defect-rate", type=float, default=0.005, help="share of defective rows (default %(default)s)")
    generate.add_argument("--end", type=date.fromisoformat, default=None, help="last day of data, YYYY-MM-DD")
    generate.add_argument("--regime", default="default",
                          help="vocabulary, sources and churn mechanics, joined with '+' (docs/synthetic-data.md)")
    generate.set_defaults(handler=_generate_command)
    # Listed for --help only: main() hands `evaluate` and its own options to lab.evaluate.
    commands.add_parser("evaluate", help="train and evaluate the models on a fresh generated set (`csops evaluate --help`)")
    commands.add_parser("eval-voice", help="voice classifiers vs the generator's truth on a held-out set "
                        "(`csops eval-voice --help`)")
    bench = commands.add_parser("bench", help="measure every stage against physical baselines (docs/benchmarks.md)")
    add_bench_arguments(bench)
    bench.set_defaults(handler=_bench_command)


def generate_landing(out: Path, accounts: int, months: int, seed: int, defect_rate: float = 0.005,
                     end: date | None = None, verbose: bool = True, regime: str = "default"):
    """`verbose`: a line per source and month as they are written; otherwise only the closing line."""
    from lab.generator import generate

    say(f"generating {accounts} accounts x {months} months (seed {seed}"
        + (f", regime {regime}" if regime != "default" else "") + f") into {out}")
    options = {"end": end} if end else {}
    summary = generate(out, accounts=accounts, months=months, seed=seed, defect_rate=defect_rate, regime=regime,
                       progress=(lambda msg: say(f"  {msg}")) if verbose else (lambda _msg: None), **options)
    rows = ", ".join(f"{source} {count:,}" for source, count in summary.rows.items())
    say(f"generated in {summary.seconds:.1f} s: {rows}")
    return summary


def _generate_command(args: argparse.Namespace, settings: Settings) -> int:
    generate_landing(args.out or settings.landing_dir, args.accounts, args.months, args.seed, args.defect_rate,
                     args.end, regime=args.regime)
    return 0


def _bench_command(args: argparse.Namespace, _settings: Settings) -> int:
    from lab.bench.run import main as bench_main

    return bench_main(args)
