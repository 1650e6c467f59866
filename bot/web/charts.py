"""The report's bar charts as inline SVG for the web pages: drawn on the server, no script,
no style attribute (the pages' CSP allows neither), each with its title and its text
alternative, and always followed on the page by the table of its values.

The PNG charts of the report (`bot.report.charts`, matplotlib) would cost 0.4 s and 40 MiB
to import in the running bot; these few rectangles cost nothing.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from bot.report.charts import PALETTE
from handlers.report.document import Chart

WIDTH = 640
LABEL_WIDTH = 210
BAR = 22
GAP = 8
TOP = 8


def chart_svg(chart: Chart, ident: str) -> Markup:
    """A horizontal bar chart (stacked when the chart has several series)."""
    rows = len(chart.categories)
    height = TOP * 2 + rows * (BAR + GAP)
    totals = [sum(values[i] for _, values in chart.series) for i in range(rows)]
    top = max(totals, default=0) or 1
    span = WIDTH - LABEL_WIDTH - 60
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(chart.title)}</title>',
        f'<desc id="{ident}-d">{escape(chart.alt)}</desc>',
    ]
    for row, category in enumerate(chart.categories):
        y = TOP + row * (BAR + GAP)
        name = category if len(category) <= 30 else category[:29] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR * 0.7:.1f}" text-anchor="end" '
            f'font-size="13" fill="#1a1a1a">{escape(name)}</text>'
        )
        x = float(LABEL_WIDTH)
        for index, (_label, values) in enumerate(chart.series):
            width = span * values[row] / top
            if width > 0:
                colour = PALETTE[index % len(PALETTE)]
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
                    f'fill="{colour}"/>'
                )
            x += width
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + BAR * 0.7:.1f}" font-size="13" '
            f'fill="#1a1a1a">{totals[row]}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
