"""The web view's overview shows the year's surveys and polls as the year report does: a
chart with its table per poll, with the response rate (issue 20)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.asking_models import Poll
from storage.contacts import ContactKey
from tests.e2e.conftest import RunningBot
from tests.e2e.web.conftest import Browser

pytestmark = pytest.mark.e2e


async def test_the_overview_shows_the_years_polls(bot: RunningBot, browser: Browser) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await browser.sign_in(cora)
    status, page = await browser.get("/")
    assert status == 200 and "Umfragen" not in page  # none yet: no section

    now = bot.app.clock.now()
    texts = {
        "de": {
            "question": "Wo soll das nächste Treffen sein?",
            "options": ["Rathaus", "Bibliothek"],
        }
    }
    poll = await bot.app.store.polls.add_poll(
        Poll(
            key="treffpunkt",
            texts=texts,
            audience="all",
            opens_at=now - timedelta(days=7),
            closes_at=now - timedelta(hours=1),
            created_at=now,
            updated_at=now,
        )
    )
    assert poll.id is not None
    for name, option in (("ana", 1), ("ben", 1), ("cem", 0)):
        contact, _ = await bot.app.store.contacts.get_or_add_contact(
            ContactKey("telegram", name, name, name), now
        )
        assert contact.id is not None
        await bot.app.store.polls.set_answer(poll.id, contact.id, option, now)

    status, page = await browser.get("/")
    assert status == 200
    assert "<h3>Umfragen</h3>" in page
    assert "Umfrage: Wo soll das nächste Treffen sein?" in page
    assert "Rücklauf: 100 % (3 von 3)" in page
    assert page.count('<svg class="chart" role="img"') == 3  # the two periods', and the poll's
    assert '<th scope="row">Bibliothek</th><td class="num">2</td>' in page
