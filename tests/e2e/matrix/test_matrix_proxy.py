"""Matrix through an outbound HTTP proxy (`matrix.proxy_url`): a resident's whole flow in an
encrypted direct chat, the working group's room and a coordinator's answer, with a real
proxy server (proxy.py) between the bot and Synapse.

The bot is given the homeserver as `synapse.test`, a name only the proxy resolves (to
Synapse's loopback port): the bot reaches Synapse through the proxy or not at all. The
residents' own clients talk to Synapse directly, as Element would from their phones.
"""

from __future__ import annotations

import pytest

from storage.models import FeedbackItem
from testkit.proxyserver import ProxyServer
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, working_group
from tests.e2e.matrix.test_matrix_flow import REFERENCE, submit

pytestmark = pytest.mark.e2e

HOMESERVER_HOST = "synapse.test"


async def test_a_residents_whole_flow_goes_through_the_proxy(
    proxy: ProxyServer,  # first, so that it stops after the bot
    lab: Lab,
) -> None:
    group = await working_group(
        lab,
        homeserver=f"http://{HOMESERVER_HOST}:{lab.synapse.port}",
        proxy_url=proxy.url,  # set in the settings: the environment plays no part
    )
    bot, cora, group_room, account = group.bot, group.coordinator, group.room, group.bot.account

    anna = await lab.person("anna")
    dm = await anna.direct_chat(account.user_id, encrypted=True)
    thanks = await submit(anna, dm, "Mehr Sprachkurse am Abend, bitte.")
    reference = REFERENCE.search(thanks)
    assert reference is not None
    ref = reference.group()

    card = await cora.answer(group_room, ref)  # from the outbox
    assert "Mehr Sprachkurse am Abend, bitte." in card
    await cora.say(group_room, f"/reply {ref} Danke! Wir sprechen mit der VHS.")
    answer = await anna.answer(dm, "Danke! Wir sprechen mit der VHS.")
    assert ref in answer
    (item,) = await rows(bot.app.db, FeedbackItem)
    assert item.first_answered_at is not None

    # The proxy's log: the bot's connections to the homeserver, tunnelled (CONNECT).
    tunnels = [c for c in proxy.carried() if c.host == HOMESERVER_HOST]
    assert tunnels and {c.method for c in tunnels} == {"CONNECT"}
    assert {c.port for c in tunnels} == {lab.synapse.port}
