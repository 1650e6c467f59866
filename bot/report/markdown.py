"""The report as Markdown (GitHub tables); charts as pictures beside it, or, where there are
none, as their text alternative."""

from __future__ import annotations

from handlers.report.document import Block, Chart, Entry, Paragraph, ReportDocument, Section, Table


def render_markdown(document: ReportDocument, images: dict[str, str] | None = None) -> str:
    """`images` maps a chart's key to the file name of its picture."""
    lines = [f"# {document.title}", "", document.subtitle, ""]
    if document.draft:
        lines += [f"> **{document.draft_notice}**", ""]
    for section in document.sections:
        lines += _section(section, 2, images or {})
    return "\n".join(lines).rstrip() + "\n"


def _section(section: Section, level: int, images: dict[str, str]) -> list[str]:
    lines = ["#" * level + " " + section.title, ""]
    for block in section.blocks:
        lines += _block(block, images)
    for sub in section.subsections:
        lines += _section(sub, min(level + 1, 6), images)
    return lines


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _block(block: Block, images: dict[str, str]) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Chart):
        if block.key in images:
            return [f"![{_cell(block.alt)}]({images[block.key]})", "", f"*{block.title}*", ""]
        return [f"*{block.alt}*", ""]
    if isinstance(block, Entry):
        lines = [f"**{block.heading}**  ", block.text + ("  " if block.note else "")]
        if block.note:
            lines.append(f"*{block.note}*")
        return [*lines, ""]
    return _table(block)


def _table(table: Table) -> list[str]:
    numeric = table.numeric or (False,) * len(table.header)
    rule = ["---:" if i < len(numeric) and numeric[i] else "---" for i in range(len(table.header))]
    lines = [f"**{table.caption}**", ""]
    lines.append("| " + " | ".join(_cell(h) for h in table.header) + " |")
    lines.append("| " + " | ".join(rule) + " |")
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
    return [*lines, ""]
