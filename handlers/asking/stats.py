"""The surveys and polls of a `/stats` period, for coordinators: response rate by unique
people, the event's average rating, the leading option of a poll."""

from __future__ import annotations

from handlers.asking.texts import number, poll_texts, rate_line, share
from handlers.context import Deps, Turn
from handlers.coordination.stats import period_bounds
from handlers.messages import Reply


async def asking_stats(deps: Deps, turn: Turn, period: str) -> Reply | None:
    """The surveys of the events that ended in the period and the polls that closed in it
    (the last 30 days by default); None when there were none, or the period is unreadable
    (`/stats` says so itself)."""
    bounds = period_bounds(period, turn.now, turn)
    if bounds is None:
        return None
    start, end = bounds
    surveys = await deps.store.surveys.list_results(start, end)
    polls = []
    for poll in await deps.store.polls.list_polls():
        asked = poll.opens_at < poll.closes_at  # not one closed before it opened
        if start <= poll.closes_at < end and asked and poll.id is not None:
            found = await deps.store.polls.results(poll.id)
            if found is not None:
                polls.append(found)
    if not surveys and not polls:
        return None
    lines: list[str] = []
    if surveys:
        lines.append(turn._("Umfragen nach Veranstaltungen:"))
        for survey in surveys:
            average = survey.ratings.average
            lines.append(
                turn._("„{title}“: {rate}; Veranstaltung im Durchschnitt {average} von 5").format(
                    title=survey.event.title,
                    rate=rate_line(turn, survey.answered, survey.participants),
                    average=number(turn, average) if average is not None else "–",
                )
            )
    if polls:
        if lines:
            lines.append("")
        lines.append(turn._("Umfragen:"))
        for results in polls:
            question, options = poll_texts(results.poll, turn.language)
            line = f"„{question}“: {rate_line(turn, results.answered, results.reached)}"
            if results.answered:
                top = max(range(len(results.counts)), key=lambda i: results.counts[i])
                line += "; " + turn._("vorn: {option} ({share})").format(
                    option=options[top], share=share(turn, results.counts[top], results.answered)
                )
            lines.append(line)
    return Reply("\n".join(lines))
