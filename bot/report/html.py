"""The report as one self-contained HTML file, written to be tagged well as a PDF too:
headings in order, tables with captions and header cells, charts as figures with their text
alternative, the language and writing direction on the root element.

Bidirectional text: every quote (a resident's text, a working group's words, a name as it
was written) is its own element with its language and its direction (`lang`, `dir`), and
every value the report's own sentences isolate (Unicode FSI … PDI, see
`handlers.report.document.isolate`) becomes a `<bdi>` with its direction. The direction is
written out (the first strong letter decides, as `dir="auto"` would) because WeasyPrint does
not resolve `dir="auto"`. A quote's element carries an id `lang-<language>-<n>`, from which
`bot.report.pdf` gives its structure element in the tagged PDF its own /Lang.
"""

from __future__ import annotations

import base64
from html import escape
from itertools import count

from handlers.report.document import (
    FSI,
    LRI,
    PDI,
    RLI,
    Block,
    Cell,
    Chart,
    Decision,
    Entry,
    Findings,
    Paragraph,
    Quote,
    ReportDocument,
    Section,
    Table,
    Value,
    direction,
    plain,
)

LANG_ID_PREFIX = "lang-"

STYLE = """
@page { size: A4; margin: 2cm 1.8cm 2.2cm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt;
                         font-family: "DejaVu Sans", sans-serif; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; line-height: 1.4;
       color: #1a1a1a; max-width: 60em; margin: auto; }
h1 { font-size: 18pt; margin: 0 0 .3em; bookmark-level: none; }
h2 { font-size: 13pt; margin: 1.4em 0 .4em; border-bottom: 1px solid #999; bookmark-level: 1; }
h3 { font-size: 11pt; margin: 1.1em 0 .3em; bookmark-level: 2; }
h4 { font-size: 10pt; margin: .9em 0 .3em; bookmark-level: none; }
h2, h3, h4 { break-after: avoid; break-inside: avoid; }
.subtitle { color: #444; }
.draft { border: 2px solid #b00020; padding: .4em .6em; color: #b00020; font-weight: bold; }
ul.findings { padding-left: 1.2em; padding-right: 1.2em; }
ul.findings li { margin-bottom: .35em; }
table { border-collapse: collapse; margin: .4em 0 1em; width: 100%; }
caption { text-align: start; font-weight: bold; padding-bottom: .2em; }
th, td { border-bottom: 1px solid #ccc; padding: .15em .4em; vertical-align: top; }
html[dir=ltr] th, html[dir=ltr] td { text-align: left; }
html[dir=rtl] th, html[dir=rtl] td { text-align: right; }
thead th { border-bottom: 1.5px solid #555; }
tr { break-inside: avoid; }
table.wide { font-size: 7.5pt; }
table.wide th, table.wide td { padding: .15em .25em; }
html[dir] th.num, html[dir] td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
span.q { display: inline-block; }
figure { margin: .6em 0; break-inside: avoid; }
figure img { width: 100%; }
figcaption { font-size: 8.5pt; color: #444; }
div.entry, div.decision { break-inside: avoid; }
div.entry { margin: 0 0 .6em; }
div.decision { margin: 0 0 .9em; }
p.heading { margin: 0; font-weight: bold; }
p.reason, p.more, p.label { margin: 0; }
blockquote { margin: .1em 1.2em .2em; break-inside: avoid; }
blockquote.reason { font-weight: bold; margin: .1em 0 .4em; }
nav ol { padding-inline-start: 1.4em; }
"""


def render_html(document: ReportDocument, charts: dict[str, bytes]) -> str:
    """`charts` maps a chart's key to its PNG; they are embedded as data URIs."""
    return _Writer(document, charts).render()


class _Writer:
    """One document's HTML; numbers the quotes' ids as it goes."""

    def __init__(self, document: ReportDocument, charts: dict[str, bytes]) -> None:
        self.document = document
        self.charts = charts
        self.rtl = document.right_to_left
        self.ids = count(1)

    def render(self) -> str:
        document = self.document
        direction_ = "rtl" if self.rtl else "ltr"
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{lang_tag(document.language)}" dir="{direction_}">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{escape(plain(document.title))}</title>",
            f'<meta name="description" content="{escape(plain(document.subtitle))}">',
            '<meta name="generator" content="mitreden">',
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{text(document.title)}</h1>",
            f'<p class="subtitle">{text(document.subtitle)}</p>',
        ]
        if document.draft:
            parts.append(f'<p class="draft" role="note">{text(document.draft_notice)}</p>')
        parts.append("</header>")
        parts.append("<main>")
        sections = document.sections
        # The key findings come first, on the first page; the contents follow them.
        first = 1 if sections and sections[0].key == "findings" else 0
        for number, section in enumerate(sections[:first], 1):
            parts.extend(self.section(section, f"s{number}", 2))
        parts.append(self.contents(first))
        for number, section in enumerate(sections[first:], first + 1):
            parts.extend(self.section(section, f"s{number}", 2))
        parts += ["</main>", "</body>", "</html>"]
        return "\n".join(parts)

    def contents(self, skip: int) -> str:
        items = "".join(
            f'<li><a href="#s{n}">{text(s.title)}</a></li>'
            for n, s in enumerate(self.document.sections, 1)
            if n > skip
        )
        return f'<nav aria-label="contents"><ol>{items}</ol></nav>'

    def section(self, section: Section, anchor: str, level: int) -> list[str]:
        tag = f"h{min(level, 6)}"
        parts = [f'<section id="{anchor}">', f"<{tag}>{text(section.title)}</{tag}>"]
        parts.extend(self.block(block) for block in section.blocks)
        for number, sub in enumerate(section.subsections, 1):
            parts.extend(self.section(sub, f"{anchor}-{number}", level + 1))
        parts.append("</section>")
        return parts

    def block(self, block: Block) -> str:
        if isinstance(block, Paragraph):
            return f"<p>{text(block.text)}</p>"
        if isinstance(block, Findings):
            items = "".join(f"<li>{text(item)}</li>" for item in block.items)
            return f'<ul class="findings">{items}</ul>'
        if isinstance(block, Table):
            return self.table(block)
        if isinstance(block, Chart):
            png = self.charts.get(block.key)
            data = base64.b64encode(png).decode("ascii") if png else ""
            return (
                f'<figure><img src="data:image/png;base64,{data}" '
                f'alt="{escape(plain(block.alt))}">'
                f"<figcaption>{text(block.title)}</figcaption></figure>"
            )
        if isinstance(block, Decision):
            return self.decision(block)
        return self.entry(block)

    def quote(self, quote: Quote, tag: str = "span", css: str = "q") -> str:
        """A quote as an element of its own: its language, its direction, and an id that
        names its language for the tagged PDF."""
        language = lang_tag(quote.language)
        ident = f"{LANG_ID_PREFIX}{language}-{next(self.ids)}"
        direction_ = direction(quote.text) or ("rtl" if self.rtl else "ltr")
        return (
            f'<{tag} class="{css}" id="{ident}" lang="{language}" dir="{direction_}">'
            f"{escape(quote.text)}</{tag}>"
        )

    def entry(self, entry: Entry) -> str:
        parts = [
            '<div class="entry">',
            f'<p class="heading">{text(entry.heading)}</p>',
            self.quote(entry.text, "blockquote", "text"),
        ]
        if entry.note is not None:
            parts.append(f'<p class="label"><i>{text(entry.note_label)}:</i></p>')
            parts.append(self.quote(entry.note, "blockquote", "note"))
        parts.append("</div>")
        return "".join(parts)

    def decision(self, decision: Decision) -> str:
        parts = ['<div class="decision">', f'<p class="reason"><i>{text(decision.label)}:</i></p>']
        if decision.reason is not None:
            parts.append(self.quote(decision.reason, "blockquote", "reason"))
        parts.extend(self.entry(e) for e in decision.entries)
        if decision.more:
            parts.append(f'<p class="more">{text(decision.more)}</p>')
        parts.append("</div>")
        return "".join(parts)

    def cell(self, value: Cell) -> str:
        if isinstance(value, Quote):
            return self.quote(value)
        return text(str(value))

    def table(self, table: Table) -> str:
        numeric = table.numeric

        def attributes(index: int, value: Cell | None = None) -> str:
            if not numeric[index]:
                return ""
            if isinstance(value, Value) and self.rtl and direction(value.text) != "rtl":
                return ' class="num" dir="ltr"'  # "12 %", "−5 %": digits read left to right
            return ' class="num"'

        head = "".join(
            f'<th scope="col"{attributes(i)}>{text(h)}</th>' for i, h in enumerate(table.header)
        )
        rows = []
        for row in table.rows:
            first, *rest = row
            cells = "".join(
                f"<td{attributes(i, v)}>{self.cell(v)}</td>" for i, v in enumerate(rest, 1)
            )
            rows.append(f'<tr><th scope="row">{self.cell(first)}</th>{cells}</tr>')
        wide = ' class="wide"' if len(table.header) > 5 else ""
        return (
            f"<table{wide}><caption>{text(table.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )


def lang_tag(language: str) -> str:
    """A catalogue's code as a language tag: "de_simple" → "de-simple"."""
    return language.replace("_", "-")


def text(value: str) -> str:
    """`value` escaped, its direction isolates (FSI/LRI/RLI … PDI) as `<bdi>` elements with
    their direction written out; an isolate left open is closed at the end."""
    if not any(c in value for c in (LRI, RLI, FSI, PDI)):
        return escape(value)
    # Each open isolate: its kind, its HTML so far, its own text (to tell its direction).
    stack: list[tuple[str, list[str], list[str]]] = [("", [], [])]
    for char in value:
        if char in (LRI, RLI, FSI):
            stack.append((char, [], []))
        elif char == PDI:
            if len(stack) > 1:
                _close(stack)
        else:
            stack[-1][1].append(escape(char))
            stack[-1][2].append(char)
    while len(stack) > 1:
        _close(stack)
    return "".join(stack[0][1])


def _close(stack: list[tuple[str, list[str], list[str]]]) -> None:
    kind, html, raw = stack.pop()
    if kind == LRI:
        direction_ = "ltr"
    elif kind == RLI:
        direction_ = "rtl"
    else:
        direction_ = direction("".join(raw)) or "ltr"
    stack[-1][1].append(f'<bdi dir="{direction_}">{"".join(html)}</bdi>')
