"""Write reports to files, for the CLI and the Dagster assets:

    <reports_dir>/accounts/<account_id>.pptx | .html | .pdf     QBR deck, value report, its PDF
    <reports_dir>/portfolio.pptx | .html | .pdf                  the CS leader's portfolio report

A PDF is printed from the HTML file, so asking for a PDF writes the HTML too. A PDF that could not be printed is a
reason in the result, not an exception. A report whose content (and renderer) is unchanged since its files were
written is not written again: a hidden `.<name>.sha256` beside the files holds what they were made from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from delivery.reports.account import build_account_report, renewal_accounts
from delivery.reports.content import Report
from delivery.reports.deck import write_deck
from delivery.reports.html import PdfPrinter, write_html
from delivery.reports.portfolio import build_portfolio_report

FORMATS = ("pptx", "html", "pdf")
RENEWAL_WINDOW_DAYS = 120


@dataclass
class Written:
    name: str
    report: Report
    files: dict[str, Path] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    unchanged: bool = False  # the files on disk were already made from this content


def safe_name(account_id: str) -> str:
    """Account ids come from the CRM: keep them from naming a path outside the reports folder."""
    return re.sub(r"[^\w.-]", "_", account_id).lstrip(".") or "_"


@cache
def _renderer_hash() -> str:
    """The code and templates that draw a report: a change to them redraws every report."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*")):
        if path.suffix in (".py", ".html"):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def content_hash(report: Report, formats: tuple[str, ...]) -> str:
    content = json.dumps(dataclasses.asdict(report), sort_keys=True, default=str)
    return hashlib.sha256(f"{_renderer_hash()}|{sorted(formats)}|{content}".encode()).hexdigest()


def _write(report: Report, stem: Path, formats: tuple[str, ...], written: Written, printer: PdfPrinter) -> Written:
    stem.parent.mkdir(parents=True, exist_ok=True)
    wanted = {"pptx": "pptx" in formats, "html": bool({"html", "pdf"} & set(formats)), "pdf": "pdf" in formats}
    paths = {kind: stem.with_suffix(f".{kind}") for kind, want in wanted.items() if want}
    marker, digest = stem.parent / f".{stem.name}.sha256", content_hash(report, formats)
    if marker.exists() and marker.read_text() == digest and all(path.exists() for path in paths.values()):
        written.files, written.unchanged = paths, True
        return written
    if "pptx" in paths:
        written.files["pptx"] = write_deck(report, paths["pptx"])
    if "html" in paths:
        written.files["html"] = write_html(report, paths["html"])
    if "pdf" in paths:
        printed = printer.print(written.files["html"], paths["pdf"])
        if printed.path is None:
            written.reasons.append(printed.reason)
        else:
            written.files["pdf"] = printed.path
    if not written.reasons:  # a report with a missing part is tried again next time
        marker.write_text(digest)
    return written


def write_account(con, account_id: str, reports_dir: Path, formats: tuple[str, ...] = FORMATS,
                  printer: PdfPrinter | None = None) -> Written:
    report = build_account_report(con, account_id)
    return _written(report, reports_dir / "accounts" / safe_name(account_id), formats, Written(account_id, report),
                    printer)


def write_value_reports(con, reports_dir: Path, days: int = RENEWAL_WINDOW_DAYS) -> list[Written]:
    """Deck, HTML and PDF for every account with a renewal in the next `days` days (one browser prints them all)."""
    with PdfPrinter() as printer:
        return [write_account(con, account_id, reports_dir, printer=printer)
                for account_id in renewal_accounts(con, days)]


def write_portfolio(con, reports_dir: Path, models_root: Path, formats: tuple[str, ...] = FORMATS) -> Written:
    report = build_portfolio_report(con, models_root)
    return _written(report, reports_dir / "portfolio", formats, Written("portfolio", report), None)


def _written(report: Report, stem: Path, formats: tuple[str, ...], written: Written,
             printer: PdfPrinter | None) -> Written:
    """`_write` with the caller's browser, or one of its own when a PDF is asked for (a browser costs ~1.5 s)."""
    if printer is not None or "pdf" not in formats:
        return _write(report, stem, formats, written, printer or PdfPrinter())
    with PdfPrinter() as own:
        return _write(report, stem, formats, written, own)
