"""Coordinator commands, platform-neutral through `App.handle`: the group notification of a
new item, /pending, /item, /take, /assign, /state, /note, /stats and the history they write.

Who may use them (refusals) is in test_coordinator_access.py, state changes and buttons in
test_coordinator_workflow.py, answers to and from residents in test_coordinator_relay.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.config import Settings
from storage.items.handling import Change
from storage.models import FeedbackItem, ItemEvent
from testkit.support import (
    ARBEIT_CHAT,
    BILDUNG_CHAT,
    FakeClock,
    GroupMember,
    Resident,
    coordination_settings,
    item_reference,
    outbox_rows,
    photo,
    rows,
)

REF = "F-2026-0001"
MakeApp = Callable[..., Awaitable[App]]


async def submit(
    app: App,
    name: str = "rosa",
    text: str = "Mehr Deutschkurse am Abend",
    field: str = "Bildung und Sprache",
    anonymity: str = "Anonym bleiben",
) -> Resident:
    resident = Resident(app.handle, name)
    answer = await resident.submit(text, field=field, anonymity=anonymity)
    assert answer.startswith("Vielen Dank!"), answer
    return resident


async def item_of(app: App, reference: str = REF) -> FeedbackItem:
    item = await app.store.items.get_item(reference)
    assert item is not None
    return item


async def history(app: App, reference: str = REF) -> list[ItemEvent]:
    return await app.store.items.list_history((await item_of(app, reference)).id or 0)


# ---- the notification of a new item ------------------------------------------------------


async def test_new_item_is_announced_in_its_groups_chat_with_actions(coordination: App) -> None:
    await submit(coordination)

    (row,) = await outbox_rows(coordination.db, BILDUNG_CHAT)
    assert row.idempotency_key == f"item-new:{REF}:telegram:{BILDUNG_CHAT}"
    assert (row.platform, row.is_group, row.state) == ("telegram", True, "pending")
    assert item_reference(row) == REF
    assert row.payload["text"] == (
        "Neue Rückmeldung\n\n"
        f"{REF} · Vorschlag · Bildung und Sprache\n"
        "Von: anonym · Sprache: Deutsch\n"
        "Stand: eingegangen\n"
        "Erste Antwort erwartet bis 29. Juni 2026\n"
        "\n"
        "Mehr Deutschkurse am Abend"
    )
    assert row.payload["choices"] == [
        ["Übernehmen", f"item:take:{REF}"],
        ["Antworten", f"item:answer:{REF}"],
        ["Status ändern", f"item:state:{REF}"],
    ]
    assert await outbox_rows(coordination.db, ARBEIT_CHAT) == []  # another group's chat


async def test_notification_carries_the_attachments_by_reference(coordination: App) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.attach(photo(), text="Schlagloch vor der Schule")
    await rosa.press("Kritik")
    await rosa.press("Bildung und Sprache")
    await rosa.press("Anonym bleiben")
    await rosa.press("Abschicken")

    (row,) = await outbox_rows(coordination.db, BILDUNG_CHAT)
    assert "1 Anhang" in row.payload["text"]
    (file_id,) = row.payload["files"]
    reply = await coordination.resolve(row.payload)
    assert [(f.file_name, f.data) for f in reply.files] == [("pothole.jpg", b"\xff\xd8jpeg")]
    assert file_id == reply.files[0].stored_id


async def test_every_notification_chat_of_the_group_gets_the_item(
    make_app: MakeApp, settings: Settings
) -> None:
    changed = coordination_settings(settings)
    groups = tuple(
        replace(g, chats=(*g.chats, "matrix:!room:example.org")) if g.key == "uag-bildung" else g
        for g in changed.groups
    )
    app = await make_app(replace(changed, groups=groups))
    await submit(app)

    queued = [(r.platform, r.chat_id) for r in await outbox_rows(app.db) if r.is_group]
    assert queued == [("telegram", BILDUNG_CHAT), ("matrix", "!room:example.org")]


# ---- /pending ---------------------------------------------------------------------------


async def test_pending_lists_open_items_with_their_age(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination)
    clock.advance(timedelta(days=3))
    cora = Resident(coordination.handle, "cora")

    await cora.command("/pending")

    assert cora.last_text == (
        "Offene Rückmeldungen, die ältesten zuerst:\n"
        f"{REF} · Vorschlag · Bildung und Sprache · 3 Tage"
    )
    assert cora.choices == []


async def test_pending_without_open_items(coordination: App) -> None:
    await submit(coordination)
    await coordination.store.items.apply(
        REF, Change("system", "test"), coordination.clock.now(), values={"state": "closed"}
    )
    cora = Resident(coordination.handle, "cora")
    await cora.command("/pending")
    assert cora.last_text == "Keine offenen Rückmeldungen."


async def test_pending_lists_overdue_items_first_then_by_due_date(
    make_app: MakeApp, settings: Settings, clock: FakeClock
) -> None:
    changed = coordination_settings(settings)
    quick = tuple(
        replace(g, answer_days=3) if g.key == "uag-arbeit" else g for g in changed.groups
    )
    app = await make_app(replace(changed, groups=quick))
    await submit(app, "rosa")  # 0001, bildung, due in 14 days
    clock.advance(timedelta(days=1))
    await submit(app, "paul", "Mehr Ausbildungsplätze", field="Arbeit und Ausbildung")  # 0002
    clock.advance(timedelta(days=1))
    await submit(app, "lena")  # 0003, bildung, due in 14 days
    clock.advance(timedelta(days=3))  # 0002 is a day past its date

    ada = Resident(app.handle, "ada")  # the administrator sees every group
    await ada.command("/pending")

    assert ada.last_text.splitlines() == [
        "Offene Rückmeldungen, die ältesten zuerst:",
        "F-2026-0002 · Vorschlag · Arbeit und Ausbildung · 4 Tage · ÜBERFÄLLIG",
        "F-2026-0001 · Vorschlag · Bildung und Sprache · 5 Tage",
        "F-2026-0003 · Vorschlag · Bildung und Sprache · 3 Tage",
    ]


async def test_pending_pages_follow_each_other_without_gaps_or_repeats(
    make_app: MakeApp, settings: Settings, clock: FakeClock
) -> None:
    app = await make_app(coordination_settings(settings, page_size=2))
    clock.set(datetime(2026, 6, 15, 12, 0, 0, 123456, tzinfo=UTC))  # a real clock's microseconds
    for n in range(5):
        await submit(app, f"person{n}")
        clock.advance(timedelta(milliseconds=1))
    cora = Resident(app.handle, "cora")

    await cora.command("/pending")
    seen = [line.split(" · ")[0] for line in cora.last_text.splitlines()[1:]]
    assert cora.choices == ["Weitere"]
    payload = cora.choice("Weitere").payload
    assert payload.startswith("pg::") and len(payload.encode()) <= 64  # Telegram's limit
    await cora.press("Weitere")
    seen += [line.split(" · ")[0] for line in cora.last_text.splitlines()[1:]]
    await cora.press("Weitere")
    seen += [line.split(" · ")[0] for line in cora.last_text.splitlines()[1:]]

    assert seen == [f"F-2026-000{n}" for n in range(1, 6)]
    assert cora.choices == []  # the last page has no "more" button


async def test_pending_page_button_past_the_end_and_garbled(coordination: App) -> None:
    cora = Resident(coordination.handle, "cora")
    await cora.press_payload("pg::4102444800000000:9")  # after the year 2100
    assert cora.last_text == "Keine weiteren offenen Rückmeldungen."
    await cora.press_payload("pg::soon:x")
    assert cora.replies[0].text == "Diese Schaltfläche gilt nicht mehr."
    assert cora.replies[0].notice


async def test_pending_scoped_by_group_and_by_field(coordination: App) -> None:
    await submit(coordination, "rosa")  # bildung → uag-bildung
    await submit(coordination, "paul", "Mehr Ausbildungsplätze", field="Arbeit und Ausbildung")
    await submit(coordination, "lena", "Mehr Ärzte", field="Gesundheit und Pflege")
    ada = Resident(coordination.handle, "ada")

    async def listed(command: str) -> list[str]:
        await ada.command(command)
        return [line.split(" · ")[0] for line in ada.last_text.splitlines()[1:]]

    assert await listed("/pending") == ["F-2026-0001", "F-2026-0002", "F-2026-0003"]
    assert await listed("/pending uag-arbeit") == ["F-2026-0002"]
    assert await listed("/pending gesundheit") == ["F-2026-0003"]
    await ada.command("/pending nirgendwo")
    assert ada.last_text == "nirgendwo ist weder eine Arbeitsgruppe noch ein Handlungsfeld."

    cora = Resident(coordination.handle, "cora")  # uag-bildung only
    await cora.command("/pending")
    assert [line.split(" · ")[0] for line in cora.last_text.splitlines()[1:]] == ["F-2026-0001"]
    await cora.command("/pending arbeit")  # a field, within her own groups
    assert cora.last_text == "Keine offenen Rückmeldungen."
    await cora.command("/pending uag-arbeit")
    assert cora.last_text == "Unter-AG Arbeit und Ausbildung gehört nicht zu Ihren Arbeitsgruppen."


async def test_pending_in_the_group_chat(coordination: App) -> None:
    await submit(coordination)
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)
    await cora.command("/pending@mitreden_bot")
    assert cora.last_text.startswith("Offene Rückmeldungen, die ältesten zuerst:")


# ---- /item -------------------------------------------------------------------------------


async def test_item_shows_card_group_history_and_actions(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination)
    clock.advance(timedelta(hours=2))
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/take {REF}")
    clock.advance(timedelta(hours=1))
    await cora.command(f"/note {REF} Rückfrage bei der VHS")

    await cora.command(f"/item {REF.lower()}")

    assert cora.last_text == (
        f"{REF} · Vorschlag · Bildung und Sprache\n"
        "Von: anonym · Sprache: Deutsch\n"
        "Stand: in Bearbeitung\n"
        "Erste Antwort erwartet bis 29. Juni 2026\n"
        "\n"
        "Mehr Deutschkurse am Abend\n"
        "\n"
        "Arbeitsgruppe: Unter-AG Bildung und Sprache\n"
        "Verlauf:\n"
        "15. Juni 2026 14:00 · Eingegangen (Bürger:in)\n"
        "15. Juni 2026 16:00 · Cora hat es übernommen\n"
        "15. Juni 2026 17:00 · Notiz von Cora: Rückfrage bei der VHS"
    )
    assert cora.choices == ["Antworten", "Status ändern"]  # it is hers already


async def test_item_sends_the_attachments(coordination: App) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.attach(photo(), text="Schlagloch")
    for label in ("Kritik", "Bildung und Sprache", "Anonym bleiben", "Abschicken"):
        await rosa.press(label)
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/item {REF}")
    (reply,) = cora.replies
    assert [f.file_name for f in reply.files] == ["pothole.jpg"]
    assert "1 Anhang" in reply.text


async def test_item_needs_a_known_reference(coordination: App) -> None:
    cora = Resident(coordination.handle, "cora")
    await cora.command("/item")
    assert cora.last_text == "Bitte geben Sie eine Referenz an, z. B. /item F-2026-0042."
    await cora.command("/item 42")
    assert cora.last_text == "Bitte geben Sie eine Referenz an, z. B. /item F-2026-0042."
    await cora.command("/item f-2026-9999")
    assert cora.last_text == "Eine Rückmeldung F-2026-9999 gibt es nicht."


# ---- /take -------------------------------------------------------------------------------


async def test_take_assigns_moves_to_in_progress_and_tells_the_resident(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination)
    clock.advance(timedelta(hours=1))
    cora = Resident(coordination.handle, "cora")

    await cora.command(f"/take {REF}")

    assert cora.last_text == f"{REF} ist jetzt bei Ihnen (in Bearbeitung)."
    item = await item_of(coordination)
    assert (item.state, item.assignee, item.assignee_name) == (
        "in_progress",
        "telegram:u-cora",
        "Cora",
    )
    event = (await history(coordination))[-1]
    assert (event.actor, event.actor_name, event.action, event.state, event.at) == (
        "telegram:u-cora",
        "Cora",
        "taken",
        "in_progress",
        clock.now(),
    )
    told = await outbox_rows(coordination.db, "c-rosa")
    assert [r.payload["text"] for r in told] == [
        f"Neuer Stand Ihrer Rückmeldung {REF}: in Bearbeitung."
    ]
    await cora.command("/pending")
    assert cora.last_text.endswith(" · Cora")  # the assignee is listed

    await cora.command(f"/take {REF}")
    assert cora.last_text == f"{REF} ist schon bei Ihnen."
    assert len(await history(coordination)) == 2


async def test_take_of_an_answered_item_keeps_its_state(coordination: App) -> None:
    await submit(coordination)
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/reply {REF} Danke, wir prüfen das.")
    before = len(await outbox_rows(coordination.db, "c-rosa"))

    ada = Resident(coordination.handle, "ada")
    await ada.command(f"/take {REF}")

    assert ada.last_text == f"{REF} ist jetzt bei Ihnen (beantwortet)."
    item = await item_of(coordination)
    assert (item.state, item.assignee) == ("answered", "telegram:u-ada")
    assert len(await outbox_rows(coordination.db, "c-rosa")) == before  # nothing to tell


# ---- /assign -----------------------------------------------------------------------------


async def test_assign_reroutes_notifies_the_new_group_and_tells_the_resident(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination)
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/take {REF}")
    clock.advance(timedelta(minutes=5))

    await cora.command(f"/assign {REF} uag-arbeit")

    assert cora.last_text == f"{REF} ist an Unter-AG Arbeit und Ausbildung weitergeleitet."
    item = await item_of(coordination)
    assert (item.group_key, item.assignee, item.assignee_name) == ("uag-arbeit", None, None)
    (row,) = await outbox_rows(coordination.db, ARBEIT_CHAT)
    assert row.is_group and item_reference(row) == REF
    assert row.payload["text"].startswith(f"Weitergeleitete Rückmeldung\n\n{REF} · Vorschlag")
    assert [label for label, _ in row.payload["choices"]] == [
        "Übernehmen",
        "Antworten",
        "Status ändern",
    ]
    told = [r.payload["text"] for r in await outbox_rows(coordination.db, "c-rosa")]
    assert told[-1] == (f"Ihre Rückmeldung {REF} ist jetzt bei: Unter-AG Arbeit und Ausbildung.")
    event = (await history(coordination))[-1]
    assert (event.actor, event.action, event.group_key, event.at) == (
        "telegram:u-cora",
        "assigned",
        "uag-arbeit",
        clock.now(),
    )

    await cora.command(f"/item {REF}")  # no longer hers
    assert cora.last_text == f"{REF} gehört nicht zu Ihren Arbeitsgruppen."
    otto = Resident(coordination.handle, "otto")
    await otto.command(f"/item {REF}")
    assert "Arbeitsgruppe: Unter-AG Arbeit und Ausbildung" in otto.last_text
    assert "· Cora hat es an Unter-AG Arbeit und Ausbildung weitergeleitet" in otto.last_text


async def test_assign_refuses_unknown_same_or_missing_group(coordination: App) -> None:
    await submit(coordination)
    cora = Resident(coordination.handle, "cora")

    await cora.command(f"/assign {REF} nirgendwo")
    assert cora.last_text.startswith("Die Arbeitsgruppe nirgendwo gibt es nicht. Bekannt sind: ")
    assert "uag-arbeit" in cora.last_text and "ag-integration" in cora.last_text
    await cora.command(f"/assign {REF} uag-bildung")
    assert cora.last_text == f"{REF} ist schon bei Unter-AG Bildung und Sprache."
    await cora.command(f"/assign {REF}")
    assert cora.last_text == "So geht es: /assign F-2026-0042 arbeitsgruppe"

    assert (await item_of(coordination)).group_key == "uag-bildung"
    assert [e.action for e in await history(coordination)] == ["created"]


# ---- /state (usage; the transitions are in test_coordinator_workflow.py) ---------------


async def test_state_usage_and_spellings(coordination: App) -> None:
    await submit(coordination)
    cora = Resident(coordination.handle, "cora")
    usage = (
        "So geht es: /state F-2026-0042 STATUS [Anmerkung]. Status: eingegangen, "
        "in Bearbeitung, beantwortet, umgesetzt, abgelehnt, abgeschlossen."
    )
    await cora.command(f"/state {REF}")
    assert cora.last_text == usage
    await cora.command(f"/state {REF} erledigt")
    assert cora.last_text == usage
    await cora.command(f"/state {REF} In-Progress")
    assert cora.last_text == f"{REF} ist jetzt in Bearbeitung. Die Person wurde informiert."


# ---- /note -------------------------------------------------------------------------------


async def test_note_is_internal_and_kept_in_the_history(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination)
    before = await outbox_rows(coordination.db)
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)

    await cora.command(f"/note {REF} Bitte mit der VHS klären,\nvor Freitag.")

    assert cora.last_text == f"Notiz zu {REF} gespeichert (nur für die Arbeitsgruppe)."
    assert await outbox_rows(coordination.db) == before  # nobody is told
    event = (await history(coordination))[-1]
    assert (event.actor, event.actor_name, event.action, event.text, event.at) == (
        "telegram:u-cora",
        "Cora",
        "note",
        "Bitte mit der VHS klären,\nvor Freitag.",
        clock.now(),
    )
    assert (await item_of(coordination)).state == "received"
    await cora.command(f"/note {REF}")
    assert cora.last_text == "So geht es: /note F-2026-0042 Ihr Text"


# ---- /stats ------------------------------------------------------------------------------


async def test_stats_counts_by_field_and_state_and_the_median_wait(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination, "rosa")  # 0001
    await submit(coordination, "lena")  # 0002
    await submit(coordination, "mia")  # 0003
    await submit(coordination, "paul", "Mehr Ausbildungsplätze", field="Arbeit und Ausbildung")
    cora = Resident(coordination.handle, "cora")
    otto = Resident(coordination.handle, "otto")
    clock.advance(timedelta(hours=2))
    await cora.command("/reply F-2026-0001 Danke!")  # first answer after 2 hours
    clock.advance(timedelta(hours=2))
    await cora.command("/state F-2026-0002 answered")  # after 4 hours
    clock.advance(timedelta(hours=4))
    await otto.command("/reply F-2026-0004 Danke!")  # after 8 hours
    await cora.command("/take F-2026-0003")

    ada = Resident(coordination.handle, "ada")
    await ada.command("/stats")
    assert ada.last_text == (
        "4 Rückmeldungen vom 16. Mai 2026 bis 15. Juni 2026\n"
        "\n"
        "Nach Handlungsfeld:\n"
        "  Bildung und Sprache: 3\n"
        "  Arbeit und Ausbildung: 1\n"
        "\n"
        "Nach Stand:\n"
        "  beantwortet: 3\n"
        "  in Bearbeitung: 1\n"
        "\n"
        "Zeit bis zur ersten Antwort im Median: 4 Stunden (3 beantwortet)"
    )

    await cora.command("/stats")  # her group only
    assert cora.last_text.startswith("3 Rückmeldungen vom")
    assert "  Arbeit und Ausbildung:" not in cora.last_text
    assert cora.last_text.endswith("im Median: 3 Stunden (2 beantwortet)")


async def test_stats_periods(coordination: App, clock: FakeClock) -> None:
    await submit(coordination, "rosa")
    clock.advance(timedelta(days=40))
    await submit(coordination, "lena")
    clock.advance(timedelta(minutes=1))
    cora = Resident(coordination.handle, "cora")

    await cora.command("/stats")  # the last 30 days
    assert cora.last_text.startswith("1 Rückmeldung vom")
    assert cora.last_text.endswith("Noch keine Rückmeldung beantwortet.")
    await cora.command("/stats 8w")
    assert cora.last_text.startswith("2 Rückmeldungen vom")
    await cora.command("/stats 2026")  # the year's last day, not the next year's first
    assert cora.last_text.startswith("2 Rückmeldungen vom 1. Jan. 2026 bis 31. Dez. 2026\n")
    await cora.command("/stats all")
    assert cora.last_text.startswith("2 Rückmeldungen vom")
    await cora.command("/stats 2025")
    assert cora.last_text == "Im Zeitraum sind keine Rückmeldungen eingegangen."
    await cora.command("/stats gestern")
    assert cora.last_text == "Zeitraum bitte als 30d, 12w, 2026 oder all angeben."


# ---- the append-only history -------------------------------------------------------------


async def test_every_change_lands_in_the_history_with_who_when_what(
    coordination: App, clock: FakeClock
) -> None:
    rosa = await submit(coordination)
    start = clock.now()
    cora = Resident(coordination.handle, "cora")
    otto = Resident(coordination.handle, "otto")
    ada = Resident(coordination.handle, "ada")
    steps = [
        (cora, f"/take {REF}"),
        (cora, f"/note {REF} intern"),
        (cora, f"/reply {REF} Wir kümmern uns."),
        (rosa, f"/reply {REF} Danke!"),
        (cora, f"/state {REF} implemented Ab Herbst"),
        (ada, f"/assign {REF} uag-arbeit"),
        (otto, f"/state {REF} closed"),
    ]
    for minutes, (who, text) in enumerate(steps, 1):
        clock.set(start + timedelta(minutes=minutes))
        await who.command(text)

    events = await history(coordination)
    assert [
        (e.at - start, e.actor, e.actor_name, e.action, e.state, e.group_key, e.text)
        for e in events
    ] == [
        (timedelta(0), "resident", None, "created", "received", "uag-bildung", None),
        (timedelta(minutes=1), "telegram:u-cora", "Cora", "taken", "in_progress", None, None),
        (timedelta(minutes=2), "telegram:u-cora", "Cora", "note", None, None, "intern"),
        (
            timedelta(minutes=3),
            "telegram:u-cora",
            "Cora",
            "reply",
            None,
            None,
            "Wir kümmern uns.",
        ),
        (timedelta(minutes=4), "resident", None, "resident_reply", None, None, "Danke!"),
        (
            timedelta(minutes=5),
            "telegram:u-cora",
            "Cora",
            "state",
            "implemented",
            None,
            "Ab Herbst",
        ),
        (timedelta(minutes=6), "telegram:u-ada", "Ada", "assigned", None, "uag-arbeit", None),
        (timedelta(minutes=7), "telegram:u-otto", "Otto", "state", "closed", None, None),
    ]
    assert (await item_of(coordination)).state == "closed"


async def test_history_is_append_only(coordination: App) -> None:
    await submit(coordination)
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/take {REF}")
    first = [(e.id, e.action, e.at) for e in await rows(coordination.db, ItemEvent)]
    await cora.command(f"/state {REF} answered")
    after = [(e.id, e.action, e.at) for e in await rows(coordination.db, ItemEvent)]
    assert after[: len(first)] == first
    assert len(after) == len(first) + 1
