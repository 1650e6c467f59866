"""`/web`: a coordinator or administrator asks in the private chat for a link to the web view.

The link carries a one-time token, valid `SIGN_IN_MINUTES`; only its digest is stored
(`storage.web_sessions`). Opening it shows a page with a button, and only pressing that
button uses the token: a chat's link preview, which opens every link it sees, must not use
up the link (or sign its own robot in).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from handlers.context import Deps, Turn
from handlers.messages import Reply
from handlers.roles import refuse, role_of
from handlers.settings import WebSettings
from storage.web_sessions import WebSessionStore

logger = logging.getLogger(__name__)
SIGN_IN_MINUTES = 10


def base_url(web: WebSettings) -> str:
    """Where people open the web view: the configured address without its trailing slash,
    else `http://<listen>`."""
    return (web.base_url or f"http://{web.listen}").rstrip("/")


class WebSignIn:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = WebSessionStore(deps.store.db)

    async def web(self, turn: Turn) -> list[Reply]:
        """Answer `/web` with a one-time sign-in link, for coordinators and administrators."""
        role = await role_of(self._deps, turn)
        if not role.is_coordinator:
            return refuse(turn, "web")
        web = self._deps.settings.web
        if not web.listen:
            return [Reply(turn._("Die Web-Ansicht ist nicht eingerichtet."))]
        token = secrets.token_urlsafe(32)
        expires = turn.now + timedelta(minutes=SIGN_IN_MINUTES)
        await self._sessions.add_sign_in(token, turn.contact_id, role.actor, turn.now, expires)
        logger.info("web: sign-in link issued to %s", role.actor)
        text = turn._(
            "Ihr Anmeldelink für die Web-Ansicht. Er gilt {minutes} Minuten und nur einmal; "
            "geben Sie ihn nicht weiter:\n{link}"
        ).format(minutes=SIGN_IN_MINUTES, link=f"{base_url(web)}/signin/{token}")
        return [Reply(text)]
