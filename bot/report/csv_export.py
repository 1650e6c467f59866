"""The year's items as CSV, one row per item, for the office's own analyses, and the
appendix's complete list of recommendations as CSV.

A CSV is for programs: comma-separated (RFC 4180), UTF-8 with a byte order mark, times in
ISO 8601 with their offset, decimal points, and machine-readable codes as values (`kind`:
suggestion, criticism, question, praise; `state`: received, in_progress, answered,
implemented, declined, closed; `field_of_action` and `working_group`: their configured keys;
`language`: the catalogue's code), so that a script reads any year the same way. The README
("Year report") lists the columns. A spreadsheet program in a German locale expects
semicolons and decimal commas; the report's `.xlsx` (`bot.report.xlsx`) is the spreadsheet
format, with typed columns and labels in the report's language.

No contact is named, and only recommendations carry their (masked) text, as the published
report does."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.public_text import public_text
from handlers.report.appendix import AppendixRow
from handlers.report.writer import mask_names
from storage.items.recommendations import Recommendation
from storage.report import ItemRow

COLUMNS = (
    "reference",
    "created_at",
    "kind",
    "field_of_action",
    "working_group",
    "channel",
    "language",
    "state",
    "answer_due_at",
    "first_answered_at",
    "hours_to_first_answer",
    "answered_in_time",
    "recommendation",
    "working_group_note",
)


def render_csv(
    rows: list[ItemRow], recommendations: list[Recommendation], zone: ZoneInfo
) -> bytes:
    texts = {r.reference: r for r in recommendations}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)

    def local(moment: object) -> str:
        return moment.astimezone(zone).isoformat(timespec="minutes") if moment else ""  # type: ignore[attr-defined]

    for row in rows:
        first, due = row.first_answered_at, row.answer_due_at
        hours = f"{(first - row.created_at).total_seconds() / 3600:.1f}" if first else ""
        in_time = "" if first is None or due is None else ("yes" if first <= due else "no")
        recommendation = texts.get(row.reference)
        writer.writerow(
            (
                row.reference,
                local(row.created_at),
                row.kind,
                row.field_key,
                row.group_key,
                row.platform,
                row.language,
                row.state,
                local(due),
                local(first),
                hours,
                in_time,
                public_text(mask_names(recommendation.text, recommendation.author_names))
                if recommendation
                else "",
                public_text(recommendation.note or "") if recommendation else "",
            )
        )
    # A byte order mark, so that spreadsheet programs read the umlauts as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


APPENDIX_COLUMNS = (
    "reference",
    "created_at",
    "field_of_action",
    "state",
    "decided_at",
    "language",
    "text_language",
    "recommendation",
    "working_group_answer",
    "answered_at",
    "working_group_note",
)


def render_appendix_csv(rows: list[AppendixRow], zone: ZoneInfo) -> bytes:
    """Every recommendation, in full: the appendix's list for analyses (codes as values, as
    in `render_csv`); `text_language` is the language the text is written in."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(APPENDIX_COLUMNS)

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).isoformat(timespec="minutes") if moment else ""

    for row in rows:
        writer.writerow(
            (
                row.reference,
                local(row.created_at),
                row.field_key,
                row.state,
                local(row.decided_at),
                row.language,
                row.text.language,
                row.text.text,
                row.answer.text if row.answer else "",
                local(row.answered_at) if row.answer else "",
                row.note.text if row.note else "",
            )
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
