"""One chart description, drawn twice: as a native PowerPoint chart (deck.py) and as inline SVG (here, with
matplotlib's SVG backend, so the HTML report needs no script and fetches nothing when opened)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

PALETTE = ["#1f5f8b", "#e07b39", "#3a9d5d", "#c0392b", "#7f8c8d", "#8e44ad"]
BAND_COLOURS = {"green": "#3a9d5d", "yellow": "#e2b93b", "red": "#c0392b"}


@dataclass
class Chart:
    key: str
    title: str
    kind: str  # "line", "bar" (clustered) or "stacked"
    categories: list[str]
    series: dict[str, list[float | None]]
    source: str  # table.column the values come from, cited under the chart and in the speaker notes
    unit: str = ""  # axis label
    # category -> label: drawn as a vertical marker (phase changes on the health history)
    markers: dict[str, str] = field(default_factory=dict)
    colours: dict[str, str] = field(default_factory=dict)  # series name -> colour
    # Line charts: series drawn as points without a line (where a phase began on the health history)
    points_only: tuple[str, ...] = ()

    def colour(self, i: int, name: str) -> str:
        return self.colours.get(name) or PALETTE[i % len(PALETTE)]

    def series_disjoint(self) -> bool:
        """No category has values in two series ("named at handoff" / "not named"): bars take the whole slot."""
        return all(sum(values[j] is not None for values in self.series.values()) <= 1
                   for j in range(len(self.categories)))


def _axes_label_every(n: int) -> int:
    return max(1, n // 12)


def to_svg(chart: Chart, width: float = 7.5, height: float = 3.2) -> str:
    """The chart as an `<svg>` element to inline in HTML: text drawn as paths, no external reference."""
    with rc_context({"svg.hashsalt": chart.key, "svg.fonttype": "path", "font.size": 9}):
        fig = Figure(figsize=(width, height))
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        x = list(range(len(chart.categories)))
        names = list(chart.series)
        if chart.kind == "line":
            for i, name in enumerate(names):
                style = {"linestyle": "none", "marker": "D", "markersize": 6} if name in chart.points_only else \
                    {"marker": "o", "markersize": 3}
                ax.plot(x, [float("nan") if v is None else v for v in chart.series[name]], label=name,
                        color=chart.colour(i, name), **style)
        else:
            stacked = chart.kind == "stacked"
            alone = chart.series_disjoint()
            bottom = [0.0] * len(x)
            width_bar = 0.8 if stacked or alone else 0.8 / len(names)
            for i, name in enumerate(names):
                values = [0.0 if v is None else float(v) for v in chart.series[name]]
                pos = x if stacked or alone else [p - 0.4 + width_bar * (i + 0.5) for p in x]
                ax.bar(pos, values, width_bar, bottom=bottom if stacked else None, label=name,
                       color=chart.colour(i, name))
                if stacked:
                    bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for category, label in chart.markers.items():
            if category in chart.categories:
                pos = chart.categories.index(category)
                ax.axvline(pos, color="#555555", linestyle="--", linewidth=0.8)
                ax.annotate(label, (pos, 1), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                            va="top", ha="right", color="#555555")
        step = _axes_label_every(len(x))
        ax.set_xticks(x[::step], chart.categories[::step], rotation=30, ha="right")
        ax.set_ylabel(chart.unit)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#dddddd", linewidth=0.5)
        if len(names) > 1:
            ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # Inline: the element only. The XML prolog's DTD link and the RDF metadata name web addresses (never fetched,
    # but a self-contained file should not even mention one).
    text = text[text.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
