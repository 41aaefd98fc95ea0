"""A `Report` as a PowerPoint deck: one slide per section, native (editable) charts, speaker notes citing the facts."""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION, XL_MARKER_STYLE
from pptx.util import Emu, Inches, Pt

from delivery.reports.charts import Chart
from delivery.reports.content import Report, Section

CHART_TYPES = {"line": XL_CHART_TYPE.LINE_MARKERS, "bar": XL_CHART_TYPE.COLUMN_CLUSTERED,
               "stacked": XL_CHART_TYPE.COLUMN_STACKED}
WIDE = (Inches(13.333), Inches(7.5))
TITLE_ONLY, TITLE = 5, 0  # layouts of the default template


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#"))


def add_chart(slide, chart: Chart, left: Emu, top: Emu, width: Emu, height: Emu) -> None:
    data = CategoryChartData()
    data.categories = chart.categories
    for name, values in chart.series.items():
        data.add_series(name, values)
    graphic = slide.shapes.add_chart(CHART_TYPES[chart.kind], left, top, width, height, data).chart
    graphic.has_title = True
    graphic.chart_title.text_frame.text = chart.title
    graphic.chart_title.text_frame.paragraphs[0].font.size = Pt(12)
    graphic.has_legend = len(chart.series) > 1
    if graphic.has_legend:
        graphic.legend.position = XL_LEGEND_POSITION.BOTTOM
        graphic.legend.include_in_layout = False
    if chart.kind == "stacked" or (chart.kind == "bar" and chart.series_disjoint()):
        graphic.plots[0].overlap = 100
    for i, (name, plot_series) in enumerate(zip(chart.series, graphic.plots[0].series, strict=True)):
        colour = _rgb(chart.colour(i, name))
        if chart.kind == "line":
            plot_series.format.line.color.rgb = colour
            plot_series.marker.format.fill.solid()
            plot_series.marker.format.fill.fore_color.rgb = colour
            if name in chart.points_only:
                plot_series.format.line.fill.background()
                plot_series.marker.style = XL_MARKER_STYLE.DIAMOND
                plot_series.marker.size = 11
        else:
            plot_series.format.fill.solid()
            plot_series.format.fill.fore_color.rgb = colour


def _text(frame, lines: list[str], size: int = 16) -> None:
    frame.word_wrap = True
    for i, line in enumerate(lines):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        paragraph.text = line
        paragraph.font.size = Pt(size)


def _table(slide, section: Section, left, top, width) -> None:
    rows, cols = len(section.table.rows) + 1, len(section.table.header)
    shape = slide.shapes.add_table(rows, cols, left, top, width, Inches(0.3) * rows)
    for c, head in enumerate(section.table.header):
        shape.table.cell(0, c).text = head
    for r, row in enumerate(section.table.rows, start=1):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    for row in shape.table.rows:
        for cell in row.cells:
            for paragraph in cell.text_frame.paragraphs:
                paragraph.font.size = Pt(10)


def _section_slide(prs: Presentation, section: Section) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY])
    slide.shapes.title.text = section.title
    slide.shapes.title.text_frame.paragraphs[0].font.size = Pt(28)
    left, top, full = Inches(0.5), Inches(1.4), prs.slide_width - Inches(1.0)
    lines = section.bullets + ([section.note] if section.note else [])
    visual = section.chart is not None or section.table is not None
    text_width = Inches(4.6) if visual else full
    box = slide.shapes.add_textbox(left, top, text_width, Inches(5.6))
    _text(box.text_frame, lines, 14 if visual else 16)
    if section.chart is not None:
        add_chart(slide, section.chart, left + Inches(4.8), top, full - Inches(4.8), Inches(5.6))
    elif section.table is not None:
        _table(slide, section, left + Inches(4.8), top, full - Inches(4.8))
    slide.notes_slide.notes_text_frame.text = section.speaker_notes()


def write_deck(report: Report, path: Path) -> Path:
    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDE
    cover = prs.slides.add_slide(prs.slide_layouts[TITLE])
    cover.shapes.title.text = report.title
    cover.placeholders[1].text = report.subtitle
    cover.notes_slide.notes_text_frame.text = "\n".join(
        ["Built from the csops warehouse; each slide's notes cite the table and column of every figure."]
        + [f"Data note: {note}" for note in report.data_notes])
    for section in report.sections:
        _section_slide(prs, section)
    path.parent.mkdir(parents=True, exist_ok=True)
    prs.save(str(path))
    return path
