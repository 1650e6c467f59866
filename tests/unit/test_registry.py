"""The router's registry: every command, button prefix and flow is registered once, and a
registration that would make dispatch ambiguous is refused when the bot is wired, not found
by a resident whose button reaches the wrong handler."""

from __future__ import annotations

import pytest

from bot.app import App
from handlers.context import Turn
from handlers.messages import Reply
from handlers.router import Registry


async def nothing(turn: Turn, payload: str = "") -> list[Reply]:
    return []


def test_a_button_prefix_that_overlaps_another_is_refused() -> None:
    registry = Registry()
    registry.button("item:", nothing, private=False)
    with pytest.raises(ValueError, match="overlaps"):
        registry.button("item:answer:", nothing, private=False)
    with pytest.raises(ValueError, match="overlaps"):
        registry.button("it", nothing, private=False)


def test_a_command_or_flow_registered_twice_is_refused() -> None:
    registry = Registry()
    registry.command("status", nothing, private=True)
    registry.flow("feedback", private=True)
    with pytest.raises(ValueError, match="twice"):
        registry.command("status", nothing, private=False)
    with pytest.raises(ValueError, match="twice"):
        registry.flow("feedback", private=False)


def test_the_wired_router_registers_every_payload_prefix_once(app: App) -> None:
    prefixes = [b.prefix for b in app.router.registry.buttons]
    assert sorted(prefixes) == ["evc:", "evr:", "item:", "lang:", "oc:", "pg:", "pol:", "svy:"]
    # Buttons of a flow's step ("v<version>:<step>:<value>") reach no registered prefix.
    assert app.router.registry.button_for("v3:kind:suggestion") is None
