"""Residents' rights: what is stored and for how long (`/privacy`, and before the first item
is stored), everything about them as a file (`/mydata`), erasure (`/forget`, confirmed), and
no messages on the bot's own initiative (`/stop`; `/start` resumes)."""

from __future__ import annotations

import json
import logging

from handlers.choices import build_choices
from handlers.context import Deps, Turn
from handlers.i18n import whole_years
from handlers.messages import Attachment, Reply
from handlers.public_text import anonymous_text
from storage.models import ConversationState

logger = logging.getLogger(__name__)

FLOW = "forget"
CONFIRM = "confirm"
DELETE_ALL, KEEP_ANONYMOUS = "all", "anonymous"


def privacy_notice(turn: Turn, deps: Deps) -> str:
    """What is stored, who sees it, how long it is kept, and the resident's rights."""
    privacy = deps.settings.privacy
    days, item_days = privacy.inactive_contact_days, privacy.finished_item_days
    # One text per counted clause, so that each number gets its language's plural form; the
    # two halves of the German sentence are joined at its semicolon.
    stored = turn._(
        "Datenschutz: Wir speichern Ihre Rückmeldungen mit ihren Dateien, Ihre Sprache, Ihren "
        "Anzeigenamen und die Kennung Ihres Kontos, damit wir Ihnen antworten können. Die "
        "zuständige Arbeitsgruppe der Stadt sieht Ihre Rückmeldung, Ihren Namen nur, wenn Sie "
        "das erlauben."
    )
    # Whole years are said in years ("2 Jahre", not "730 Tage"), the unit people count in.
    years, item_years = whole_years(days), whole_years(item_days)
    if years:
        contacts_kept = turn.ngettext(
            "Wenn Sie {years} Jahr lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
            "Wenn Sie {years} Jahre lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
            years,
        ).format(years=years)
    else:
        contacts_kept = turn.ngettext(
            "Wenn Sie {days} Tag lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
            "Wenn Sie {days} Tage lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
            days,
        ).format(days=days)
    if item_years:
        items_kept = turn.ngettext(
            "abgeschlossene Rückmeldungen werden nach {item_years} Jahr anonymisiert.",
            "abgeschlossene Rückmeldungen werden nach {item_years} Jahren anonymisiert.",
            item_years,
        ).format(item_years=item_years)
    else:
        items_kept = turn.ngettext(
            "abgeschlossene Rückmeldungen werden nach {item_days} Tag anonymisiert.",
            "abgeschlossene Rückmeldungen werden nach {item_days} Tagen anonymisiert.",
            item_days,
        ).format(item_days=item_days)
    rights = turn._(
        "/mydata schickt Ihnen alles, was wir über Sie gespeichert haben. /forget löscht es. "
        "/stop beendet alle Nachrichten, die keine Antwort auf Ihre eigenen Nachrichten sind."
    )
    published = turn._(
        "Vorschläge und was aus ihnen wurde veröffentlichen wir ohne Namen: unter /outcomes "
        "und im Jahresbericht an den Stadtrat. E-Mail-Adressen und Telefonnummern im Text "
        "machen wir dabei unkenntlich."
    )
    return f"{stored} {contacts_kept} {items_kept}\n{rights}\n{published}"


def consent_request(turn: Turn, deps: Deps) -> str:
    """Shown with the summary before a resident's first item is stored."""
    return (
        privacy_notice(turn, deps)
        + "\n\n"
        + turn._("Mit „Abschicken“ sind Sie damit einverstanden.")
    )


class PrivacyHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def privacy(self, turn: Turn) -> list[Reply]:
        return [Reply(privacy_notice(turn, self._deps))]

    async def mydata(self, turn: Turn) -> list[Reply]:
        """Everything stored about the resident, as a JSON file in the chat."""
        data = await self._deps.store.privacy.export(turn.contact_id)
        content = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
        logger.info("contact %s exported their data (%d bytes)", turn.contact_id, len(content))
        file = Attachment("document", "mitreden-meine-daten.json", "application/json", content)
        return [
            Reply(turn._("Hier ist alles, was wir über Sie gespeichert haben."), files=(file,))
        ]

    async def forget(self, turn: Turn) -> list[Reply]:
        version = await self._deps.store.conversations.set_state(
            turn.contact_id, FLOW, CONFIRM, {}, turn.now
        )
        options = [
            (turn._("Alles löschen"), DELETE_ALL),
            (turn._("Löschen, Rückmeldungen anonym behalten"), KEEP_ANONYMOUS),
            (turn._("Abbrechen"), "cancel"),
        ]
        return [
            Reply(
                turn._(
                    "Möchten Sie, dass wir Ihre Daten löschen? Wir löschen Ihre Kontokennung, "
                    "Ihren "
                    "Namen, Ihre Dateien und alle Nachrichten an Sie. Ihre Rückmeldungen können "
                    "wir "
                    "ganz löschen oder ohne Bezug zu Ihnen behalten, damit die Arbeitsgruppe "
                    "weiter "
                    "daran arbeiten kann."
                ),
                build_choices(version, CONFIRM, options),
            )
        ]

    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        if value not in (DELETE_ALL, KEEP_ANONYMOUS):
            await self._deps.store.conversations.clear_state(turn.contact_id)
            return [Reply(turn._("Abgebrochen. Es wurde nichts gelöscht."), replaces_prompt=True)]
        erased = await self._deps.store.privacy.erase_contact(
            turn.contact_id,
            keep_items_anonymous=value == KEEP_ANONYMOUS,
            scrub=anonymous_text,
            now=turn.now,
        )
        logger.info("contact %s erased on request: %s", turn.contact_id, erased)
        return [
            Reply(
                turn._(
                    "Ihre Daten sind gelöscht. Wenn Sie uns wieder schreiben, beginnen wir von "
                    "vorn."
                ),
                replaces_prompt=True,
            )
        ]

    async def stop(self, turn: Turn) -> list[Reply]:
        skipped = await self._deps.store.contacts.set_stopped(turn.contact_id, turn.now)
        logger.info(
            "contact %s stopped proactive messages (%d waiting skipped)", turn.contact_id, skipped
        )
        return [
            Reply(
                turn._(
                    "Sie bekommen von uns keine Nachrichten mehr, außer Antworten auf Ihre "
                    "eigenen "
                    "Nachrichten. Mit /start geht es wieder los."
                )
            )
        ]
