"""A `Report` as one self-contained HTML file (charts as inline SVG, no script, nothing fetched when opened), and the
PDF printed from it by headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from delivery.reports.charts import to_svg
from delivery.reports.content import Report

TEMPLATES = Path(__file__).parent / "templates"
PRINT_TIMEOUT_S = 120
# Headless Chromium without a sandbox (CI runs as root), GPU, background services or first-run pages.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# Printing a self-contained file needs no network. Chromium still pings its own services (time, component updates,
# accounts) despite --disable-background-networking (seen through a recording proxy): no name resolves while printing.
OFFLINE_FLAGS = ["--disable-component-update", "--host-resolver-rules=MAP * ~NOTFOUND"]


def render_html(report: Report) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    svgs = {chart.key: to_svg(chart) for chart in report.charts()}
    return env.get_template("report.html").render(report=report, svgs=svgs)


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def expected_pdf_pages(report: Report) -> int:
    """The header page plus one page per section (print CSS starts each section on a new page)."""
    return 1 + len(report.sections)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PrintResult:
    path: Path | None
    reason: str = ""


def print_pdf(html_path: Path, pdf_path: Path) -> PrintResult:
    """Print the HTML file to PDF with headless Chromium; no browser or a failed print is a reason, not a crash."""
    binary = chromium_binary()
    if binary is None:
        return PrintResult(None, "chromium is not installed: no PDF (the HTML report is complete)")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="csops-chromium-") as profile:
        command = [binary, *CHROMIUM_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                   f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return PrintResult(None, f"chromium did not print within {PRINT_TIMEOUT_S} s")
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        return PrintResult(None, f"chromium printed nothing (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return PrintResult(pdf_path)
