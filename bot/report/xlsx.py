"""The report as a spreadsheet (.xlsx, openpyxl): one sheet per section with its tables, the
complete list of recommendations on the recommendations' sheet, and every item of the year
on a sheet of its own.

It is the format for spreadsheet programs in any locale, which the CSV is not (a German
spreadsheet program expects semicolons and decimal commas): numbers are numbers, shares are
fractions shown as percentages, dates and times are dates (the city's local time), and the
column headers and values (kinds, states, fields, groups, channels, languages) are written
in the report's language. A right-to-left report gets right-to-left sheets.

openpyxl is imported only when a spreadsheet is written, as matplotlib and WeasyPrint are.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

from handlers.report.appendix import Listing
from handlers.report.document import (
    Block,
    Findings,
    Paragraph,
    Quote,
    ReportDocument,
    Section,
    Table,
    Value,
    plain,
)

SHEET_NAME_CHARS = 31  # Excel's limit
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


def render_xlsx(document: ReportDocument, listings: dict[str, list[Listing]]) -> bytes:
    """`listings` adds long lists to the sheet of the section with that key; a key that no
    section has becomes a sheet of its own, after the sections."""
    # Imported here for weight (see the module's docstring), not to break an import cycle.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    names: set[str] = set()

    def sheet(title: str) -> Any:
        name = _sheet_name(title, names)
        names.add(name)
        ws = book.create_sheet(name)
        ws.sheet_view.rightToLeft = document.right_to_left
        ws.column_dimensions["A"].width = 42
        for column in "BCDEFGHIJKL":
            ws.column_dimensions[column].width = 16
        return ws

    def strong(ws: Any, value: str) -> Any:
        cell = WriteOnlyCell(ws, value=plain(value))
        cell.font = bold
        return cell

    def typed(ws: Any, value: object) -> Any:
        if isinstance(value, Value):
            if value.value is None:
                return None
            cell = WriteOnlyCell(ws, value=value.value)
            if value.format:
                cell.number_format = value.format
            return cell
        if isinstance(value, Quote):
            return text(ws, value.text)
        written = plain(str(value))
        return None if written in ("", "–") else text(ws, written)

    def table(ws: Any, block: Table) -> None:
        ws.append([strong(ws, block.caption)])
        ws.append([strong(ws, h) for h in block.header])
        for row in block.rows:
            ws.append([typed(ws, v) for v in row])
        ws.append([])

    def blocks(ws: Any, items: Iterable[Block]) -> None:
        for block in items:
            if isinstance(block, Table):
                table(ws, block)
            elif isinstance(block, Paragraph):
                ws.append([plain(block.text)])
            elif isinstance(block, Findings):
                for item in block.items:
                    ws.append([plain(item)])
                ws.append([])
            # Quoted recommendations are in the complete list, typed, on the same sheet.

    def section(ws: Any, part: Section, top: bool) -> None:
        if not top:
            ws.append([strong(ws, part.title)])
        blocks(ws, part.blocks)
        for sub in part.subsections:
            section(ws, sub, False)

    def text(ws: Any, value: str) -> Any:
        """A text as text, also one that starts with "=" (never a formula)."""
        if not value.startswith("="):
            return value
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell

    def listing(ws: Any, items: Listing) -> None:
        ws.append([strong(ws, items.title)])
        ws.append([strong(ws, h) for h in items.header])
        for row in items.rows:
            ws.append([text(ws, v) if isinstance(v, str) else v for v in row])
        ws.append([])

    keys = set()
    for part in document.sections:
        ws = sheet(part.title)
        ws.append([strong(ws, part.title)])
        section(ws, part, True)
        keys.add(part.key)
        for items in listings.get(part.key, []):
            listing(ws, items)
    for key, lists in listings.items():
        if key in keys:
            continue
        for items in lists:
            ws = sheet(items.title)
            listing(ws, items)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_name(title: str, taken: set[str]) -> str:
    """A sheet name Excel accepts (31 characters, none of []:*?/\\), unique in the book."""
    name = _NOT_IN_SHEET_NAMES.sub(" ", plain(title)).strip()[:SHEET_NAME_CHARS] or "Sheet"
    candidate, number = name, 2
    while candidate.lower() in {t.lower() for t in taken}:
        suffix = f" ({number})"
        candidate = name[: SHEET_NAME_CHARS - len(suffix)] + suffix
        number += 1
    return candidate
