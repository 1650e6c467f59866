"""The commands a resident sees in the platform's command menu, in their language."""

from __future__ import annotations

from handlers.i18n import N_, Translator

RESIDENT_COMMANDS: tuple[tuple[str, str], ...] = (
    ("feedback", N_("Neue Rückmeldung schicken")),
    ("status", N_("Stand Ihrer Rückmeldungen")),
    ("mine", N_("Alle Ihre Rückmeldungen")),
    ("outcomes", N_("Was aus Vorschlägen wurde")),
    ("events", N_("Veranstaltungen und Anmeldung")),
    ("language", N_("Sprache wählen")),
    ("privacy", N_("Was gespeichert wird")),
    ("link", N_("Telegram und Matrix verbinden")),
    ("cancel", N_("Aktuellen Vorgang abbrechen")),
    ("help", N_("Hilfe")),
)


def command_menu(tr: Translator) -> list[tuple[str, str]]:
    """(command, description) pairs, described in `tr`'s language."""
    return [(name, tr.gettext(description)) for name, description in RESIDENT_COMMANDS]
