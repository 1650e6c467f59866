"""What residents and working groups read of surveys and polls: the questions with their
buttons, and the results with counts, shares and the response rate, in one language each.

Buttons name what they answer (`svy:<event>:e:<rating>`, `pol:<poll>:<option>`), not a step
of a conversation: a survey or poll message may be answered days later, and again to change
the answer, until it closes. On Matrix and the console the buttons are a numbered list, and
the number typed back presses the button.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal, format_percent

from handlers.context import Writer
from handlers.i18n import N_, babel_locale
from handlers.messages import Choice
from storage.asking_models import Poll
from storage.polls import PollResults
from storage.surveys import RATINGS, Ratings, SurveyResults

SURVEY_PAYLOAD = "svy:"  # "svy:<event id>:e:<rating>" (the event), "svy:<event id>:w:<rating>"
POLL_PAYLOAD = "pol:"  # "pol:<poll id>:<option index>"
EVENT_PART, WORKSHOP_PART = "e", "w"
SOURCE = "de"  # a poll's texts are written in German first (`Poll.texts`)

EVENT_QUESTION = N_("Wie nützlich war die Veranstaltung für Sie? 1 = gar nicht, 5 = sehr")
POLLS_HELP = N_("/polls – offene Umfragen und Ergebnisse")


def number(writer: Writer, value: float) -> str:
    """A value with one decimal, as the reader's language writes it ("4,2", "4.2")."""
    return format_decimal(value, "#,##0.0", locale=babel_locale(writer.language))


def share(writer: Writer, part: int, whole: int) -> str:
    """A share as a percentage in the reader's language ("40 %", "%40")."""
    fraction = part / whole if whole else 0.0
    return format_percent(fraction, "#,##0 %", locale=babel_locale(writer.language))


def rating_choices(event_id: int, part: str) -> tuple[Choice, ...]:
    """The buttons 1 to 5 for rating the event (`EVENT_PART`) or the workshop."""
    return tuple(
        Choice(str(n), f"{SURVEY_PAYLOAD}{event_id}:{part}:{n}") for n in range(1, RATINGS + 1)
    )


def poll_texts(poll: Poll, language: str) -> tuple[str, list[str]]:
    """The question and the options in `language`, else in German."""
    texts: dict[str, Any] = poll.texts.get(language) or poll.texts[SOURCE]
    return str(texts["question"]), [str(o) for o in texts["options"]]


def poll_choices(poll: Poll, language: str) -> tuple[Choice, ...]:
    _, options = poll_texts(poll, language)
    return tuple(
        Choice(label, f"{POLL_PAYLOAD}{poll.id}:{index}") for index, label in enumerate(options)
    )


def rate_line(writer: Writer, answered: int, asked: int) -> str:
    return writer._("Rücklauf: {rate} ({answered} von {asked})").format(
        rate=share(writer, answered, max(asked, answered)),
        answered=answered,
        asked=max(asked, answered),
    )


def poll_results_text(writer: Writer, results: PollResults, mine: int | None = None) -> str:
    """The counts and shares of every option, the response rate by unique people, and the
    reader's own answer when they gave one."""
    question, options = poll_texts(results.poll, writer.language)
    lines = [writer._("Ergebnis der Umfrage: {question}").format(question=question)]
    for label, count in zip(options, results.counts, strict=False):
        lines.append(f"• {label}: {count} ({share(writer, count, results.answered)})")
    lines.append(rate_line(writer, results.answered, results.reached))
    if mine is not None and 0 <= mine < len(options):
        lines.append(writer._("Ihre Antwort: {option}").format(option=options[mine]))
    return "\n".join(lines)


def rating_line(writer: Writer, label: str, ratings: Ratings) -> str:
    if ratings.average is None:
        return writer._("{label}: noch keine Bewertung").format(label=label)
    return writer._("{label}: Durchschnitt {average} von 5 (Verteilung 1–5: {counts})").format(
        label=label,
        average=number(writer, ratings.average),
        counts=" / ".join(str(n) for n in ratings.counts),
    )


def survey_results_text(writer: Writer, results: SurveyResults) -> str:
    """An event's survey for its working groups: response rate, the ratings of the event and
    of each workshop."""
    event = results.event
    lines = [
        writer._("Umfrage nach „{title}“ ({day}) abgeschlossen").format(
            title=event.title, day=writer.day(event.starts_at)
        ),
        rate_line(writer, results.answered, results.participants),
        rating_line(writer, writer._("Veranstaltung"), results.ratings),
    ]
    lines += [rating_line(writer, f"„{w.title}“", w.ratings) for w in results.workshops]
    lines += [
        "",
        writer._("Was die Teilnehmenden vorschlagen, kommt als Rückmeldung zu Ihnen (/pending)."),
    ]
    return "\n".join(lines)
