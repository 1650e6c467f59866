"""`/link`: one resident on two platforms. A one-time code from one, sent from the other,
joins the two contacts: language, items and registrations are shared, and what the bot
sends on its own goes to the platform used last."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from handlers.context import Deps, Turn
from handlers.messages import Reply

logger = logging.getLogger(__name__)

CODE_VALID = timedelta(minutes=15)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class LinkHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def link(self, turn: Turn) -> list[Reply]:
        """Without an argument: hand out a code. With one: join this contact to its owner."""
        if turn.incoming.is_group:
            return [Reply(turn._("Bitte schreiben Sie mir /link in einem privaten Chat."))]
        links = self._deps.store.links
        if not turn.incoming.args:
            code = new_code()
            await links.set_link_code(turn.contact_id, code, turn.now + CODE_VALID)
            return [
                Reply(
                    turn._(
                        "Ihr Code: {code}\n\nSchreiben Sie auf der anderen Plattform (Telegram "
                        "oder Matrix) an mich: /link {code}\nDer Code gilt 15 Minuten. Danach "
                        "sind Ihre Rückmeldungen und Ihre Sprache auf beiden Plattformen gleich."
                    ).format(code=code)
                )
            ]
        owner = await links.link_by_code(turn.contact_id, turn.incoming.args[0], turn.now)
        if owner is None:
            return [
                Reply(
                    turn._(
                        "Diesen Code kenne ich nicht, oder er ist abgelaufen. Schreiben Sie /link "
                        "auf der anderen Plattform, um einen neuen Code zu bekommen."
                    )
                )
            ]
        logger.info("contact %s linked to contact %s", turn.contact_id, owner.id)
        tr = self._deps.catalogues.get(owner.language or turn.language)
        return [
            Reply(
                tr.gettext(
                    "Verbunden. Ihre Rückmeldungen und Ihre Sprache gelten jetzt auf beiden "
                    "Plattformen. Nachrichten von uns bekommen Sie dort, wo Sie zuletzt "
                    "geschrieben haben."
                )
            )
        ]
