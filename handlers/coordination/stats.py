"""`/stats [period]`: items by field of action and state, and the median time to a first
answer, for the coordinator's groups (all groups for administrators)."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from datetime import datetime, timedelta

from babel.dates import format_timedelta

from handlers.context import Deps, Turn
from handlers.labels import localized_name, state_label
from handlers.messages import Reply
from handlers.roles import Role

PERIOD = re.compile(r"^(\d{1,4})([dw])$")
# The periods end exclusively (a year at the next 1 January, 00:00); the heading names the
# last day counted, a moment before the end.
LAST_MOMENT = timedelta(microseconds=1)


def period_bounds(period: str, now: datetime, turn: Turn) -> tuple[datetime, datetime] | None:
    """ "30d", "12w", a year like "2026", "all", or "" (the last 30 days)."""
    if period in ("", "30d"):
        return now - timedelta(days=30), now
    if period == "all":
        return datetime(2000, 1, 1, tzinfo=now.tzinfo), now
    if period.isdigit() and len(period) == 4:
        start = turn.local_now().replace(
            year=int(period), month=1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
        return start, start.replace(year=int(period) + 1)
    match = PERIOD.match(period)
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return now - timedelta(days=days), now
    return None


async def stats_text(deps: Deps, turn: Turn, role: Role, period: str) -> Reply:
    bounds = period_bounds(period, turn.now, turn)
    if bounds is None:
        return Reply(turn._("Zeitraum bitte als 30d, 12w, 2026 oder all angeben."))
    start, end = bounds
    summary = await deps.store.items.summarize(start, end, role.visible_groups)
    if not summary.total:
        return Reply(turn._("Im Zeitraum sind keine Rückmeldungen eingegangen."))
    by_field = Counter(summary.by_field)
    by_state = Counter(summary.by_state)
    waits = summary.waits
    lines = [
        turn.ngettext(
            "{n} Rückmeldung vom {start} bis {end}",
            "{n} Rückmeldungen vom {start} bis {end}",
            summary.total,
        ).format(n=summary.total, start=turn.day(start), end=turn.day(end - LAST_MOMENT)),
        "",
        turn._("Nach Handlungsfeld:"),
    ]
    for key, count in by_field.most_common():
        field = await deps.store.groups.get_field(key)
        lines.append(f"  {localized_name(turn, field, key)}: {count}")
    lines += ["", turn._("Nach Stand:")]
    lines += [f"  {state_label(turn, state)}: {count}" for state, count in by_state.most_common()]
    if waits:
        median = timedelta(seconds=statistics.median(waits))
        lines += [
            "",
            turn._("Zeit bis zur ersten Antwort im Median: {time} ({n} beantwortet)").format(
                time=format_timedelta(median, locale=turn.locale), n=len(waits)
            ),
        ]
    else:
        lines += ["", turn._("Noch keine Rückmeldung beantwortet.")]
    return Reply("\n".join(lines))
