"""What a report holds, independent of its format: sections of cited facts, bullets, a chart and a table. The deck
(deck.py) and the HTML/PDF report (html.py) render the same `Report`, so they cannot say different things."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from delivery.reports.charts import Chart


def money(value, currency: str | None) -> str:
    return "n/a" if value is None else f"{currency or ''} {float(value):,.0f}".strip()


def pct(value) -> str:
    return "n/a" if value is None else f"{100 * float(value):.0f}%"


def show(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime) and value == datetime.combine(value.date(), datetime.min.time()):
        return value.date().isoformat()  # a date held as a midnight timestamp (pandas)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class Fact:
    """One figure and where it comes from (`schema.table.column`), cited in the speaker notes."""

    label: str
    value: object
    source: str

    def cite(self) -> str:
        return f"{self.label} = {show(self.value)} [{self.source}]"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    key: str
    title: str
    bullets: list[str] = field(default_factory=list)
    chart: Chart | None = None
    table: Table | None = None
    # Why a chart or figure is absent (missing input named), shown in its place
    note: str | None = None
    facts: list[Fact] = field(default_factory=list)

    def speaker_notes(self) -> str:
        lines = [f"Sources for '{self.title}':"]
        lines += [f"- {fact.cite()}" for fact in self.facts]
        if self.chart is not None:
            lines.append(f"- chart '{self.chart.title}': {self.chart.source}")
        if self.note:
            lines.append(f"- note: {self.note}")
        return "\n".join(lines)


@dataclass
class Report:
    kind: str  # "account" or "portfolio"
    title: str
    subtitle: str
    as_of: date
    sections: list[Section]
    # Optional inputs that were absent (agent tables, briefs, registry), said plainly in the report
    data_notes: list[str] = field(default_factory=list)

    def charts(self) -> list[Chart]:
        return [s.chart for s in self.sections if s.chart is not None]
