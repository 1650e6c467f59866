"""Announcements: one message per recipient through the outbox, from the command line or an
administrator's `/broadcast` (with a confirmation step), in every language.

An announcement has a text per language ("de", "en", ...); each resident gets the text in
the language they chose, and the default language's (German) when there is none in theirs;
working groups' chats get the default language's. Written in one piece, the texts are
sections that each begin with a line naming the language in brackets (`parse_sections`):

    Das Büro ist am Freitag geschlossen.
    [en]
    The office is closed on Friday.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.choices import build_choices
from handlers.context import Deps, Turn
from handlers.i18n import LANGUAGE_NAMES, SOURCE_LANGUAGE
from handlers.messages import Reply, reply_to_payload
from storage.models import ConversationState
from storage.outbox import NewMessage
from storage.store import Store

logger = logging.getLogger(__name__)

FLOW = "broadcast"
AUDIENCE = "audience"
SUBSCRIBERS, EVERYONE = "subscribers", "all"


# A line that starts a language's section: "[en]", "[de_simple]" (also "[de-simple]").
SECTION = re.compile(r"^\s*\[([A-Za-z]{2,3}(?:[_-][A-Za-z]+)?)\]\s*$")

Texts = Mapping[str, str]  # language → the announcement in it


class UnknownAudience(ValueError):
    """The audience is not `subscribers`, `all` or `group:KEY` of an existing group."""


class UnknownLanguage(ValueError):
    """A section names a language the bot does not speak (`bot.languages`)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    platform: str
    chat_id: str
    contact_id: int | None
    is_group: bool
    language: str | None  # the contact's chosen language; None for a group chat


def parse_sections(text: str, languages: Iterable[str], default: str = SOURCE_LANGUAGE) -> Texts:
    """The texts per language of an announcement written in sections; what stands before the
    first section line is in `default`. Empty sections are left out.

    Raises:
        UnknownLanguage: a section line names a language not among `languages`.
    """
    known = set(languages)
    found: dict[str, list[str]] = {}
    current = default
    for line in text.splitlines():
        match = SECTION.match(line)
        if match is None:
            found.setdefault(current, []).append(line)
            continue
        current = match.group(1).lower().replace("-", "_")
        if current not in known:
            raise UnknownLanguage(current)
        found.setdefault(current, [])
    texts = {language: "\n".join(lines).strip() for language, lines in found.items()}
    return {language: body for language, body in texts.items() if body}


def text_for(texts: Texts, language: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """The text for someone who reads `language`: theirs, else the default language's."""
    return texts.get(language or default) or texts[default]


def sent_language(texts: Texts, language: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """The language a reader of `language` gets the announcement in."""
    return language if language and texts.get(language) else default


async def recipients_of(store: Store, audience: str) -> list[Recipient]:
    """Who `audience` reaches now.

    Raises:
        UnknownAudience: for an audience that names nothing.
    """
    if audience in (SUBSCRIBERS, EVERYONE):
        contacts = await store.contacts.list_reachable(subscribed_only=audience == SUBSCRIBERS)
        return [Recipient(c.platform, c.chat_id, c.id, False, c.language) for c in contacts]
    if audience.startswith("group:"):
        group_key = audience.removeprefix("group:")
        if await store.groups.get_group(group_key) is None:
            raise UnknownAudience(audience)
        chats = await store.groups.list_group_chats(group_key)
        return [Recipient(c.platform, c.chat_id, None, True, None) for c in chats]
    raise UnknownAudience(audience)


def count_languages(
    recipients: Iterable[Recipient], texts: Texts, default: str = SOURCE_LANGUAGE
) -> dict[str, int]:
    """How many recipients get the announcement in each language, the most first."""
    counts = Counter(sent_language(texts, r.language, default) for r in recipients)
    return dict(counts.most_common())


async def enqueue_announcement(
    store: Store,
    audience: str,
    text: str | Texts,
    now: datetime,
    *,
    announcement_id: str | None = None,
    default: str = SOURCE_LANGUAGE,
) -> tuple[str, int]:
    """Queue the announcement for every recipient of `audience`, each in their language
    (`text` per language, or one text in `default`), the default language's where theirs
    is missing.

    Returns:
        The announcement's id (the prefix of its outbox keys) and the number of recipients.

    Raises:
        UnknownAudience: for an audience that names nothing.
    """
    texts: Texts = {default: text} if isinstance(text, str) else text
    announcement_id = announcement_id or uuid.uuid4().hex[:12]
    prefix = f"announcement:{announcement_id}:"
    payloads = {language: reply_to_payload(Reply(body)) for language, body in texts.items()}
    recipients = await recipients_of(store, audience)
    messages = [
        NewMessage(
            f"{prefix}{r.platform}:{r.chat_id}",
            r.platform,
            r.chat_id,
            payloads[sent_language(texts, r.language, default)],
            now,
            is_group=r.is_group,
            contact_id=r.contact_id,
        )
        for r in recipients
    ]
    await store.outbox.enqueue(messages, now)
    logger.info(
        "announcement %s queued for %d recipient(s) (%s) in %s",
        announcement_id,
        len(messages),
        audience,
        ", ".join(f"{k} {n}" for k, n in count_languages(recipients, texts, default).items()),
    )
    return prefix, len(messages)


def languages_line(counts: Mapping[str, int]) -> str:
    """ "Deutsch 7, English 3": how many get which language."""
    return ", ".join(f"{LANGUAGE_NAMES.get(code, code)} {n}" for code, n in counts.items())


class AnnouncementHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def is_administrator(self, turn: Turn) -> bool:
        sender = f"{turn.incoming.platform}:{turn.incoming.user_id}"
        return sender in self._deps.settings.bot.administrators

    @property
    def _default(self) -> str:
        return self._deps.catalogues.default

    async def broadcast(self, turn: Turn) -> list[Reply]:
        """`/broadcast TEXT`: ask to whom, showing how many each audience reaches. Texts in
        other languages follow in sections (`[en]` on a line of its own, then the text)."""
        if not self.is_administrator(turn):
            logger.warning(
                "refused /broadcast from %s:%s", turn.incoming.platform, turn.incoming.user_id
            )
            return [Reply(turn._("Das dürfen nur Administrator:innen."))]
        written = turn.incoming.text.strip().split(None, 1)[1:]
        try:
            texts = parse_sections(
                written[0] if written else "", self._deps.catalogues.languages, self._default
            )
        except UnknownLanguage as error:
            return [
                Reply(
                    turn._("Diese Sprache kenne ich nicht: {language}").format(language=str(error))
                )
            ]
        if self._default not in texts:
            return [
                Reply(
                    turn._(
                        "Bitte schreiben Sie den Text gleich hinter den Befehl: "
                        "/broadcast Ihr Text"
                    )
                    + "\n"
                    + turn._(
                        "Texte in weiteren Sprachen folgen je in einem Abschnitt, der mit einer "
                        "Zeile wie [en] oder [ar] beginnt."
                    )
                )
            ]
        version = await self._deps.store.conversations.set_state(
            turn.contact_id, FLOW, AUDIENCE, {"texts": dict(texts)}, turn.now
        )
        return [await self._prompt(turn, texts, version)]

    def _texts(self, state: ConversationState) -> Texts:
        """The texts of the announcement being confirmed (one German text in older states)."""
        return state.data.get("texts") or {self._default: state.data["text"]}

    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        await self._deps.store.conversations.clear_state(turn.contact_id)
        if value not in (SUBSCRIBERS, EVERYONE) or not self.is_administrator(turn):
            return [
                Reply(turn._("Abgebrochen. Es wurde nichts gespeichert."), replaces_prompt=True)
            ]
        texts = self._texts(state)
        languages = count_languages(
            await recipients_of(self._deps.store, value), texts, self._default
        )
        _, count = await enqueue_announcement(
            self._deps.store, value, texts, turn.now, default=self._default
        )
        confirmation = turn.ngettext(
            "Die Mitteilung geht an {count} Empfänger:in.",
            "Die Mitteilung geht an {count} Empfänger:innen.",
            count,
        ).format(count=count)
        if count:
            confirmation += "\n" + turn._("Nach Sprache: {languages}").format(
                languages=languages_line(languages)
            )
        return [Reply(confirmation, replaces_prompt=True)]

    async def on_message(self, turn: Turn, state: ConversationState) -> list[Reply]:
        return [
            Reply(
                turn._(
                    "Bitte wählen Sie, an wen die Mitteilung gehen soll, oder brechen "
                    "Sie mit /cancel ab."
                )
            ),
            await self._prompt(turn, self._texts(state), state.version),
        ]

    async def _prompt(self, turn: Turn, texts: Texts, version: int) -> Reply:
        contacts = self._deps.store.contacts
        subscribers = await contacts.count_reachable(subscribed_only=True)
        everyone = await contacts.count_reachable(subscribed_only=False)
        options: list[tuple[str, Any]] = [
            (turn._("An Abonnent:innen ({n})").format(n=subscribers), SUBSCRIBERS),
            (turn._("An alle ({n})").format(n=everyone), EVERYONE),
            (turn._("Abbrechen"), "cancel"),
        ]
        summary = turn._("Diese Mitteilung verschicken?\n\n{text}").format(
            text=texts[self._default]
        )
        if len(texts) > 1:
            summary += "\n\n" + turn._(
                "Texte in: {languages}. Wer eine andere Sprache gewählt hat, bekommt den Text "
                "auf {default}."
            ).format(
                languages=", ".join(LANGUAGE_NAMES.get(code, code) for code in texts),
                default=LANGUAGE_NAMES.get(self._default, self._default),
            )
        return Reply(summary, build_choices(version, AUDIENCE, options))
