"""The messages a change causes: to the working group's chats, to the resident who wrote,
to the administrators. Built here, queued by the store in the change's own transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeGuard

from handlers.context import Deps, Voice, Writer, voice
from handlers.i18n import LANGUAGE_NAMES
from handlers.labels import kind_label, localized_name, state_label
from handlers.messages import Attachment, Choice, Reply, reply_to_payload
from handlers.workflow import TAKEABLE, allowed_next
from storage.models import Contact, FeedbackItem, FieldOfAction, GroupChat
from storage.outbox import NewMessage

TAKE, ANSWER, STATE = "take", "answer", "state"
ITEM_PAYLOAD = "item:"


def item_payload(action: str, reference: str, value: str = "") -> str:
    """A button on an item notification; it names the item, not a conversation step, because
    any coordinator in the group chat may press it."""
    return f"{ITEM_PAYLOAD}{action}:{reference}" + (f":{value}" if value else "")


def reachable(author: Contact | None) -> TypeGuard[Contact]:
    """Whether a message can still reach the item's author: known (not erased, the item not
    anonymised), with a chat, and the bot not blocked."""
    return author is not None and bool(author.chat_id) and author.blocked_at is None


def item_actions(
    speaker: Writer, item: FeedbackItem, actor: str | None = None, *, answerable: bool = True
) -> tuple[Choice, ...]:
    """The buttons for what can be done with `item` in its state: taking it on only while it
    is being worked on, and not by `actor` (the coordinator who asked, when one did) if it is
    theirs already; answering while the author can be reached (`answerable`; they may write
    back at any time); changing its state while the workflow leads somewhere from it."""
    choices = []
    if item.state in TAKEABLE and (actor is None or item.assignee != actor):
        choices.append(Choice(speaker._("Übernehmen"), item_payload(TAKE, item.reference)))
    if answerable:
        choices.append(Choice(speaker._("Antworten"), item_payload(ANSWER, item.reference)))
    if allowed_next(item.state):
        choices.append(Choice(speaker._("Status ändern"), item_payload(STATE, item.reference)))
    return tuple(choices)


def item_card(
    speaker: Writer,
    item: FeedbackItem,
    field: FieldOfAction | None,
    author_name: str | None,
    attachments: int,
    *,
    answerable: bool = True,
) -> str:
    """The item as a coordinator sees it. An anonymous item names nobody; otherwise only the
    display name is shown, never a platform id. An author out of reach is said, since the
    card then offers no answer."""
    who = author_name if (author_name and not item.anonymous) else speaker._("anonym")
    lines = [
        f"{item.reference} · {kind_label(speaker, item.kind)} · "
        f"{localized_name(speaker, field, item.field_key)}",
        speaker._("Von: {who} · Sprache: {language}").format(
            who=who, language=LANGUAGE_NAMES.get(item.language, item.language)
        ),
        speaker._("Stand: {state}").format(state=state_label(speaker, item.state)),
    ]
    if item.answer_due_at is not None and item.first_answered_at is None:
        lines.append(
            speaker._("Erste Antwort erwartet bis {day}").format(
                day=speaker.day(item.answer_due_at)
            )
        )
    if attachments:
        lines.append(
            speaker.ngettext("{n} Anhang", "{n} Anhänge", attachments).format(n=attachments)
        )
    if not answerable:
        lines.append(out_of_reach(speaker))
    lines += ["", item.text]
    return "\n".join(lines)


def group_notifications(
    deps: Deps,
    item: FeedbackItem,
    chats: list[GroupChat],
    attachment_ids: list[int],
    *,
    field: FieldOfAction | None,
    author_name: str | None,
    headline: str,
    event: str,
    now: datetime,
    answerable: bool = True,
) -> list[NewMessage]:
    """One message per chat of the item's group: a headline, the item card, the actions, and
    the files (sent by reference, uploaded once; each with its caption, loaded with it).
    `answerable`: whether the author can still be reached (`reachable`)."""
    speaker = voice(deps)
    card = item_card(speaker, item, field, author_name, len(attachment_ids), answerable=answerable)
    text = speaker._(headline) + "\n\n" + card
    files = tuple(Attachment("document", "", "", stored_id=i) for i in attachment_ids)
    actions = item_actions(speaker, item, answerable=answerable)
    payload = reply_to_payload(Reply(text, actions, files=files))
    return [
        NewMessage(
            f"{event}:{item.reference}:{chat.platform}:{chat.chat_id}",
            chat.platform,
            chat.chat_id,
            payload,
            now,
            is_group=True,
            reference=item.reference,
        )
        for chat in chats
    ]


def resident_notification(
    author: Contact | None, item: FeedbackItem, text: str, now: datetime
) -> list[NewMessage]:
    """A message to the item's author about their own item, on the platform and chat they
    wrote from; none when they are gone, unreachable or forgotten.

    `/stop` does not hold it back: it ends only what the bot sends on its own, and the
    resident was promised answers to their own messages. A coordinator's confirmation says
    the person is told exactly when this returns a message.
    """
    if not reachable(author):
        return []
    payload = reply_to_payload(Reply(text))
    key = f"resident:{item.reference}:{uuid.uuid4().hex}"
    return [
        NewMessage(
            key,
            author.platform,
            author.chat_id,
            payload,
            now,
            contact_id=author.id,
            reference=item.reference,
        )
    ]


def administrator_messages(
    deps: Deps, text: str, key: str, now: datetime, reference: str | None = None
) -> list[NewMessage]:
    """One message per configured administrator, in their private chat (on Telegram the
    private chat has the user's id)."""
    payload = reply_to_payload(Reply(text))
    messages = []
    for admin in deps.settings.bot.administrators:
        platform, _, user_id = admin.partition(":")
        messages.append(
            NewMessage(f"{key}:{admin}", platform, user_id, payload, now, reference=reference)
        )
    return messages


def out_of_reach(speaker: Writer) -> str:
    """Why an item offers no answer: its author cannot be written to any more."""
    return speaker._(
        "Die Person ist nicht mehr erreichbar (sie hat den Bot blockiert oder ihre Daten "
        "gelöscht): Antworten kommen nicht mehr an."
    )


def resident_voice(deps: Deps, author: Contact | None) -> Voice:
    return voice(deps, author.language if author is not None else None)
