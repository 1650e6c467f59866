"""The year report's section on the year's events: registrations, waiting list and
cancellations, per workshop (the figures come from storage.events.report).

Written, as every section, by a function of a `SectionWriter`; handlers.report.year composes them.
"""

from __future__ import annotations

from handlers.report.document import Chart, Entry, Paragraph, Section, Table
from handlers.report.writer import SectionWriter


def events(w: SectionWriter) -> Section:
    _ = w._
    title = _("Veranstaltungen")
    if not w.f.events:
        return Section(
            title, [Paragraph(_("Im Berichtsjahr fanden keine Veranstaltungen statt."))]
        )
    subsections = []
    header = (
        _("Workshop"),
        _("Handlungsfeld"),
        _("Plätze"),
        _("Angemeldet"),
        _("Warteliste"),
        _("Abgemeldet"),
    )
    for event in w.f.events:
        text = _(
            "{when}, {place}. Angemeldet: {registered}, Warteliste: {waitlisted}, "
            "abgemeldet: {cancelled}."
        ).format(
            when=w.s.when(event.starts_at),
            place=event.place or "–",
            registered=w.n(event.registered),
            waitlisted=w.n(event.waitlisted),
            cancelled=w.n(event.cancelled),
        )
        blocks: list[Paragraph | Table | Chart | Entry] = [Paragraph(text)]
        if event.workshops:
            rows = [
                (
                    workshop.title,
                    w.field(workshop.field_key),
                    w.n(workshop.capacity) if workshop.capacity else "–",
                    w.n(workshop.registered),
                    w.n(workshop.waitlisted),
                    w.n(workshop.cancelled),
                )
                for workshop in event.workshops
            ]
            caption = _("Anmeldungen je Workshop: {title}").format(title=event.title)
            blocks.append(Table(caption, header, rows, (False, False, True, True, True, True)))
        subsections.append(Section(event.title, blocks))
    return Section(title, [], subsections)
