"""A `Report` as one self-contained HTML file (charts as inline SVG, no script, nothing fetched when opened), and the
PDF printed from it by headless Chromium."""

from __future__ import annotations

import shutil
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


class PdfPrinter:
    """One headless Chromium (Debian's, driven by Playwright) that prints many HTML files: starting the browser costs
    ~1.5 s, a print ~0.3 s, so a batch of reports pays the start once. A missing browser or a failed print is a
    reason in the result, not a crash. Use as a context manager."""

    def __init__(self) -> None:
        self._playwright = self._browser = self._page = None
        self.unavailable = ""

    def __enter__(self) -> PdfPrinter:
        binary = chromium_binary()
        if binary is None:
            self.unavailable = "chromium is not installed: no PDF (the HTML report is complete)"
            return self
        from playwright.sync_api import Error, sync_playwright

        try:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=binary, timeout=PRINT_TIMEOUT_S * 1000,
                # Playwright passes its own headless flag.
                args=[*(f for f in CHROMIUM_FLAGS if f != "--headless"), *OFFLINE_FLAGS])
            self._page = self._browser.new_page()
        except Error as error:
            self.unavailable = f"chromium did not start: {str(error).splitlines()[0]}"
        return self

    def print(self, html_path: Path, pdf_path: Path) -> PrintResult:
        if self.unavailable:
            return PrintResult(None, self.unavailable)
        from playwright.sync_api import Error

        pdf_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._page.goto(html_path.resolve().as_uri(), timeout=PRINT_TIMEOUT_S * 1000)
            self._page.pdf(path=str(pdf_path), print_background=True, prefer_css_page_size=True)
        except Error as error:
            return PrintResult(None, f"chromium could not print {html_path.name}: {str(error).splitlines()[0]}")
        if not pdf_path.exists() or pdf_path.stat().st_size == 0:
            return PrintResult(None, f"chromium printed nothing for {html_path.name}")
        return PrintResult(pdf_path)

    def __exit__(self, *_exc) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


def print_pdf(html_path: Path, pdf_path: Path) -> PrintResult:
    """Print one HTML file to PDF (a batch: `PdfPrinter`)."""
    with PdfPrinter() as printer:
        return printer.print(html_path, pdf_path)
