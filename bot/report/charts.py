"""The report's charts as PNG pictures (matplotlib, without pyplot: no global state, so it is
safe in any thread). Colours are the Okabe–Ito palette, told apart by people with colour
vision deficiencies; every chart also has its text alternative and its data table.

matplotlib (with numpy, Pillow and fontTools) is imported only when a chart is drawn: it costs
about 0.4 s and 40 MiB, which the running bot and every other command would otherwise pay at
start-up for a report they may never make (`bench/idle.py`, `tests/unit/test_weight.py`)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from handlers.report.document import Chart, plain

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
DPI = 150


def chart_png(chart: Chart) -> bytes:
    figure = chart_figure(chart)
    buffer = io.BytesIO()
    metadata = {"Title": plain(chart.title), "Description": plain(chart.alt)}
    figure.savefig(buffer, format="png", metadata=metadata)
    return buffer.getvalue()


def chart_figure(chart: Chart) -> Figure:
    """The chart drawn. Text goes through matplotlib's complex text layout (libraqm, since
    matplotlib 3.11): Arabic letters are joined and a label reads in its own direction. A
    right-to-left chart is mirrored, as its readers read: category names on the right, bars
    growing to the left, January on the right."""
    # Imported here for weight (see the module's docstring), not to break an import cycle.
    from matplotlib.figure import Figure

    height = max(3.0, 0.35 * len(chart.categories) + 1.2) if chart.horizontal else 3.6
    figure = Figure(figsize=(7.0, height), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    language = chart.language.replace("_", "-") or None
    positions = list(range(len(chart.categories)))
    labels = [plain(c) for c in chart.categories]
    base = [0] * len(positions)
    for index, (label, values) in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        if chart.horizontal:
            axes.barh(positions, values, left=base, label=plain(label), color=colour)
        else:
            axes.bar(positions, values, bottom=base, label=plain(label), color=colour)
        base = [b + v for b, v in zip(base, values, strict=True)]
    top = max(base, default=0) or 1  # an empty year still gets an axis from 0
    if chart.horizontal:
        axes.set_xlim(0, top * 1.05)
        axes.set_yticks(positions, labels, language=language)
        axes.invert_yaxis()  # the first category on top, as in the table
        axes.xaxis.grid(True, color="#dddddd")
        if chart.right_to_left:
            axes.invert_xaxis()
            axes.yaxis.tick_right()
    else:
        axes.set_ylim(0, top * 1.05)
        axes.set_xticks(positions, labels, language=language, fontsize="small")
        axes.yaxis.grid(True, color="#dddddd")
        if chart.right_to_left:
            axes.invert_xaxis()
            axes.yaxis.tick_right()
    axes.set_axisbelow(True)
    axes.set_title(plain(chart.title), language=language)
    hidden = ("top", "left") if chart.right_to_left else ("top", "right")
    for side in hidden:
        axes.spines[side].set_visible(False)
    if len(chart.series) > 1:
        legend = axes.legend(
            frameon=False,
            fontsize="small",
            loc="upper left" if chart.right_to_left else "best",
            markerfirst=not chart.right_to_left,  # a right-to-left reader reads the name first
        )
        for text in legend.get_texts():
            text.set_language(language)
    return figure
