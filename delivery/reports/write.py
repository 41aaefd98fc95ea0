"""Write reports to files, for the CLI and the Dagster assets:

    <reports_dir>/accounts/<account_id>.pptx | .html | .pdf     QBR deck, value report, its PDF
    <reports_dir>/portfolio.pptx | .html | .pdf                  the CS leader's portfolio report

A PDF is printed from the HTML file, so asking for a PDF writes the HTML too. A PDF that could not be printed is a
reason in the result, not an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from delivery.reports.account import build_account_report, renewal_accounts
from delivery.reports.content import Report
from delivery.reports.deck import write_deck
from delivery.reports.html import print_pdf, write_html
from delivery.reports.portfolio import build_portfolio_report

FORMATS = ("pptx", "html", "pdf")
RENEWAL_WINDOW_DAYS = 120


@dataclass
class Written:
    name: str
    report: Report
    files: dict[str, Path] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def safe_name(account_id: str) -> str:
    """Account ids come from the CRM: keep them from naming a path outside the reports folder."""
    return re.sub(r"[^\w.-]", "_", account_id).lstrip(".") or "_"


def _write(report: Report, stem: Path, formats: tuple[str, ...], written: Written) -> Written:
    if "pptx" in formats:
        written.files["pptx"] = write_deck(report, stem.with_suffix(".pptx"))
    if "html" in formats or "pdf" in formats:
        written.files["html"] = write_html(report, stem.with_suffix(".html"))
    if "pdf" in formats:
        printed = print_pdf(written.files["html"], stem.with_suffix(".pdf"))
        if printed.path is None:
            written.reasons.append(printed.reason)
        else:
            written.files["pdf"] = printed.path
    return written


def write_account(con, account_id: str, reports_dir: Path, formats: tuple[str, ...] = FORMATS) -> Written:
    report = build_account_report(con, account_id)
    return _write(report, reports_dir / "accounts" / safe_name(account_id), formats, Written(account_id, report))


def write_value_reports(con, reports_dir: Path, days: int = RENEWAL_WINDOW_DAYS) -> list[Written]:
    """Deck, HTML and PDF for every account with a renewal in the next `days` days."""
    return [write_account(con, account_id, reports_dir) for account_id in renewal_accounts(con, days)]


def write_portfolio(con, reports_dir: Path, models_root: Path, formats: tuple[str, ...] = FORMATS) -> Written:
    report = build_portfolio_report(con, models_root)
    return _write(report, reports_dir / "portfolio", formats, Written("portfolio", report))
