"""The report as Markdown (GitHub tables); charts as pictures beside it, or, where there are
none, as their text alternative. Markdown is plain text: the report's isolated values keep
their Unicode isolates (a right-to-left reader's order), quotes stand as block quotes in a
paragraph of their own (a viewer finds each one's direction from its first letter), and the
alternative texts, which a screen reader reads out, have no isolates."""

from __future__ import annotations

from handlers.report.document import (
    Block,
    Cell,
    Chart,
    Decision,
    Entry,
    Findings,
    Paragraph,
    ReportDocument,
    Section,
    Table,
    plain,
)


def render_markdown(document: ReportDocument, images: dict[str, str] | None = None) -> str:
    """`images` maps a chart's key to the file name of its picture."""
    lines = [f"# {document.title}", "", document.subtitle, ""]
    if document.draft:
        lines += [f"> **{document.draft_notice}**", ""]
    for section in document.sections:
        lines += _section(section, 2, images or {})
    return "\n".join(lines).rstrip() + "\n"


def _section(section: Section, level: int, images: dict[str, str]) -> list[str]:
    lines = ["#" * min(level, 6) + " " + section.title, ""]
    for block in section.blocks:
        lines += _block(block, images)
    for sub in section.subsections:
        lines += _section(sub, level + 1, images)
    return lines


def _cell(value: Cell | str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _quote(text: str) -> list[str]:
    return ["> " + line if line else ">" for line in text.splitlines() or [""]]


def _entry(entry: Entry) -> list[str]:
    lines = [f"**{entry.heading}**", "", *_quote(entry.text.text), ""]
    if entry.note is not None:
        lines += [f"*{entry.note_label}:*", "", *_quote(entry.note.text), ""]
    return lines


def _block(block: Block, images: dict[str, str]) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Findings):
        return [*(f"- {item}" for item in block.items), ""]
    if isinstance(block, Chart):
        alt = plain(block.alt)
        if block.key in images:
            return [f"![{_cell(alt)}]({images[block.key]})", "", f"*{block.title}*", ""]
        return [f"*{alt}*", ""]
    if isinstance(block, Entry):
        return _entry(block)
    if isinstance(block, Decision):
        lines = [f"*{block.label}:*", ""]
        if block.reason is not None:
            lines += [*_quote(f"**{block.reason.text}**"), ""]
        for entry in block.entries:
            lines += _entry(entry)
        if block.more:
            lines += [block.more, ""]
        return lines
    return _table(block)


def _table(table: Table) -> list[str]:
    numeric = table.numeric
    rule = ["---:" if numeric[i] else "---" for i in range(len(table.header))]
    lines = [f"**{table.caption}**", ""]
    lines.append("| " + " | ".join(_cell(h) for h in table.header) + " |")
    lines.append("| " + " | ".join(rule) + " |")
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
    return [*lines, ""]
