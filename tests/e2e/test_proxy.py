"""Telegram through an outbound HTTP proxy (`telegram.proxy_url`), as many city networks
require: a resident's whole flow and the working group's side of it, with a real proxy
server (proxy.py) between the bot and the fake Bot API.

The bot is given the server as `bot-api.test`, a name only the proxy resolves (to the
loopback port the server listens on): the bot reaches it through the proxy or not at all.
The proxy's own log then shows that it carried every call the server answered.
"""

from __future__ import annotations

from collections import Counter

import pytest

from storage.models import Attachment
from testkit.proxyserver import ProxyServer
from testkit.support import rows
from tests.e2e.conftest import RunningBot, StartBot

pytestmark = pytest.mark.e2e

API_HOST = "bot-api.test"
KIND_QUESTION = "Was für eine Rückmeldung ist das?"
REF = "F-2026-0001"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2


@pytest.fixture
async def bot(proxy: ProxyServer, start_bot: StartBot) -> RunningBot:
    """The bot as `mitreden run` wires it (channel and outbox delivery), its proxy set in
    the settings only: the test does not depend on the environment's proxy variables.
    (The proxy comes first, so it stops after the bot: the bot's last getUpdates ends the
    long poll under way, or the fake server would wait it out at its own stop.)"""
    return await start_bot(reach_as=API_HOST, proxy_url=proxy.url, deliver=True)


def bot_api_calls(proxy: ProxyServer) -> Counter[str]:
    """Bot API method → how often the proxy carried it to the server."""
    return Counter(
        c.path.split("/")[2].partition("?")[0]
        for c in proxy.carried()
        if c.host == API_HOST and c.path.startswith("/bot")
    )


async def test_a_residents_whole_flow_goes_through_the_proxy(
    bot: RunningBot, proxy: ProxyServer
) -> None:
    rosa, cora = bot.resident("Rosa"), bot.resident("Cora")
    group = bot.api.add_group("UAG Bildung", [cora.id])
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))

    # The resident writes, attaches a photo and presses through the questions.
    bot.api.inject_text(rosa.id, "Schlagloch vor der Schule")
    await bot.message_with(rosa.id, KIND_QUESTION)
    bot.api.inject_photo(rosa.id, PHOTO)
    await bot.message_with(rosa.id, "Datei angehängt (1 Datei")
    prompt = (await bot.messages(rosa.id, 3))[-1]
    for step, label in enumerate(
        ("Kritik", "Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1
    ):
        bot.press(rosa.id, prompt, label)
        await bot.edited(prompt, step)
    assert prompt.text is not None and f"Ihre Referenz: {REF}" in prompt.text
    (item,) = await bot.items()
    (photo,) = await rows(bot.app.db, Attachment, Attachment.item_id == item.id)
    assert photo.data == PHOTO  # downloaded through the proxy as well

    # The working group's chat gets the item from the outbox; a coordinator's answer
    # reaches the resident the same way.
    await bot.message_with(group.id, "Neue Rückmeldung")
    bot.api.inject_text(cora.id, f"/reply {REF} Die Stadt bessert die Straße aus.", group.id)
    await bot.message_with(rosa.id, "Die Stadt bessert die Straße aus.")

    # Every call the server answered was carried by the proxy (the proxy logs a call when
    # it arrives, the server when it answers: they agree once the bot is idle), and so was
    # the photo's download.
    def agreed() -> Counter[str] | None:
        answered = Counter(c.method for c in bot.api.sent_log if c.method != "getUpdates")
        carried = bot_api_calls(proxy)
        polls = carried.pop("getUpdates", 0)
        return answered if carried == answered and polls > 0 else None

    answered = await bot.until(agreed, "the proxy's log to show every call")
    for method in ("getMe", "setMyCommands", "sendMessage", "answerCallbackQuery", "getFile"):
        assert answered[method] > 0, method
    assert bot_api_calls(proxy)["getUpdates"] >= bot.api.count("getUpdates", 200)
    assert any(c.path.startswith("/file/bot") for c in proxy.carried() if c.host == API_HOST)
