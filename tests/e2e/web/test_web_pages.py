"""The web view's pages as the integration office and a working group use them, over HTTP on
the real bot: the item's actions are the chat commands' own (the resident hears the same,
the history records the same), the list filters, searches, sorts, pages and downloads what
it shows, the overview shows the year report's figures, events show their registrations,
and administrators edit working groups while coordinators only read them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from storage.contacts import ContactKey
from storage.items.feedback import NewItem
from storage.web_models import WebAudit
from testkit.support import rows
from tests.e2e.conftest import RunningBot
from tests.e2e.web.conftest import ADMIN_ID, Browser, submit
from tests.event_support import add_round_table, berlin

pytestmark = pytest.mark.e2e


async def cora_signed_in(bot: RunningBot, browser: Browser) -> int:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await browser.sign_in(cora)
    return cora.id


async def test_the_web_actions_are_the_chat_commands(bot: RunningBot, browser: Browser) -> None:
    cora = await cora_signed_in(bot, browser)
    rosa = bot.resident("Rosa")
    reference = await submit(bot, rosa.id, "Mehr Deutschkurse am Abend.")

    status, page = await browser.post(f"/items/{reference}", {"action": "take"})
    assert status == 200 and f"{reference} ist jetzt bei Ihnen (in Bearbeitung)." in page
    await bot.message_with(rosa.id, f"Neuer Stand Ihrer Rückmeldung {reference}: in Bearbeitung.")

    status, page = await browser.post(
        f"/items/{reference}", {"action": "reply", "text": "Ab September gibt es einen Kurs."}
    )
    assert f"Ihre Antwort auf {reference} ist unterwegs." in page
    answer = await bot.message_with(rosa.id, "Ab September gibt es einen Kurs.")
    assert answer.text is not None and answer.text.startswith(
        f"Antwort von Unter-AG Bildung und Sprache zu Ihrer Rückmeldung {reference}:"
    )
    assert "Cora" not in answer.text

    status, page = await browser.post(
        f"/items/{reference}", {"action": "note", "text": "Mit der VHS klären."}
    )
    assert "nur für die Arbeitsgruppe" in page
    status, page = await browser.post(
        f"/items/{reference}", {"action": "state", "state": "declined"}
    )
    assert "Für abgelehnt ist eine Begründung nötig" in page
    status, page = await browser.post(
        f"/items/{reference}",
        {"action": "state", "state": "implemented", "text": "Der Kurs steht im Programm."},
    )
    assert f"{reference} ist jetzt umgesetzt. Die Person wurde informiert." in page
    told = await bot.message_with(
        rosa.id, f"Neuer Stand Ihrer Rückmeldung {reference}: umgesetzt."
    )
    assert told.text is not None and "Der Kurs steht im Programm." in told.text

    (item,) = await bot.items()
    assert (item.state, item.assignee) == ("implemented", f"telegram:{cora}")
    history = await bot.app.store.items.list_history(item.id or 0)
    assert [(e.action, e.actor, e.actor_name) for e in history[1:]] == [
        ("taken", f"telegram:{cora}", "Cora"),
        ("reply", f"telegram:{cora}", "Cora"),
        ("note", f"telegram:{cora}", "Cora"),
        ("state", f"telegram:{cora}", "Cora"),
    ]
    # The history in the sentences of the chat's /item, what people wrote isolated (FSI…PDI).
    status, page = await browser.get(f"/items/{reference}")
    for shown in (
        "Eingegangen (Bürger:in)",
        "Cora hat es übernommen",
        "Antwort von Cora an die Bürger:in: \u2068Ab September gibt es einen Kurs.\u2069",
        "Notiz von Cora: \u2068Mit der VHS klären.\u2069",
        "Cora hat den Status geändert: umgesetzt – \u2068Der Kurs steht im Programm.\u2069",
    ):
        assert shown in page, shown

    # Re-routed to another group: its chats get the item, Cora no longer sees it.
    group = bot.api.add_group("UAG Arbeit", [])
    await bot.app.store.membership.add_group_chat("uag-arbeit", "telegram", str(group.id))
    status, page = await browser.post(
        f"/items/{reference}", {"action": "assign", "group": "uag-arbeit"}
    )
    assert status == 200 and f"{reference} ist an Unter-AG Arbeit" in page  # back to the list
    await bot.message_with(group.id, "Weitergeleitete Rückmeldung")
    await bot.message_with(rosa.id, f"Ihre Rückmeldung {reference} ist jetzt bei:")


async def test_the_list_filters_searches_sorts_pages_and_downloads(
    bot: RunningBot, browser: Browser
) -> None:
    cora = await cora_signed_in(bot, browser)
    store, now = bot.app.store, bot.app.clock.now()
    contact, _ = await store.contacts.get_or_add_contact(ContactKey("telegram", "7", "7"), now)
    assert contact.id is not None
    for number in range(60):
        await store.feedback.add_item(
            NewItem(
                contact_id=contact.id,
                kind="question" if number % 3 else "suggestion",
                field_key="bildung",
                text=f"Frage Nummer {number} zur Kita" if number % 10 else f"Schule {number}",
                language="de",
                anonymous=True,
                platform="telegram",
            ),
            now + timedelta(minutes=number),
        )
    await store.feedback.add_item(  # another group's: never listed for Cora
        NewItem(contact.id, "question", "arbeit", "Kita Arbeit", "de", True, "telegram"), now
    )

    status, page = await browser.get("/items")
    assert "60 Rückmeldungen" in page and page.count('<th scope="row"><a href=') == 50
    assert page.index("F-2026-0060") < page.index("F-2026-0059")  # newest first
    assert "Nächste Seite" in page and "F-2026-0061" not in page
    status, page = await browser.get("/items?page=2")
    assert page.count('<th scope="row"><a href=') == 10 and "Vorherige Seite" in page
    status, page = await browser.get("/items?sort=oldest")
    assert page.index("F-2026-0001") < page.index("F-2026-0002")
    status, page = await browser.get("/items?kind=suggestion")
    assert "20 Rückmeldungen" in page
    status, page = await browser.get("/items?q=Schule")
    assert "6 Rückmeldungen" in page
    status, page = await browser.get("/items?q=schule+40")
    assert "1 Rückmeldung" in page and "F-2026-0041" in page
    status, page = await browser.get("/items?q=F-2026-0007")
    assert "1 Rückmeldung" in page
    status, page = await browser.get("/items?q=100%25")  # a % is a character, not a wildcard
    assert "Keine Rückmeldungen für diese Auswahl." in page
    status, page = await browser.get("/items?state=closed")
    assert "Keine Rückmeldungen für diese Auswahl." in page
    bot.app.clock.advance(timedelta(days=15))  # type: ignore[attr-defined]
    await browser.sign_in(bot.api.users[cora])  # the session ended after an idle hour
    status, page = await browser.get("/items?overdue=1&sort=due")
    assert status == 200 and "60 Rückmeldungen" in page and "überfällig" in page

    download = await browser.response("/items.csv?kind=suggestion")
    assert download.headers["Content-Disposition"] == 'attachment; filename="mitreden-items.csv"'
    table = list(csv.reader(io.StringIO((await download.read()).decode("utf-8-sig"))))
    assert table[0] == [
        "Kennung",
        "Art",
        "Handlungsfeld",
        "Arbeitsgruppe",
        "Stand",
        "Eingegangen",
        "Frist",
        "Erste Antwort",
        "Bearbeitet von",
        "Text",
    ]
    assert len(table) == 21 and {row[1] for row in table[1:]} == {"Vorschlag"}
    assert table[1][0] == "F-2026-0058" and table[1][9] == "Frage Nummer 57 zur Kita"


async def test_the_overview_shows_the_year_reports_figures(
    bot: RunningBot, browser: Browser
) -> None:
    await cora_signed_in(bot, browser)
    rosa = bot.resident("Rosa")
    await submit(bot, rosa.id, "Mehr Deutschkurse am Abend.")
    await submit(bot, rosa.id, "Ein Sportverein für Mädchen.", field="Arbeit und Ausbildung")
    status, page = await browser.get("/")
    assert status == 200
    assert (
        "Dieser Monat: 2 Rückmeldungen" in page and "Dieses Jahr (2026): 2 Rückmeldungen" in page
    )
    assert page.count('<svg class="chart" role="img"') == 2  # one chart per period
    # Each chart is followed by its table (the report's own, whatever the report calls it).
    for period in ("p1", "p2"):
        chart = page.index(f'aria-labelledby="{period}s1-1-t {period}s1-1-d"')
        assert page.index("<caption", chart) < page.index("</section>", chart)
    assert page.count("<table>") >= 2


async def test_events_show_registrations_waitlist_and_documents(
    bot: RunningBot, browser: Browser
) -> None:
    app = bot.app
    app.clock.set(berlin(2026, 10, 1, 12, 0))  # type: ignore[attr-defined]  # registration open
    await cora_signed_in(bot, browser)
    event = await add_round_table(app, bildung_capacity=1)  # type: ignore[arg-type]
    assert event.id is not None
    workshops = await app.store.events.list_workshops(event.id)
    bildung = workshops[0].workshop.id
    now = app.clock.now()
    for user in ("41", "42"):
        contact, _ = await app.store.contacts.get_or_add_contact(
            ContactKey("telegram", user, user, f"Gast {user}"), now
        )
        assert contact.id is not None
        await app.store.registrations.register(event.id, contact.id, bildung, now, lambda *_: [])
    await app.store.events.add_document(
        event.id, "Programm", "programm.pdf", "application/pdf", b"%PDF-1.7", now
    )
    status, page = await browser.get("/events")
    assert status == 200 and "Runder Tisch Integration 2026" in page
    assert "1 angemeldet, 1 auf der Warteliste, 0 abgemeldet." in page
    assert "Gast 41" in page and "Programm" in page
    download = await browser.response("/events/rt2026/registrations.csv")
    table = list(csv.reader(io.StringIO((await download.read()).decode("utf-8-sig"))))
    assert [row[1:4] for row in table[1:]] == [
        ["Gast 41", "Lokaltermin Bildung und Sprache", "angemeldet"],
        ["Gast 42", "Lokaltermin Bildung und Sprache", "auf der Warteliste"],
    ]
    (document,) = await app.store.events.list_documents(event.id)
    file = await browser.response(f"/events/rt2026/documents/{document.id}")
    assert await file.read() == b"%PDF-1.7"
    assert (await browser.get("/events/other/registrations.csv"))[0] == 404


async def test_administrators_edit_working_groups_coordinators_read_them(
    bot: RunningBot, browser: Browser, second_browser: Browser
) -> None:
    await cora_signed_in(bot, browser)
    status, page = await browser.get("/groups")
    assert status == 200 and "Ändern können nur Administrator:innen." in page
    assert 'name="change"' not in page
    status, _ = await browser.post("/groups/uag-bildung", {"change": "add", "value": "telegram:5"})
    assert status == 404
    assert await bot.app.store.membership.groups_of("telegram", "5") == []

    await second_browser.sign_in(bot.api.add_user("Ada", user_id=ADMIN_ID))
    status, page = await second_browser.post(
        "/groups/uag-bildung", {"change": "add", "value": "telegram:5"}
    )
    assert "telegram:5 koordiniert jetzt uag-bildung." in page
    assert await bot.app.store.membership.groups_of("telegram", "5") == ["uag-bildung"]
    status, page = await second_browser.post(
        "/groups/uag-bildung", {"change": "answer_days", "value": "10"}
    )
    assert "erste Antwort jetzt innerhalb von 10 Tagen" in page
    group = await bot.app.store.groups.get_group("uag-bildung")
    assert group is not None and group.answer_days == 10
    status, page = await second_browser.post(
        "/groups/uag-bildung", {"change": "answer_days", "value": "1"}
    )
    assert "erste Antwort jetzt innerhalb von 1 Tag." in page
    status, page = await second_browser.post(
        "/groups/uag-bildung", {"change": "answer_days", "value": "10"}
    )
    status, page = await second_browser.post(
        "/groups/uag-bildung", {"change": "remove", "value": "telegram:5"}
    )
    assert "telegram:5 koordiniert uag-bildung nicht mehr." in page
    audit = [(a.action, a.detail) for a in await rows(bot.app.db, WebAudit) if a.detail]
    assert audit == [
        ("coordinator_add", "uag-bildung telegram:5"),
        ("group_answer_days", "uag-bildung 10"),
        ("group_answer_days", "uag-bildung 1"),
        ("group_answer_days", "uag-bildung 10"),
        ("coordinator_remove", "uag-bildung telegram:5"),
    ]
