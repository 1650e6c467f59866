"""The year report's section on the year's events: registrations, waiting list and
cancellations, per workshop (the figures come from storage.events.report).

Written, as every section, by a function of a `SectionWriter`; handlers.report.year composes them.
"""

from __future__ import annotations

from handlers.report.document import Block, Cell, Paragraph, Section, Table
from handlers.report.writer import SectionWriter


def events(w: SectionWriter) -> Section:
    _ = w._
    title = _("Veranstaltungen")
    if not w.f.events:
        return Section(
            title,
            [Paragraph(_("Im Berichtsjahr fanden keine Veranstaltungen statt."))],
            key="events",
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
            when=w.inline(w.s.when(event.starts_at)),
            place=w.inline(event.place) if event.place else "–",
            registered=w.n(event.registered),
            waitlisted=w.n(event.waitlisted),
            cancelled=w.n(event.cancelled),
        )
        blocks: list[Block] = [Paragraph(text)]
        if event.workshops:
            rows: list[tuple[Cell, ...]] = [
                (
                    w.written(workshop.title),
                    w.field_cell(workshop.field_key),
                    w.num(workshop.capacity) if workshop.capacity else "–",
                    w.num(workshop.registered),
                    w.num(workshop.waitlisted),
                    w.num(workshop.cancelled),
                )
                for workshop in event.workshops
            ]
            caption = _("Anmeldungen je Workshop: {title}").format(title=w.inline(event.title))
            blocks.append(Table(caption, header, rows))
        subsections.append(Section(w.inline(event.title), blocks))
    return Section(title, [], subsections, key="events")
