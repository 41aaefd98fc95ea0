"""The data sets and the options of `csops bench`, kept free of heavy imports: the CLI builds its parser from them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED = 7


@dataclass(frozen=True)
class DataSet:
    name: str
    accounts: int
    months: int


SIZES = {
    "small": DataSet("small", 300, 18),  # the demo set
    "medium": DataSet("medium", 2_000, 12),
    "large": DataSet("large", 10_000, 12),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=list(SIZES), default="small",
                        help="data set: " + ", ".join(f"{s.name} ({s.accounts:,} accounts x {s.months} months)"
                                                      for s in SIZES.values()) + " (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (default %(default)s)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="data set cache folder (default: $CSOPS_BENCH_CACHE or $CSOPS_DATA_DIR/bench/cache)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: $CSOPS_DATA_DIR/bench/results/<timestamp>-<size>)")
    parser.add_argument("--memory-limit", type=float, default=None, metavar="GIB",
                        help="stop a step whose processes together hold more memory than this, so it cannot exhaust "
                        "a shared machine (default: three quarters of the machine's memory)")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the run's landing copy and warehouses (deleted by default)")
