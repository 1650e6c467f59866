"""The survey after each event: how useful the event and the workshop were (1-5), and what
the working group should take up.

`days_after` the event's end (at `hour`, city time) every registrant who did not cancel is
asked, in their language; one reminder `reminder_days` later goes to those who have not
answered; `open_days` after it went out the survey closes, answers are refused politely and
not counted, and the results go to the chats of the working groups whose fields the
workshops were in. Like every reminder it is derived from the database at `now`
(`SurveyPlanner`): its steps are stages of the event that carry its schedule version, so a
postponed event is surveyed after its new date, and nothing is enqueued twice.

The free text becomes a feedback item of kind suggestion in the workshop's field, routed to
that working group: the feedback flow takes it over at its anonymity question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.asking.texts import (
    EVENT_PART,
    EVENT_QUESTION,
    SURVEY_PAYLOAD,
    WORKSHOP_PART,
    rating_choices,
    survey_results_text,
)
from handlers.choices import build_choices
from handlers.context import Deps, Turn, Writer, voice
from handlers.coordination.notify import administrator_messages
from handlers.events.texts import Voices, message
from handlers.guards import stale_button
from handlers.messages import Reply, reply_to_payload
from handlers.residents.intake import FeedbackFlow
from handlers.settings import SurveySettings
from storage.events.models import Event
from storage.models import ConversationState, ItemKind
from storage.outbox import NewMessage
from storage.surveys import RATINGS, Recipients, SurveyAudience, SurveyResults

logger = logging.getLogger(__name__)

FLOW = "survey"
TEXT = "text"  # the step that waits for what the working group should take up
NOTHING = "none"
# Results still go out this long after the close, should the bot have been down then.
RESULTS_GRACE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class SurveyWindow:
    opens: datetime  # the survey goes out
    reminder: datetime  # the one reminder
    closes: datetime  # answers are no longer counted; the results go out

    def is_open(self, now: datetime) -> bool:
        return self.opens <= now < self.closes


def survey_window(event: Event, settings: SurveySettings, zone: ZoneInfo) -> SurveyWindow:
    """When the survey of `event` goes out, reminds and closes, from its current end: whole
    days in the city's zone, so that a change to winter time keeps the hour."""
    end = event.ends_at.astimezone(zone)
    day = end.date() + timedelta(days=settings.days_after)
    opens = max(datetime.combine(day, time(settings.hour), tzinfo=zone), end)
    local = opens.astimezone(zone)

    def later(days: int) -> datetime:
        return datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone)

    return SurveyWindow(opens, later(settings.reminder_days), later(settings.open_days))


@dataclass(frozen=True)
class Stage:
    name: str
    due: datetime
    until: datetime
    audience: SurveyAudience


class SurveyPlanner:
    """Each event's survey, its reminder and its results, due at `now`."""

    name = "surveys"

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._settings = deps.settings.surveys

    def _horizon(self, now: datetime) -> datetime:
        """Events that ended before this have nothing left to send."""
        s = self._settings
        return now - timedelta(days=s.days_after + s.open_days + 2) - RESULTS_GRACE

    def _stages(self, event: Event, done: dict[str, datetime]) -> Iterator[Stage]:
        window = survey_window(event, self._settings, self._deps.zone)
        version = event.schedule_version
        asked = f"survey:s{version}" in done  # results only of a survey that went out
        stages = (
            Stage(f"survey:s{version}", window.opens, window.closes, SurveyAudience.REGISTERED),
            Stage(
                f"survey-reminder:s{version}",
                window.reminder,
                window.closes,
                SurveyAudience.UNANSWERED,
            ),
            Stage(
                f"survey-results:s{version}",
                window.closes,
                window.closes + RESULTS_GRACE,
                SurveyAudience.NOBODY,
            ),
        )
        yield from (
            stage
            for stage in stages
            if stage.name not in done and (asked or stage.audience != SurveyAudience.NOBODY)
        )

    async def plan(self, now: datetime) -> int:
        """Enqueue every step of a survey that is due at `now` and not done yet."""
        store = self._deps.store
        added = 0
        for event, done in await store.surveys.plan_view(self._horizon(now)):
            assert event.id is not None
            for stage in self._stages(event, done):
                if not stage.due <= now < stage.until:
                    continue
                build = await self._builder(event, stage, now)
                new = await store.surveys.fire_stage(
                    event.id, stage.name, stage.audience, build, now
                )
                if new is not None:
                    logger.info("event %s: %s enqueued %d message(s)", event.slug, stage.name, new)
                    added += new
        return added

    async def next_due(self, now: datetime) -> datetime | None:
        upcoming = [
            stage.due
            for event, done in await self._deps.store.surveys.plan_view(self._horizon(now))
            for stage in self._stages(event, done)
            if now < stage.due < stage.until
        ]
        return min(upcoming, default=None)

    async def _builder(
        self, event: Event, stage: Stage, now: datetime
    ) -> Callable[[Recipients], list[NewMessage]]:
        if stage.audience == SurveyAudience.NOBODY:
            assert event.id is not None
            results = await self._deps.store.surveys.results(event.id)
            chats = await self._group_chats(event.id)
            assert results is not None
            return lambda _: self._results(event, results, chats, now)
        reminder = stage.audience == SurveyAudience.UNANSWERED
        return lambda people: self._questions(event, people, now, reminder=reminder)

    def _questions(
        self, event: Event, people: Recipients, now: datetime, *, reminder: bool
    ) -> list[NewMessage]:
        """The first question to each registrant, in their language, with buttons 1-5."""
        voices = Voices(self._deps)
        window = survey_window(event, self._settings, self._deps.zone)
        assert event.id is not None
        choices = rating_choices(event.id, EVENT_PART)
        payloads: dict[str, Any] = {}
        step = "survey-reminder" if reminder else "survey"
        messages = []
        for contact, _ in people:
            speaker = voices.of(contact)
            if speaker.language not in payloads:
                text = survey_question(speaker, event, window, reminder=reminder)
                reply = Reply(text, choices, choice_columns=RATINGS)
                payloads[speaker.language] = reply_to_payload(reply)
            key = f"ev{event.id}:s{event.schedule_version}:{step}:c{contact.id}"
            messages.append(message(key, contact, payloads[speaker.language], now))
        return messages

    def _results(
        self,
        event: Event,
        results: SurveyResults,
        chats: list[tuple[str, str]],
        now: datetime,
    ) -> list[NewMessage]:
        """The results to the working groups' chats and the administrators (none for an event
        nobody was registered for)."""
        if not results.participants and not results.answered:
            return []
        speaker = voice(self._deps)
        text = survey_results_text(speaker, results)
        key = f"ev{event.id}:s{event.schedule_version}:survey-results"
        payload = reply_to_payload(Reply(text))
        messages = [
            NewMessage(f"{key}:{platform}:{chat}", platform, chat, payload, now, is_group=True)
            for platform, chat in chats
        ]
        return messages + administrator_messages(self._deps, text, key, now)

    async def _group_chats(self, event_id: int) -> list[tuple[str, str]]:
        """The chats of the groups owning the workshops' fields; the default group's when
        the event had no workshop in a field."""
        store = self._deps.store
        fields = {w.workshop.field_key for w in await store.events.list_workshops(event_id)}
        groups = [
            group
            for group in await store.groups.list_groups()
            if fields & set(await store.membership.fields_of(group.key))
        ]
        if not groups:
            groups = [g for g in await store.groups.list_groups() if g.is_default]
        chats: list[tuple[str, str]] = []
        for group in groups:
            for chat in await store.groups.list_group_chats(group.key):
                if (chat.platform, chat.chat_id) not in chats:
                    chats.append((chat.platform, chat.chat_id))
        return chats


def survey_question(
    speaker: Writer, event: Event, window: SurveyWindow, *, reminder: bool = False
) -> str:
    """The survey's first message: thanks (or a reminder) and the question about the event."""
    if reminder:
        intro = speaker._(
            "Erinnerung: Wie war „{title}“ am {day} für Sie? Antworten können Sie bis {closes}."
        ).format(
            title=event.title, day=speaker.day(event.starts_at), closes=speaker.when(window.closes)
        )
    else:
        intro = speaker._(
            "Danke, dass Sie bei „{title}“ am {day} waren! Wir möchten wissen, wie es für Sie "
            "war. Antworten können Sie bis {closes}."
        ).format(
            title=event.title, day=speaker.day(event.starts_at), closes=speaker.when(window.closes)
        )
    return f"{intro}\n\n{speaker._(EVENT_QUESTION)}"


class SurveyHandlers:
    """The answers: a rating pressed (or typed as its number), and the free text."""

    def __init__(self, deps: Deps, feedback: FeedbackFlow) -> None:
        self._deps = deps
        self._feedback = feedback

    def window(self, event: Event) -> SurveyWindow:
        return survey_window(event, self._deps.settings.surveys, self._deps.zone)

    async def on_button(self, turn: Turn, payload: str) -> list[Reply]:
        """`svy:<event>:e|w:<rating>`: a rating of the event or the workshop."""
        event_id, _, rest = payload.removeprefix(SURVEY_PAYLOAD).partition(":")
        part, _, rating = rest.partition(":")
        store = self._deps.store
        event = await store.events.get_event(event_id) if event_id.isdigit() else None
        if event is None or event.id is None or event.state == "cancelled":
            return [Reply(turn._("Diese Veranstaltung gibt es nicht."))]
        refusal = self._refusal(turn, event)
        if refusal is not None:
            return [refusal]
        if (
            not rating.isdigit()
            or not 1 <= int(rating) <= RATINGS
            or part
            not in (
                EVENT_PART,
                WORKSHOP_PART,
            )
        ):
            return [stale_button(turn)]
        participation = await store.surveys.get_participation(event.id, turn.contact_id)
        if participation is None:
            return [
                Reply(
                    turn._("Diese Umfrage ist für die Angemeldeten von „{title}“.").format(
                        title=event.title
                    )
                )
            ]
        workshop = participation.workshop
        if part == EVENT_PART:
            await store.surveys.set_answer(
                event.id, turn.contact_id, turn.now, event_rating=int(rating)
            )
            logger.info("survey of %s: contact %s rated the event", event.slug, turn.contact_id)
            if workshop is not None and workshop.id is not None:
                question = turn._(
                    "Danke! Und wie nützlich war Ihr Workshop „{workshop}“? 1 = gar nicht, "
                    "5 = sehr"
                ).format(workshop=workshop.title)
                return [Reply(question, rating_choices(event.id, WORKSHOP_PART), choice_columns=5)]
        else:
            if workshop is None or workshop.id is None:
                return [stale_button(turn)]
            await store.surveys.set_answer(
                event.id, turn.contact_id, turn.now, workshop=(workshop.id, int(rating))
            )
            logger.info("survey of %s: contact %s rated the workshop", event.slug, turn.contact_id)
        field = workshop.field_key if workshop is not None else None
        return [await self._ask_text(turn, event, field)]

    async def on_message(self, turn: Turn, state: ConversationState) -> list[Reply]:
        """What the working group should take up: handed to the feedback flow, which asks
        about anonymity and shows the summary before anything is stored."""
        text = turn.incoming.text.strip()
        event = await self._deps.store.events.get_event(int(state.data["event"]))
        if event is None or not text:
            return [
                Reply(turn._("Bitte schreiben Sie Ihren Vorschlag als Text.")),
                self._text_prompt(turn, state.version),
            ]
        field = state.data.get("field")
        known = {f.key for f in await self._deps.store.groups.list_fields()}
        return await self._feedback.continue_with(
            turn, text, ItemKind.SUGGESTION, field if field in known else None
        )

    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        """ "Nothing more": the survey is done."""
        await self._deps.store.conversations.clear_state(turn.contact_id)
        return [Reply(turn._("Danke für Ihre Antworten!"), replaces_prompt=True)]

    async def open_for(self, turn: Turn) -> list[Reply]:
        """The open surveys of the events the person attended, with their rating so far and
        the buttons to change it (`/polls`)."""
        store = self._deps.store
        replies = []
        for registration, event, _ in await store.registrations.list_for_contact(turn.contact_id):
            window = self.window(event)
            if registration.state != "registered" or not window.is_open(turn.now):
                continue
            assert event.id is not None
            text = survey_question(turn, event, window)
            answer = await store.surveys.get_answer(event.id, turn.contact_id)
            if answer is not None and answer.event_rating is not None:
                text += "\n" + turn._("Ihre Bewertung bisher: {rating}").format(
                    rating=answer.event_rating
                )
            replies.append(
                Reply(text, rating_choices(event.id, EVENT_PART), choice_columns=RATINGS)
            )
        return replies

    def _refusal(self, turn: Turn, event: Event) -> Reply | None:
        """Why an answer cannot count now: the survey is not open yet, or closed."""
        window = self.window(event)
        if turn.now < window.opens:
            return Reply(
                turn._("Diese Umfrage beginnt erst am {when}.").format(
                    when=turn.when(window.opens)
                )
            )
        if turn.now >= window.closes:
            logger.info("survey of %s: an answer after the close, not counted", event.slug)
            return Reply(
                turn._(
                    "Die Umfrage zu „{title}“ ist seit {when} geschlossen. Ihre Antwort wurde "
                    "nicht mehr gezählt – danke trotzdem!"
                ).format(title=event.title, when=turn.when(window.closes))
            )
        return None

    async def _ask_text(self, turn: Turn, event: Event, field: str | None) -> Reply:
        conversations = self._deps.store.conversations
        await conversations.clear_state(turn.contact_id)
        version = await conversations.set_state(
            turn.contact_id, FLOW, TEXT, {"event": event.id, "field": field}, turn.now
        )
        return self._text_prompt(turn, version, self.window(event).closes)

    def _text_prompt(self, turn: Turn, version: int, closes: datetime | None = None) -> Reply:
        text = turn._(
            "Danke! Was sollte die Arbeitsgruppe aufgreifen? Schreiben Sie es in einer "
            "Nachricht; es geht als Vorschlag an die Arbeitsgruppe."
        )
        if closes is not None:
            text += "\n" + turn._(
                "Ihre Bewertung können Sie bis {closes} ändern: einfach eine andere Zahl "
                "wählen (/polls)."
            ).format(closes=turn.when(closes))
        options = [(turn._("Nichts weiter"), NOTHING)]
        return Reply(text, build_choices(version, TEXT, options))
