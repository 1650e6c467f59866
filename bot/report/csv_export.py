"""The year's items as CSV, one row per item, for the office's own analyses. Column names
are stable keys; no contact is named, and only recommendations carry their (masked) text,
as the published report does."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from handlers.public_text import public_text
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
                public_text(recommendation.text) if recommendation else "",
                public_text(recommendation.note or "") if recommendation else "",
            )
        )
    # A byte order mark, so that spreadsheet programs read the umlauts as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
