"""Who a signed-in browser stands for, asked again on every request.

A session names a contact; each request loads it, builds the `Turn` a chat message of that
person would build, and asks `handlers.roles.role_of` as the chat commands do. A coordinator
removed from their group, or an administrator removed from the configuration, loses the web
view with their next click, and every item is checked against the same role as in the chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Deps, Turn
from handlers.messages import ChatId, Incoming, Platform, UserId
from handlers.roles import Role, role_of
from storage.models import Contact

WEB_COMMAND = "web"


@dataclass(frozen=True)
class WebUser:
    """A coordinator or administrator at a browser: their turn (language, time) and role."""

    turn: Turn
    role: Role

    @property
    def language(self) -> str:
        return self.turn.language

    @property
    def is_admin(self) -> bool:
        return self.role.is_admin

    def _(self, message: str) -> str:
        return self.turn._(message)


def web_turn(deps: Deps, contact: Contact) -> Turn:
    """The turn of a web request by `contact`: as if they had written in their private chat."""
    incoming = Incoming(
        platform=Platform(contact.platform),
        user_id=UserId(contact.user_id),
        chat_id=ChatId(contact.chat_id),
        display_name=contact.display_name,
        command=WEB_COMMAND,
    )
    language = contact.language or deps.catalogues.default
    return Turn(
        incoming,
        contact,
        language,
        deps.catalogues.get(language),
        deps.clock.now(),
        deps.zone,
    )


async def web_user(deps: Deps, contact_id: int, actor: str) -> WebUser | None:
    """The user behind a session, or None when they are no coordinator or administrator
    (any more), or their contact is gone."""
    contact = await deps.store.contacts.get_contact(contact_id)
    if contact is None or f"{contact.platform}:{contact.user_id}" != actor:
        return None
    turn = web_turn(deps, contact)
    role = await role_of(deps, turn)
    return WebUser(turn, role) if role.is_coordinator else None
