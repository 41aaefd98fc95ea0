"""Report commands: `csops report ACCOUNT_ID [--format pptx|html|pdf]` and `csops report --portfolio`."""

from __future__ import annotations

import argparse
import sys

from csops.cli.output import say
from csops.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="write an account's QBR deck and value report, or the portfolio report (CSOPS_REPORTS_DIR)")
    report.add_argument("account_id", nargs="?", help="the account (marts.dim_accounts.account_id)")
    report.add_argument("--portfolio", action="store_true", help="the CS leader's portfolio report instead")
    report.add_argument("--format", choices=("pptx", "html", "pdf"), default=None,
                        help="one format (a PDF is printed from the HTML, written beside it); default: all three")
    report.set_defaults(handler=_report_command)


def _report_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.portfolio == bool(args.account_id):
        print("csops report: give an ACCOUNT_ID or --portfolio (one of them)", file=sys.stderr)
        return 2
    if not settings.duckdb_path.exists():
        print(f"csops report: no warehouse at {settings.duckdb_path}: run `csops demo` or `csops run` first",
              file=sys.stderr)
        return 1
    from delivery.reports.account import ReportError
    from delivery.reports.write import FORMATS, write_account, write_portfolio
    from ml.config import models_dir

    formats = (args.format,) if args.format else FORMATS
    try:
        with settings.connect_warehouse(read_only=True) as con:
            written = (write_portfolio(con, settings.reports_dir, models_dir(), formats) if args.portfolio
                       else write_account(con, args.account_id, settings.reports_dir, formats))
    except ReportError as error:
        print(f"csops report: {error}", file=sys.stderr)
        return 1
    for kind, path in written.files.items():
        say(f"{kind}: {path}")
    for reason in written.reasons:
        say(f"not written: {reason}")
    return 0 if set(formats) <= set(written.files) else 1
