"""Polls: an administrator asks a question with 2-6 options, in every language it is written
in, of an audience (subscribers, the registrants of an event, everyone who has not
`/stop`ped), from its opening to its closing time.

Residents answer with the buttons (Telegram) or the option's number (Matrix, console), once
per person across linked contacts, and may change their answer until the close; an answer
after it is answered politely and not counted. At the close every participant gets the
results in their language (counts, shares, and the response rate by unique people), and so
do the working groups' chats. `/polls` lists the open polls and the latest results. The
question and the results are derived from the database at `now` (`PollPlanner`) and go out
through the outbox, each step once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers.asking.surveys import SurveyHandlers
from handlers.asking.texts import (
    POLL_PAYLOAD,
    SOURCE,
    poll_choices,
    poll_results_text,
    poll_texts,
)
from handlers.context import Deps, Turn, Writer, voice
from handlers.coordination.notify import administrator_messages
from handlers.events.texts import Voices, message
from handlers.guards import stale_button
from handlers.messages import Reply, reply_to_payload
from storage.asking_models import Poll
from storage.outbox import NewMessage
from storage.polls import EVENT, EVERYONE, SUBSCRIBERS, PollAudience, PollResults, Recipients

logger = logging.getLogger(__name__)

MIN_OPTIONS, MAX_OPTIONS = 2, 6
RESULTS_GRACE = timedelta(days=30)  # results still go out this long after a missed close
PAST_RESULTS = 3  # closed polls /polls shows


class PollError(ValueError):
    """A poll that cannot be asked as given; the message says what to change."""


async def new_poll(
    deps: Deps,
    key: str,
    texts: Mapping[str, Mapping[str, Any]],
    audience: str,
    opens: datetime,
    closes: datetime,
    now: datetime,
) -> Poll:
    """A poll checked and ready to store: a key, German texts (the city's language) and
    those of other shipped languages with as many options, 2-6 of them, an audience that
    names something, and a close after the opening.

    Raises:
        PollError: what is wrong, in words an administrator can act on.
    """
    key = key.strip().lower()
    if not key or not all(c.isalnum() or c in "-_" for c in key):
        raise PollError(f"the key {key!r} must be letters, digits, - or _")
    if SOURCE not in texts:
        raise PollError("the question and its options are needed in German (--question)")
    cleaned: dict[str, dict[str, Any]] = {}
    count = len(texts[SOURCE].get("options", []))
    for language, given in texts.items():
        if language not in deps.settings.bot.languages:
            raise PollError(f"{language!r} is not one of bot.languages")
        question = str(given.get("question", "")).strip()
        options = [str(o).strip() for o in given.get("options", [])]
        if not question:
            raise PollError(f"{language}: the question is missing")
        if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise PollError(
                f"{language}: {MIN_OPTIONS} to {MAX_OPTIONS} options, not {len(options)}"
            )
        if len(options) != count:
            raise PollError(f"{language}: {len(options)} options, but {count} in German")
        if not all(options) or len(set(options)) != len(options):
            raise PollError(f"{language}: every option needs a text of its own")
        cleaned[language] = {"question": question, "options": options}
    if audience not in (SUBSCRIBERS, EVERYONE) and not audience.startswith(EVENT):
        raise PollError(f"unknown audience {audience!r}: subscribers, all or event:KEY")
    if audience.startswith(EVENT):
        event = await deps.store.events.get_event(audience.removeprefix(EVENT))
        if event is None:
            raise PollError(f"no event {audience.removeprefix(EVENT)!r}")
        audience = f"{EVENT}{event.slug}"
    if closes <= opens:
        raise PollError("the poll must close after it opens")
    if closes <= now:
        raise PollError("the closing time has passed already")
    return Poll(
        key=key,
        texts=cleaned,
        audience=audience,
        opens_at=opens,
        closes_at=closes,
        created_at=now,
        updated_at=now,
    )


def poll_state(poll: Poll, now: datetime) -> str:
    """ "planned", "open" or "closed" at `now`."""
    if now >= poll.closes_at:
        return "closed"
    return "planned" if now < poll.opens_at else "open"


def ask_text(speaker: Writer, poll: Poll) -> str:
    question, _ = poll_texts(poll, speaker.language)
    return speaker._(
        "Umfrage: {question}\n\nBitte wählen Sie bis {closes}. Bis dahin können Sie Ihre "
        "Antwort ändern."
    ).format(question=question, closes=speaker.when(poll.closes_at))


@dataclass(frozen=True)
class Stage:
    name: str
    due: datetime
    until: datetime
    audience: PollAudience


class PollPlanner:
    """Each poll's question when it opens and its results when it closes."""

    name = "polls"

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    @staticmethod
    def _stages(poll: Poll, done: dict[str, datetime]) -> Iterator[Stage]:
        stages = [Stage("ask", poll.opens_at, poll.closes_at, PollAudience.ASKED)]
        if "ask" in done:  # results only of a poll that was asked
            stages.append(
                Stage(
                    "results",
                    poll.closes_at,
                    poll.closes_at + RESULTS_GRACE,
                    PollAudience.PARTICIPANTS,
                )
            )
        yield from (stage for stage in stages if stage.name not in done)

    async def plan(self, now: datetime) -> int:
        """Enqueue each poll's step that is due at `now` and not done yet."""
        store = self._deps.store
        added = 0
        for poll, done in await store.polls.plan_view(now - RESULTS_GRACE):
            assert poll.id is not None
            for stage in self._stages(poll, done):
                if not stage.due <= now < stage.until:
                    continue
                build = await self._builder(poll, stage, now)
                new = await store.polls.fire_stage(poll.id, stage.name, stage.audience, build, now)
                if new is not None:
                    logger.info("poll %s: %s enqueued %d message(s)", poll.key, stage.name, new)
                    added += new
        return added

    async def next_due(self, now: datetime) -> datetime | None:
        upcoming = [
            stage.due
            for poll, done in await self._deps.store.polls.plan_view(now - RESULTS_GRACE)
            for stage in self._stages(poll, done)
            if now < stage.due < stage.until
        ]
        return min(upcoming, default=None)

    async def _builder(
        self, poll: Poll, stage: Stage, now: datetime
    ) -> Callable[[Recipients], list[NewMessage]]:
        if stage.audience == PollAudience.ASKED:
            return lambda people: self._questions(poll, people, now)
        assert poll.id is not None
        results = await self._deps.store.polls.results(poll.id)
        assert results is not None
        chats = await self._group_chats()
        return lambda people: self._results(results, people, chats, now)

    def _questions(self, poll: Poll, people: Recipients, now: datetime) -> list[NewMessage]:
        voices = Voices(self._deps)
        payloads: dict[str, Any] = {}
        messages = []
        for contact, _ in people:
            speaker = voices.of(contact)
            if speaker.language not in payloads:
                reply = Reply(ask_text(speaker, poll), poll_choices(poll, speaker.language))
                payloads[speaker.language] = reply_to_payload(reply)
            key = f"poll:{poll.id}:ask:c{contact.id}"
            messages.append(message(key, contact, payloads[speaker.language], now))
        return messages

    def _results(
        self,
        results: PollResults,
        people: Recipients,
        chats: Sequence[tuple[str, str]],
        now: datetime,
    ) -> list[NewMessage]:
        """Every participant their results, with their own answer, in their language; the
        working groups' chats and the administrators the same in the city's language."""
        voices = Voices(self._deps)
        poll_id = results.poll.id
        messages = []
        for contact, option in people:
            text = poll_results_text(voices.of(contact), results, mine=option)
            key = f"poll:{poll_id}:results:c{contact.id}"
            messages.append(message(key, contact, reply_to_payload(Reply(text)), now))
        text = poll_results_text(voice(self._deps), results)
        payload = reply_to_payload(Reply(text))
        key = f"poll:{poll_id}:results"
        messages += [
            NewMessage(f"{key}:{platform}:{chat}", platform, chat, payload, now, is_group=True)
            for platform, chat in chats
        ]
        return messages + administrator_messages(self._deps, text, key, now)

    async def _group_chats(self) -> list[tuple[str, str]]:
        """Every working group's chats, each once."""
        store = self._deps.store
        chats: list[tuple[str, str]] = []
        for group in await store.groups.list_groups():
            for chat in await store.groups.list_group_chats(group.key):
                if (chat.platform, chat.chat_id) not in chats:
                    chats.append((chat.platform, chat.chat_id))
        return chats


class PollHandlers:
    """An answer pressed (or typed as its number), and `/polls`."""

    def __init__(self, deps: Deps, surveys: SurveyHandlers) -> None:
        self._deps = deps
        self._surveys = surveys

    async def on_button(self, turn: Turn, payload: str) -> list[Reply]:
        """`pol:<poll>:<option>`: the person's choice, counted once per person."""
        poll_id, _, option = payload.removeprefix(POLL_PAYLOAD).partition(":")
        store = self._deps.store.polls
        poll = await store.get_poll(int(poll_id)) if poll_id.isdigit() else None
        if poll is None or poll.id is None:
            return [Reply(turn._("Diese Umfrage gibt es nicht (mehr)."))]
        _, options = poll_texts(poll, turn.language)
        if not option.isdigit() or int(option) >= len(options):
            return [stale_button(turn)]
        if turn.now >= poll.closes_at:
            logger.info("poll %s: an answer after the close, not counted", poll.key)
            return [
                Reply(
                    turn._(
                        "Diese Umfrage ist seit {when} geschlossen. Ihre Antwort wurde nicht "
                        "mehr gezählt – danke trotzdem! Das Ergebnis zeigt /polls."
                    ).format(when=turn.when(poll.closes_at))
                )
            ]
        if turn.now < poll.opens_at:
            return [
                Reply(
                    turn._("Diese Umfrage beginnt erst am {when}.").format(
                        when=turn.when(poll.opens_at)
                    )
                )
            ]
        changed = await store.set_answer(poll.id, turn.contact_id, int(option), turn.now)
        logger.info(
            "poll %s: contact %s answered (changed: %s)", poll.key, turn.contact_id, changed
        )
        chosen = options[int(option)]
        if changed:
            text = turn._("Geändert: Ihre Antwort ist jetzt {option}.").format(option=chosen)
        else:
            text = turn._("Danke! Ihre Antwort: {option}").format(option=chosen)
        text += "\n" + turn._(
            "Bis {closes} können Sie sie ändern: einfach eine andere Möglichkeit wählen."
        ).format(closes=turn.when(poll.closes_at))
        return [Reply(text)]

    async def polls(self, turn: Turn) -> list[Reply]:
        """`/polls`: the latest results, then each open poll and survey with its buttons."""
        store = self._deps.store.polls
        replies = []
        closed = await store.list_closed(turn.now, PAST_RESULTS)
        if closed:
            parts = [turn._("Ergebnisse der letzten Umfragen:")]
            for poll in closed:
                assert poll.id is not None
                results = await store.results(poll.id)
                assert results is not None
                mine = await store.get_answer(poll.id, turn.contact_id)
                parts.append(poll_results_text(turn, results, mine=mine))
            replies.append(Reply("\n\n".join(parts)))
        open_polls = []
        for poll in await store.list_open(turn.now):
            assert poll.id is not None
            mine = await store.get_answer(poll.id, turn.contact_id)
            if mine is None and not await store.in_audience(poll.audience, turn.contact_id):
                continue
            text = ask_text(turn, poll)
            if mine is not None:
                _, options = poll_texts(poll, turn.language)
                text += "\n" + turn._("Ihre Antwort bisher: {option}").format(
                    option=options[mine] if 0 <= mine < len(options) else "–"
                )
            open_polls.append(Reply(text, poll_choices(poll, turn.language)))
        open_polls += await self._surveys.open_for(turn)
        if not open_polls:
            replies.append(Reply(turn._("Zurzeit gibt es keine offene Umfrage für Sie.")))
        return replies + open_polls
