"""The report as one self-contained HTML file, written to be tagged well as a PDF too:
headings in order, tables with captions and header cells, charts as figures with their text
alternative, the language and writing direction on the root element."""

from __future__ import annotations

import base64
from html import escape

from handlers.report.document import (
    Block,
    Chart,
    Entry,
    Paragraph,
    ReportDocument,
    Section,
    Table,
)

STYLE = """
@page { size: A4; margin: 2cm 1.8cm 2.2cm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt;
                         font-family: "DejaVu Sans", sans-serif; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; line-height: 1.4;
       color: #1a1a1a; max-width: 60em; margin: auto; }
h1 { font-size: 18pt; margin: 0 0 .3em; }
h2 { font-size: 13pt; margin: 1.4em 0 .4em; border-bottom: 1px solid #999; }
h3 { font-size: 11pt; margin: 1.1em 0 .3em; }
.subtitle { color: #444; }
.draft { border: 2px solid #b00020; padding: .4em .6em; color: #b00020; font-weight: bold; }
table { border-collapse: collapse; margin: .4em 0 1em; width: 100%; }
caption { text-align: start; font-weight: bold; padding-bottom: .2em; }
th, td { border-bottom: 1px solid #ccc; padding: .15em .4em; text-align: start;
         vertical-align: top; }
thead th { border-bottom: 1.5px solid #555; }
table.wide { font-size: 7.5pt; }
.num { text-align: end; font-variant-numeric: tabular-nums; }
figure { margin: .6em 0; }
figure img { width: 100%; }
figcaption { font-size: 8.5pt; color: #444; }
p.entry { margin: 0 0 .5em; }
nav ol { padding-inline-start: 1.4em; }
"""


def render_html(document: ReportDocument, charts: dict[str, bytes]) -> str:
    """`charts` maps a chart's key to its PNG; they are embedded as data URIs."""
    _text = escape
    direction = "rtl" if document.right_to_left else "ltr"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{_text(document.language.replace("_", "-"))}" dir="{direction}">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_text(document.title)}</title>",
        f'<meta name="description" content="{_text(document.subtitle)}">',
        '<meta name="generator" content="mitreden">',
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_text(document.title)}</h1>",
        f'<p class="subtitle">{_text(document.subtitle)}</p>',
    ]
    if document.draft:
        parts.append(f'<p class="draft" role="note">{_text(document.draft_notice)}</p>')
    parts.append("</header>")
    parts.append(_contents(document))
    parts.append("<main>")
    for number, section in enumerate(document.sections, 1):
        parts.extend(_section(section, f"s{number}", 2, charts))
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts)


def _contents(document: ReportDocument) -> str:
    items = "".join(
        f'<li><a href="#s{n}">{escape(s.title)}</a></li>'
        for n, s in enumerate(document.sections, 1)
    )
    return f'<nav aria-label="contents"><ol>{items}</ol></nav>'


def _section(section: Section, anchor: str, level: int, charts: dict[str, bytes]) -> list[str]:
    parts = [f'<section id="{anchor}">', f"<h{level}>{escape(section.title)}</h{level}>"]
    parts.extend(_block(block, charts) for block in section.blocks)
    for number, sub in enumerate(section.subsections, 1):
        parts.extend(_section(sub, f"{anchor}-{number}", min(level + 1, 6), charts))
    parts.append("</section>")
    return parts


def _block(block: Block, charts: dict[str, bytes]) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        data = base64.b64encode(charts[block.key]).decode("ascii") if block.key in charts else ""
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(block.alt)}">'
            f"<figcaption>{escape(block.title)}</figcaption></figure>"
        )
    return _entry(block)


def _entry(entry: Entry) -> str:
    """One paragraph per recommendation: a report may hold tens of thousands of them, and
    the PDF's layout time grows with every box."""
    note = f"<br><i>{escape(entry.note)}</i>" if entry.note else ""
    return f'<p class="entry"><b>{escape(entry.heading)}</b><br>{escape(entry.text)}{note}</p>'


def _table(table: Table) -> str:
    numeric = table.numeric or (False,) * len(table.header)

    def cls(index: int) -> str:
        return ' class="num"' if index < len(numeric) and numeric[index] else ""

    head = "".join(f'<th scope="col"{cls(i)}>{escape(h)}</th>' for i, h in enumerate(table.header))
    rows = []
    for row in table.rows:
        first, *rest = row
        cells = "".join(f"<td{cls(i)}>{escape(v)}</td>" for i, v in enumerate(rest, 1))
        rows.append(f'<tr><th scope="row">{escape(first)}</th>{cells}</tr>')
    wide = ' class="wide"' if len(table.header) > 5 else ""
    return (
        f"<table{wide}><caption>{escape(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
