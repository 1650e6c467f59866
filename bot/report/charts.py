"""The report's charts as PNG pictures (matplotlib, without pyplot: no global state, so it is
safe in any thread). Colours are the Okabe–Ito palette, told apart by people with colour
vision deficiencies; every chart also has its text alternative and its data table.

matplotlib (with numpy, Pillow and fontTools) is imported only when a chart is drawn: it costs
about 0.4 s and 40 MiB, which the running bot and every other command would otherwise pay at
start-up for a report they may never make (`bench/idle.py`, `tests/unit/test_weight.py`)."""

from __future__ import annotations

import io

from handlers.report.document import Chart

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
DPI = 150


def chart_png(chart: Chart) -> bytes:
    # Imported here for weight (see the module's docstring), not to break an import cycle.
    from matplotlib.figure import Figure

    height = max(3.0, 0.35 * len(chart.categories) + 1.2) if chart.horizontal else 3.6
    figure = Figure(figsize=(7.0, height), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    positions = list(range(len(chart.categories)))
    base = [0] * len(positions)
    for index, (label, values) in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        if chart.horizontal:
            axes.barh(positions, values, left=base, label=label, color=colour)
        else:
            axes.bar(positions, values, bottom=base, label=label, color=colour)
        base = [b + v for b, v in zip(base, values, strict=True)]
    top = max(base, default=0) or 1  # an empty year still gets an axis from 0
    if chart.horizontal:
        axes.set_xlim(0, top * 1.05)
        axes.set_yticks(positions, chart.categories)
        axes.invert_yaxis()  # the first category on top, as in the table
        axes.xaxis.grid(True, color="#dddddd")
    else:
        axes.set_ylim(0, top * 1.05)
        axes.set_xticks(positions, chart.categories)
        axes.yaxis.grid(True, color="#dddddd")
    axes.set_axisbelow(True)
    axes.set_title(chart.title)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if len(chart.series) > 1:
        axes.legend(frameon=False, fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Title": chart.title, "Description": chart.alt})
    return buffer.getvalue()
