"""The year report's section on what the city asked: the survey after each event (response
rate by unique people, the ratings of the event and of each workshop) and the polls (votes
per option and the response rate), each as a chart followed by its table (the figures come
from storage.surveys and storage.polls, through storage.report).

Written, as every section, by a function of a `SectionWriter`; handlers.report.year composes
it, and the web view's overview shows it for the current year.
"""

from __future__ import annotations

from handlers.asking.texts import number, poll_texts, rate_line
from handlers.report.document import Block, Cell, Chart, Paragraph, Section, Table, Value
from handlers.report.writer import SectionWriter
from storage.surveys import RATINGS, Ratings, SurveyResults


def asking(w: SectionWriter) -> Section:
    _ = w._
    title = _("Umfragen")
    if not w.f.surveys and not w.f.polls:
        return Section(
            title, [Paragraph(_("Im Berichtsjahr gab es keine Umfragen."))], key="asking"
        )
    blocks: list[Block] = [
        Paragraph(
            _(
                "Nach jeder Veranstaltung fragt mitreden die Angemeldeten, wie nützlich die "
                "Veranstaltung und ihr Workshop waren (1 = gar nicht, 5 = sehr); ihre "
                "Vorschläge kommen als Rückmeldungen zu den Arbeitsgruppen. Dazu kommen die "
                "Umfragen der Verwaltung. Der Rücklauf zählt Personen, nicht Konten."
            )
        )
    ]
    for survey in w.f.surveys:
        blocks += _survey(w, survey)
    for results in w.f.polls:
        question, options = poll_texts(results.poll, w.s.language)
        written = w.inline(question)
        values = ", ".join(
            f"{label} {w.n(n)}" for label, n in zip(options, results.counts, strict=False)
        )
        blocks += [
            Chart(
                f"poll-{results.poll.id}",
                _("Umfrage: {question}").format(question=written),
                options,
                [(_("Stimmen"), list(results.counts))],
                _("Balkendiagramm der Antworten auf „{question}“: {values}.").format(
                    question=written, values=values
                ),
                horizontal=True,
                language=w.s.language,
                right_to_left=w.right_to_left,
            ),
            Paragraph(rate_line(w.s, results.answered, results.reached)),
            Table(
                _("Umfrage: {question}").format(question=written),
                (_("Antwort"), _("Stimmen"), _("Anteil")),
                [
                    (label, w.num(n), w.pct(n, results.answered))
                    for label, n in zip(options, results.counts, strict=False)
                ],
            ),
        ]
    return Section(title, blocks, key="asking")


def _survey(w: SectionWriter, survey: SurveyResults) -> list[Block]:
    _ = w._
    event = survey.event
    named: list[tuple[Cell, str, int, Ratings]] = [
        (_("Veranstaltung"), _("Veranstaltung"), survey.participants, survey.ratings)
    ]
    named += [
        (w.written(ws.title), ws.title, ws.participants, ws.ratings) for ws in survey.workshops
    ]
    heading = _("Umfrage nach „{title}“ ({day})").format(
        title=w.inline(event.title), day=w.inline(w.s.day(event.starts_at))
    )
    averages = ", ".join(
        f"{name} {number(w.s, r.average) if r.average is not None else '–'}"
        for _cell, name, _n, r in named
    )
    chart = Chart(
        f"survey-{event.id}",
        heading,
        [name for _cell, name, _n, _r in named],
        [(str(n), [r.counts[n - 1] for *_rest, r in named]) for n in range(1, RATINGS + 1)],
        _(
            "Gestapeltes Balkendiagramm der Bewertungen von 1 bis 5; Durchschnitt: {values}."
        ).format(values=averages),
        horizontal=True,
        language=w.s.language,
        right_to_left=w.right_to_left,
    )
    rows: list[tuple[Cell, ...]] = [
        (
            cell,
            w.num(asked),
            w.num(r.total),
            _average(w, r),
            *(w.num(n) for n in r.counts),
        )
        for cell, _name, asked, r in named
    ]
    header: tuple[str, ...] = (_("Bewertet"), _("Angemeldet"), _("Bewertungen"), _("Durchschnitt"))
    header += tuple(str(n) for n in range(1, RATINGS + 1))
    return [
        chart,
        Paragraph(rate_line(w.s, survey.answered, survey.participants)),
        Table(
            _("Bewertungen nach „{title}“ (1 = gar nicht, 5 = sehr nützlich)").format(
                title=w.inline(event.title)
            ),
            header,
            rows,
        ),
    ]


def _average(w: SectionWriter, ratings: Ratings) -> Value | str:
    if ratings.average is None:
        return "–"
    value = round(ratings.average, 1)
    return Value(number(w.s, value), value, "0.0")
