"""Anonymous residents stay anonymous to working groups and administrators.

A whole scenario runs (notification, commands, buttons, relayed answers both ways,
re-routing, escalation, digest, statistics); every text a coordinator or administrator can
see — outbox rows to group chats and administrators, every reply to them, button labels and
payloads, file names — is collected and searched for the resident's identifiers. With "name
visible" the display name shows, but never a platform id.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from handlers.messages import ChatId, Incoming, Reply, UserId
from testkit.support import BILDUNG_CHAT, FakeClock, GroupMember, Resident, outbox_rows, photo

TELEGRAM_ID = "4711000042"  # private chat id = user id on Telegram
DISPLAY_NAME = "Zora Quixotic-Wendeline"
IDENTIFIERS = (TELEGRAM_ID, "Zora", "Quixotic", "Wendeline")


class DistinctResident(Resident):
    """A resident whose id, chat and name are strings found nowhere else."""

    def incoming(self, **values: Any) -> Incoming:
        base = super().incoming(**values)
        return replace(
            base,
            user_id=UserId(TELEGRAM_ID),
            chat_id=ChatId(TELEGRAM_ID),
            display_name=DISPLAY_NAME,
        )


def planner(app: App, name: str) -> Any:
    (found,) = [p for p in app.planners if getattr(p, "name", "") == name]
    return found


def reply_texts(replies: list[Reply]) -> list[str]:
    texts = []
    for reply in replies:
        texts.append(reply.text)
        texts += [f"{c.label} {c.payload}" for c in reply.choices]
        texts += [f"{f.file_name} {f.platform_file_id}" for f in reply.files]
    return texts


async def coordinator_facing_texts(app: App, clock: FakeClock, anonymity: str) -> list[str]:
    resident = DistinctResident(app.handle, "zora")
    await resident.attach(photo("schlagloch.jpg"), text="Der Weg zur Schule ist gefährlich.")
    for label in ("Kritik", "Bildung und Sprache", anonymity, "Abschicken"):
        await resident.press(label)
    await resident.say("Noch etwas: mehr Deutschkurse am Abend")  # a second item, 0002
    for label in ("Vorschlag", "Bildung und Sprache", anonymity, "Abschicken"):
        await resident.press(label)

    cora = GroupMember(app.handle, "cora", BILDUNG_CHAT)
    otto = Resident(app.handle, "otto")
    ada = Resident(app.handle, "ada")
    await cora.command("/pending")
    await cora.command("/item F-2026-0001")
    await cora.press("Übernehmen")
    await cora.press_payload("item:state:F-2026-0001")
    await cora.command("/note F-2026-0001 Mit dem Tiefbauamt klären")
    await cora.command("/reply F-2026-0001 Danke, wir sehen uns das an.")
    answer = (await outbox_rows(app.db, TELEGRAM_ID))[-1]
    await app.store.outbox.set_sent(answer.id, clock.now(), "900")
    await resident.send(resident.incoming(text="Danke! Es eilt.", reply_to="900"))
    await resident.command("/reply F-2026-0001 Besonders morgens.")
    notification = (await outbox_rows(app.db, BILDUNG_CHAT))[0]
    await app.store.outbox.set_sent(notification.id, clock.now(), "77")
    await cora.reply_to("77", "Wir melden uns bis Freitag.")
    await cora.command("/item F-2026-0001")
    await ada.command("/assign F-2026-0001 uag-arbeit")
    await otto.command("/item F-2026-0001")
    await otto.command("/pending")
    await otto.command("/state F-2026-0001 declined Nicht unser Thema")
    clock.advance(timedelta(days=15))  # 0002 is overdue
    await planner(app, "escalation").plan(clock.now())
    await planner(app, "digest").plan(clock.now() + timedelta(days=6))  # Monday 6 July
    await ada.command("/pending")
    await ada.command("/item F-2026-0002")
    await ada.command("/stats all")
    await cora.command("/stats all")

    texts = [
        json.dumps(row.payload, ensure_ascii=False)
        for row in await outbox_rows(app.db)
        if row.chat_id != TELEGRAM_ID
    ]
    for member in (cora, otto, ada):
        texts += reply_texts(member.transcript)
    return texts


async def test_an_anonymous_resident_is_invisible_to_coordinators(
    coordination: App, clock: FakeClock
) -> None:
    texts = await coordinator_facing_texts(coordination, clock, "Anonym bleiben")

    everything = "\n".join(texts)
    assert "Der Weg zur Schule ist gefährlich." in everything  # the scenario did run
    assert "Danke! Es eilt." in everything and "Besonders morgens." in everything
    assert "Überfällig: F-2026-0002" in everything and "Wochenübersicht" in everything
    assert "Von: anonym" in everything
    found = {identifier for identifier in IDENTIFIERS if identifier in everything}
    assert not found, f"the anonymous resident shows through: {found}"


async def test_a_named_resident_shows_the_display_name_only(
    coordination: App, clock: FakeClock
) -> None:
    texts = await coordinator_facing_texts(coordination, clock, "Mit meinem Namen")

    everything = "\n".join(texts)
    assert f"Von: {DISPLAY_NAME} · Sprache: Deutsch" in everything
    assert TELEGRAM_ID not in everything


@pytest.mark.parametrize("anonymity", ["Anonym bleiben", "Mit meinem Namen"])
async def test_the_resident_is_told_nothing_about_the_coordinator(
    coordination: App, clock: FakeClock, anonymity: str
) -> None:
    await coordinator_facing_texts(coordination, clock, anonymity)
    to_resident = "\n".join(
        row.payload["text"] for row in await outbox_rows(coordination.db, TELEGRAM_ID)
    )
    assert "Antwort von Unter-AG Bildung und Sprache" in to_resident
    assert "Cora" not in to_resident and "u-cora" not in to_resident
    assert "Otto" not in to_resident and "Ada" not in to_resident
