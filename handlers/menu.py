"""The commands a resident sees in the platform's command menu, in their language."""

from __future__ import annotations

from handlers.i18n import Translator
from handlers.router import Registry


def command_menu(registry: Registry, tr: Translator) -> list[tuple[str, str]]:
    """(command, description) pairs, described in `tr`'s language: the registered commands
    that carry a menu line, in the order they were registered."""
    return [
        (command.name, tr.gettext(command.menu))
        for command in registry.commands.values()
        if command.menu is not None
    ]
