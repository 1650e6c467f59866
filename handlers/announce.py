"""Announcements: one message per recipient through the outbox, from the command line or an
administrator's `/broadcast` (with a confirmation step)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from handlers.choices import build_choices
from handlers.context import Deps, Turn
from handlers.messages import Reply, reply_to_payload
from storage.models import ConversationState
from storage.outbox import NewMessage
from storage.store import Store

logger = logging.getLogger(__name__)

FLOW = "broadcast"
AUDIENCE = "audience"
SUBSCRIBERS, EVERYONE = "subscribers", "all"


class UnknownAudience(ValueError):
    """The audience is not `subscribers`, `all` or `group:KEY` of an existing group."""


async def enqueue_announcement(
    store: Store, audience: str, text: str, now: datetime, *, announcement_id: str | None = None
) -> tuple[str, int]:
    """Queue `text` for every recipient of `audience`.

    Returns:
        The announcement's id (the prefix of its outbox keys) and the number of recipients.

    Raises:
        UnknownAudience: for an audience that names nothing.
    """
    announcement_id = announcement_id or uuid.uuid4().hex[:12]
    prefix = f"announcement:{announcement_id}:"
    payload = reply_to_payload(Reply(text))
    # (platform, chat, contact id, is it a group chat) of every recipient
    recipients: list[tuple[str, str, int | None, bool]]
    if audience in (SUBSCRIBERS, EVERYONE):
        contacts = await store.contacts.list_reachable(subscribed_only=audience == SUBSCRIBERS)
        recipients = [(c.platform, c.chat_id, c.id, False) for c in contacts]
    elif audience.startswith("group:"):
        group_key = audience.removeprefix("group:")
        if await store.groups.get_group(group_key) is None:
            raise UnknownAudience(audience)
        chats = await store.groups.list_group_chats(group_key)
        recipients = [(c.platform, c.chat_id, None, True) for c in chats]
    else:
        raise UnknownAudience(audience)
    messages = [
        NewMessage(
            f"{prefix}{platform}:{chat}",
            platform,
            chat,
            payload,
            now,
            is_group=is_group,
            contact_id=contact_id,
        )
        for platform, chat, contact_id, is_group in recipients
    ]
    await store.outbox.enqueue(messages, now)
    logger.info(
        "announcement %s queued for %d recipient(s) (%s)", announcement_id, len(messages), audience
    )
    return prefix, len(messages)


class AnnouncementHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def is_administrator(self, turn: Turn) -> bool:
        sender = f"{turn.incoming.platform}:{turn.incoming.user_id}"
        return sender in self._deps.settings.bot.administrators

    async def broadcast(self, turn: Turn) -> list[Reply]:
        """`/broadcast TEXT`: ask to whom, showing how many each audience reaches."""
        if not self.is_administrator(turn):
            logger.warning(
                "refused /broadcast from %s:%s", turn.incoming.platform, turn.incoming.user_id
            )
            return [Reply(turn._("Das dürfen nur Administrator:innen."))]
        text = turn.incoming.text.strip().partition(" ")[2].strip()
        if not text:
            return [
                Reply(
                    turn._(
                        "Bitte schreiben Sie den Text gleich hinter den Befehl: "
                        "/broadcast Ihr Text"
                    )
                )
            ]
        version = await self._deps.store.conversations.set_state(
            turn.contact_id, FLOW, AUDIENCE, {"text": text}, turn.now
        )
        return [await self._prompt(turn, text, version)]

    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        await self._deps.store.conversations.clear_state(turn.contact_id)
        if value not in (SUBSCRIBERS, EVERYONE) or not self.is_administrator(turn):
            return [
                Reply(turn._("Abgebrochen. Es wurde nichts gespeichert."), replaces_prompt=True)
            ]
        _, count = await enqueue_announcement(
            self._deps.store, value, state.data["text"], turn.now
        )
        return [
            Reply(
                turn.ngettext(
                    "Die Mitteilung geht an {count} Empfänger:in.",
                    "Die Mitteilung geht an {count} Empfänger:innen.",
                    count,
                ).format(count=count),
                replaces_prompt=True,
            )
        ]

    async def on_message(self, turn: Turn, state: ConversationState) -> list[Reply]:
        return [
            Reply(
                turn._(
                    "Bitte wählen Sie, an wen die Mitteilung gehen soll, oder brechen "
                    "Sie mit /cancel ab."
                )
            ),
            await self._prompt(turn, state.data["text"], state.version),
        ]

    async def _prompt(self, turn: Turn, text: str, version: int) -> Reply:
        contacts = self._deps.store.contacts
        subscribers = await contacts.count_reachable(subscribed_only=True)
        everyone = await contacts.count_reachable(subscribed_only=False)
        options: list[tuple[str, Any]] = [
            (turn._("An Abonnent:innen ({n})").format(n=subscribers), SUBSCRIBERS),
            (turn._("An alle ({n})").format(n=everyone), EVERYONE),
            (turn._("Abbrechen"), "cancel"),
        ]
        summary = turn._("Diese Mitteilung verschicken?\n\n{text}").format(text=text)
        return Reply(summary, build_choices(version, AUDIENCE, options))
