"""The city asks back, in conversation: the survey after an event (derived from the database
at `now`, moved by a postponement, one reminder, nothing after the close, the free text a
routed suggestion), polls (once per person across linked accounts, changeable until the
close, results to every participant), `/polls`, `/stats`, in German, Arabic and Ukrainian."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from bot.delivery.scheduler import Planner
from bot.report import build_report
from handlers.asking.polls import new_poll
from handlers.events.admin import postpone_event
from handlers.messages import Platform
from handlers.report.document import Chart, Table
from handlers.report.year import year_report
from storage.asking_models import PollAnswer, SurveyAnswer
from storage.events.models import Event
from storage.models import FeedbackItem, OutboxMessage
from testkit.support import (
    ADA,
    ARBEIT_CHAT,
    BILDUNG_CHAT,
    FakeClock,
    Resident,
    outbox_rows,
    rows,
)
from tests.event_support import (
    ARBEIT,
    BILDUNG,
    TITLE,
    add_round_table,
    berlin,
    contact_id,
    deliver,
    register,
)

SECOND = timedelta(seconds=1)
# The round table of tests.event_support ends on 26 Oct 2026 at 16:00: the survey goes out
# the day after at 10:00 ([surveys] of config.example.toml), reminds three days later and
# closes a week after it went out.
SURVEY_OPENS = berlin(2026, 10, 27, 10, 0)
SURVEY_REMINDS = berlin(2026, 10, 30, 10, 0)
SURVEY_CLOSES = berlin(2026, 11, 3, 10, 0)


def planner(app: App, name: str) -> Planner:
    (found,) = [p for p in app.planners if getattr(p, "name", "") == name]
    return found


async def survey_rows(app: App, step: str = "survey") -> list[OutboxMessage]:
    return [r for r in await outbox_rows(app.db) if f":{step}:" in r.idempotency_key]


async def poll_rows(app: App, step: str) -> list[OutboxMessage]:
    return [
        r
        for r in await outbox_rows(app.db)
        if r.idempotency_key.startswith("poll:") and f":{step}:" in r.idempotency_key
    ]


def button(row: OutboxMessage, label: str) -> str:
    """The payload of the button labelled `label` in an outbox message."""
    for shown, payload in row.payload.get("choices", []):
        if shown == label:
            return str(payload)
    raise AssertionError(f"no button {label!r} in {row.payload}")


async def registered_round_table(
    app: App, clock: FakeClock, *people: tuple[Resident, str | None]
) -> Event:
    clock.set(berlin(2026, 10, 6, 12, 0))
    event = await add_round_table(app, bildung_capacity=5)
    for resident, workshop in people:
        await register(resident, workshop)
    return event


async def test_the_survey_after_an_event(coordination: App, clock: FakeClock) -> None:
    app = coordination
    surveys = planner(app, "surveys")
    rosa, eva, tom, mia = (Resident(app.handle, n) for n in ("rosa", "eva", "tom", "mia"))
    event = await registered_round_table(
        app, clock, (rosa, BILDUNG), (eva, ARBEIT), (tom, None), (mia, None)
    )
    await tom.command("/myevents")
    await tom.press(f"Abmelden: {TITLE}")  # cancelled: not asked
    await mia.command("/stop")  # registered, but wants nothing on the bot's initiative

    # Derived at `now`: due the day after the event, to every registrant who did not cancel.
    assert await surveys.next_due(clock.now()) == SURVEY_OPENS
    assert await surveys.plan(SURVEY_OPENS - SECOND) == 0
    assert await surveys.plan(SURVEY_OPENS) == 2
    assert await surveys.plan(SURVEY_OPENS + timedelta(minutes=5)) == 0  # once
    asked = {r.chat_id: r for r in await survey_rows(app)}
    assert sorted(asked) == ["c-eva", "c-rosa"]
    question = asked["c-rosa"]
    assert TITLE in question.payload["text"]
    assert (
        "Wie nützlich war die Veranstaltung für Sie? 1 = gar nicht, 5 = sehr"
        in (question.payload["text"])
    )
    assert [label for label, _ in question.payload["choices"]] == ["1", "2", "3", "4", "5"]
    assert question.idempotency_key.startswith(f"ev{event.id}:s1:survey:c")

    # Rosa rates the event and her workshop, and writes what the group should take up.
    clock.set(SURVEY_OPENS + timedelta(hours=1))
    await rosa.press_payload(button(question, "4"))
    assert f"Workshop „{BILDUNG}“" in rosa.last_text
    await rosa.press("5")
    assert "Was sollte die Arbeitsgruppe aufgreifen?" in rosa.last_text
    assert rosa.choices == ["Nichts weiter"]
    await rosa.say("Mehr Sprachkurse am Abend für Eltern")
    assert "Soll die Arbeitsgruppe Ihren Namen sehen?" in rosa.last_text  # asked as usual
    await rosa.press("Anonym bleiben")
    assert "Art: Vorschlag" in rosa.last_text and "Handlungsfeld: Bildung und Sprache" in (
        rosa.last_text
    )
    await rosa.press("Abschicken")
    assert "Weitergeleitet an:" in rosa.last_text
    (item,) = await rows(app.db, FeedbackItem)
    assert (item.kind, item.field_key, item.group_key, item.anonymous) == (
        "suggestion",
        "bildung",
        "uag-bildung",
        True,
    )
    assert [r.chat_id for r in await outbox_rows(app.db) if r.reference == item.reference] == [
        BILDUNG_CHAT
    ]

    # Answers change until the close; one answer per person.
    await rosa.press_payload(button(question, "2"))
    (answer,) = await rows(app.db, SurveyAnswer)
    assert (answer.event_rating, answer.workshop_rating) == (2, 5)
    await rosa.press("5")  # the workshop's question comes again; the same rating
    await rosa.press("Nichts weiter")
    assert rosa.last_text == "Danke für Ihre Antworten!"

    # One reminder three days later, to Eva only, who has not answered.
    assert await surveys.plan(SURVEY_REMINDS - SECOND) == 0
    assert await surveys.plan(SURVEY_REMINDS) == 1
    assert await surveys.plan(SURVEY_REMINDS + timedelta(hours=1)) == 0
    (reminder,) = await survey_rows(app, "survey-reminder")
    assert reminder.chat_id == "c-eva" and reminder.payload["text"].startswith("Erinnerung:")

    # At the close: the results to the working groups of the workshops, nothing to residents.
    assert await surveys.plan(SURVEY_CLOSES) == 3
    results = await survey_rows(app, "survey-results")
    assert sorted(r.chat_id for r in results) == sorted(
        [BILDUNG_CHAT, ARBEIT_CHAT, ADA.partition(":")[2]]
    )
    text = results[0].payload["text"]
    assert "Rücklauf: 33 % (1 von 3)" in text  # Mia is registered, though not asked
    assert "Veranstaltung: Durchschnitt 2,0 von 5 (Verteilung 1–5: 0 / 1 / 0 / 0 / 0)" in text
    assert f"„{BILDUNG}“: Durchschnitt 5,0 von 5" in text
    assert f"„{ARBEIT}“: noch keine Bewertung" in text

    # After the close an answer is refused politely and not counted; nothing more goes out.
    clock.set(SURVEY_CLOSES + timedelta(hours=2))
    await eva.press_payload(button(reminder, "5"))
    assert "ist seit" in eva.last_text and "nicht mehr gezählt" in eva.last_text
    assert len(await rows(app.db, SurveyAnswer)) == 1
    before = len(await outbox_rows(app.db))
    assert await surveys.plan(SURVEY_CLOSES + timedelta(days=2)) == 0
    assert len(await outbox_rows(app.db)) == before
    assert await surveys.next_due(SURVEY_CLOSES + timedelta(days=2)) is None
    assert max(Counter(r.idempotency_key for r in await outbox_rows(app.db)).values()) == 1


async def test_a_postponed_event_moves_its_survey(coordination: App, clock: FakeClock) -> None:
    app = coordination
    surveys = planner(app, "surveys")
    rosa = Resident(app.handle, "rosa")
    event = await registered_round_table(app, clock, (rosa, BILDUNG))
    moved = await postpone_event(
        app.deps, event, berlin(2026, 11, 9, 10, 0), "Der Saal ist belegt", clock.now()
    )
    assert moved is not None

    assert await surveys.plan(SURVEY_OPENS) == 0  # the old date
    new_opens = berlin(2026, 11, 10, 10, 0)
    assert await surveys.next_due(SURVEY_OPENS) == new_opens
    assert await surveys.plan(new_opens) == 1
    (question,) = await survey_rows(app)
    assert question.idempotency_key.startswith(f"ev{event.id}:s2:survey:")
    # A rating before the new date's survey opened is not counted either.
    clock.set(SURVEY_OPENS)
    await rosa.press_payload(button(question, "3"))
    assert "beginnt erst am" in rosa.last_text
    assert await rows(app.db, SurveyAnswer) == []


async def test_only_registrants_answer_the_survey(coordination: App, clock: FakeClock) -> None:
    app = coordination
    rosa, udo = Resident(app.handle, "rosa"), Resident(app.handle, "udo")
    event = await registered_round_table(app, clock, (rosa, None))
    assert await planner(app, "surveys").plan(SURVEY_OPENS) == 1
    (question,) = await survey_rows(app)
    clock.set(SURVEY_OPENS)
    await udo.press_payload(button(question, "5"))
    assert udo.last_text == f"Diese Umfrage ist für die Angemeldeten von „{TITLE}“."
    # Without a workshop the rating leads straight to the free text, whose field is asked.
    await rosa.press_payload(button(question, "5"))
    assert "Was sollte die Arbeitsgruppe aufgreifen?" in rosa.last_text
    await rosa.say("Ein Sprachcafé im Stadtteil")
    assert "Zu welchem Handlungsfeld" in rosa.last_text
    # /polls shows the open survey with the rating so far, to change it.
    await rosa.command("/cancel")
    await rosa.command("/polls")
    assert "Ihre Bewertung bisher: 5" in rosa.all_text
    assert rosa.choices == ["1", "2", "3", "4", "5"]
    assert event.id is not None


# ---- polls ---------------------------------------------------------------------------------


async def add_poll(
    app: App, clock: FakeClock, texts: dict[str, Any] | None = None, audience: str = "all"
) -> int:
    given = {
        "de": {
            "question": "Sollen Sprachkurse auch abends stattfinden?",
            "options": ["Ja", "Nein"],
        },
        **(texts or {}),
    }
    now = clock.now()
    poll = await new_poll(
        app.deps, "abendkurse", given, audience, now, now + timedelta(days=7), now
    )
    stored = await app.store.polls.add_poll(poll)
    assert stored.id is not None
    return stored.id


async def link(first: Resident, second: Resident) -> None:
    await first.command("/link")
    found = re.search(r"/link ([A-Z0-9]{8})", first.last_text)
    assert found is not None
    await second.command(f"/link {found.group(1)}")


async def test_a_poll_counts_each_person_once_and_sends_back_the_results(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    polls = planner(app, "polls")
    ana = Resident(app.handle, "ana")
    ana_matrix = Resident(app.handle, "ana-m", platform=Platform.MATRIX)
    ben, cem, dora = (Resident(app.handle, n) for n in ("ben", "cem", "dora"))
    for person in (ana, ben, cem, dora):
        await person.command("/start")
    await link(ana, ana_matrix)
    await dora.command("/stop")
    poll_id = await add_poll(app, clock)

    # Asked once per person (Ana on the contact she wrote from last), not who /stop-ped.
    assert await polls.plan(clock.now()) == 3
    assert await polls.plan(clock.now() + SECOND) == 0
    asked = {r.chat_id: r for r in await poll_rows(app, "ask")}
    assert sorted(asked) == ["c-ana-m", "c-ben", "c-cem"]
    question = asked["c-ben"]
    assert question.payload["text"].startswith("Umfrage: Sollen Sprachkurse auch abends")
    assert [label for label, _ in question.payload["choices"]] == ["Ja", "Nein"]
    assert await deliver(app) == 3

    # Ana answers on Telegram, then changes her answer on Matrix: one answer, the latest.
    clock.advance(timedelta(hours=1))
    await ana.press_payload(button(question, "Ja"))
    assert ana.last_text.startswith("Danke! Ihre Antwort: Ja")
    await ana_matrix.press_payload(button(question, "Nein"))
    assert ana_matrix.last_text.startswith("Geändert: Ihre Antwort ist jetzt Nein.")
    await ben.press_payload(button(question, "Ja"))
    (answered,) = {a.poll_id for a in await rows(app.db, PollAnswer)}
    assert answered == poll_id and len(await rows(app.db, PollAnswer)) == 2

    # /polls shows the open poll with Ana's answer and its buttons, on either platform.
    await ana.command("/polls")
    assert "Ihre Antwort bisher: Nein" in ana.all_text
    assert ana.choices == ["Ja", "Nein"]

    # The close: every participant gets the results in their language, with their answer.
    closes = clock.now() + timedelta(days=7)
    assert await polls.next_due(clock.now()) == closes - timedelta(hours=1)
    assert await polls.plan(closes) >= 2
    results = {r.chat_id: r.payload["text"] for r in await poll_rows(app, "results")}
    assert {"c-ana-m", "c-ben", BILDUNG_CHAT, ARBEIT_CHAT} <= set(results)
    assert "c-cem" not in results  # asked, did not answer
    assert results["c-ben"] == (
        "Ergebnis der Umfrage: Sollen Sprachkurse auch abends stattfinden?\n"
        "• Ja: 1 (50 %)\n"
        "• Nein: 1 (50 %)\n"
        "Rücklauf: 67 % (2 von 3)\n"
        "Ihre Antwort: Ja"
    )
    assert results["c-ana-m"].endswith("Ihre Antwort: Nein")
    assert "Ihre Antwort" not in results[BILDUNG_CHAT]

    # After the close: answered politely and not counted; /polls shows the result.
    clock.set(closes + timedelta(minutes=1))
    await cem.press_payload(button(asked["c-cem"], "Nein"))
    assert "ist seit" in cem.last_text and "nicht mehr gezählt" in cem.last_text
    assert len(await rows(app.db, PollAnswer)) == 2
    await cem.command("/polls")
    assert "• Nein: 1 (50 %)" in cem.all_text
    assert "Zurzeit gibt es keine offene Umfrage für Sie." in cem.all_text
    assert await polls.plan(closes + timedelta(days=1)) == 0


def plain(text: str) -> str:
    """`text` without the isolates that set placeholders apart in right-to-left sentences."""
    return text.replace("\u2068", "").replace("\u2069", "")


@pytest.mark.parametrize(
    ("language", "question", "options", "thanks", "closed"),
    [
        (
            "ar",
            "هل يجب أن تُعقد دورات اللغة مساءً أيضًا؟",
            ["نعم", "لا"],
            "شكرًا! إجابتكم: ",
            "لم تُحتسب إجابتكم",
        ),
        (
            "uk",
            "Чи мають мовні курси проходити й увечері?",
            ["Так", "Ні"],
            "Дякуємо! Ваша відповідь: ",
            "відповідь уже не враховано",
        ),
    ],
)
async def test_a_poll_in_the_residents_language(
    coordination: App,
    clock: FakeClock,
    language: str,
    question: str,
    options: list[str],
    thanks: str,
    closed: str,
) -> None:
    app = coordination
    polls = planner(app, "polls")
    resident = Resident(app.handle, "lena", language_code=language)
    await resident.command("/start")
    await add_poll(app, clock, {language: {"question": question, "options": options}})
    assert await polls.plan(clock.now()) == 1
    (asked,) = await poll_rows(app, "ask")
    assert question in asked.payload["text"] and "Umfrage" not in asked.payload["text"]
    assert [label for label, _ in asked.payload["choices"]] == options
    await deliver(app)

    await resident.press_payload(button(asked, options[1]))
    assert thanks + options[1] in plain(resident.last_text)

    closes = clock.now() + timedelta(days=7)
    await polls.plan(closes)
    (mine,) = [r for r in await poll_rows(app, "results") if r.chat_id == "c-lena"]
    text = plain(mine.payload["text"])
    assert question in text and f"• {options[1]}: 1 (" in text and "Ergebnis" not in text
    clock.set(closes)
    await resident.press_payload(button(asked, options[0]))
    assert closed in resident.last_text
    assert [a.option for a in await rows(app.db, PollAnswer)] == [1]


@pytest.mark.parametrize(
    ("language", "intro", "workshop", "text_question", "anonymous", "send"),
    [
        (
            "ar",
            "شكرًا لحضوركم",
            "ورشة العمل",
            "ما الذي ينبغي أن يتناوله فريق العمل؟",
            "دون ذكر اسمي",
            "إرسال",
        ),
        (
            "uk",
            "Дякуємо, що були",
            "ваш семінар",
            "Що має взяти до уваги робоча група?",
            "Анонімно",
            "Надіслати",
        ),
    ],
)
async def test_the_survey_in_the_residents_language(
    coordination: App,
    clock: FakeClock,
    language: str,
    intro: str,
    workshop: str,
    text_question: str,
    anonymous: str,
    send: str,
) -> None:
    app = coordination
    resident = Resident(app.handle, "lena", language_code=language)
    clock.set(berlin(2026, 10, 6, 12, 0))
    event = await add_round_table(app)
    assert event.id is not None
    (bildung,) = [
        w.workshop
        for w in await app.store.events.list_workshops(event.id)
        if w.workshop.field_key == "bildung"
    ]
    await resident.command("/start")
    await app.store.registrations.register(
        event.id, await contact_id(app, "lena"), bildung.id, clock.now(), lambda *_: []
    )

    assert await planner(app, "surveys").plan(SURVEY_OPENS) == 1
    (question,) = await survey_rows(app)
    assert intro in question.payload["text"] and "Danke" not in question.payload["text"]
    clock.set(SURVEY_OPENS)
    await resident.press_payload(button(question, "4"))
    assert workshop in resident.last_text and BILDUNG in resident.last_text
    await resident.press("5")
    assert text_question in resident.last_text
    await resident.say("Deutschkurse mit Kinderbetreuung")
    await resident.press(anonymous)
    await resident.press(send)
    (item,) = await rows(app.db, FeedbackItem)
    assert (item.kind, item.group_key, item.language) == ("suggestion", "uag-bildung", language)


# ---- results for the people who decide ----------------------------------------------------


async def test_results_in_stats_and_in_the_year_report(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    assert app.deps is not None
    rosa, eva = Resident(app.handle, "rosa"), Resident(app.handle, "eva")
    event = await registered_round_table(app, clock, (rosa, BILDUNG), (eva, ARBEIT))
    await planner(app, "surveys").plan(SURVEY_OPENS)
    questions = {r.chat_id: r for r in await survey_rows(app)}
    clock.set(SURVEY_OPENS)
    await rosa.press_payload(button(questions["c-rosa"], "4"))
    await rosa.press("5")
    await eva.press_payload(button(questions["c-eva"], "2"))
    poll_id = await add_poll(app, clock)
    await planner(app, "polls").plan(clock.now())
    assert await deliver(app) == 4  # two survey questions, two poll questions
    (asked,) = [r for r in await poll_rows(app, "ask") if r.chat_id == "c-rosa"]
    await rosa.press_payload(button(asked, "Nein"))
    clock.set(SURVEY_CLOSES + timedelta(days=1))

    cora = Resident(app.handle, "cora")
    await cora.command("/stats")
    assert cora.replies[-1].text == (
        "Umfragen nach Veranstaltungen:\n"
        f"„{TITLE}“: Rücklauf: 100 % (2 von 2); Veranstaltung im Durchschnitt 3,0 von 5\n"
        "\n"
        "Umfragen:\n"
        "„Sollen Sprachkurse auch abends stattfinden?“: Rücklauf: 50 % (1 von 2); "
        "vorn: Nein (100 %)"
    )
    await rosa.command("/stats")  # residents get the refusal only
    assert "Umfragen" not in rosa.all_text

    document, figures = await year_report(app.deps, 2026)
    assert [s.answered for s in figures.surveys] == [2]
    section = next(s for s in document.sections if s.key == "asking")
    charts = [b for b in section.blocks if isinstance(b, Chart)]
    assert [c.key for c in charts] == [f"survey-{event.id}", f"poll-{poll_id}"]
    assert charts[0].categories == ["Veranstaltung", BILDUNG, ARBEIT]
    assert charts[0].series[1] == ("2", [1, 0, 0]) and charts[0].series[3] == ("4", [1, 0, 0])
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert [str(c) for c in tables[0].rows[0]] == [
        "Veranstaltung",
        "2",
        "2",
        "3,0",
        "0",
        "1",
        "0",
        "1",
        "0",
    ]
    assert [str(c) for c in tables[1].rows[1]] == ["Nein", "1", "100 %"]
    report = await build_report(app.deps, 2026, "md", stem="bericht")
    assert {f"bericht-survey-{event.id}.png", f"bericht-poll-{poll_id}.png"} <= set(report.images)
    text = report.data.decode("utf-8")
    assert "Umfragen" in text and "Rücklauf: 50 % (1 von 2)" in text
    for fmt in ("html", "xlsx", "pdf"):  # every format renders the section
        rendered = await build_report(app.deps, 2026, fmt, stem="bericht")
        assert rendered.data
    html = (await build_report(app.deps, 2026, "html", stem="bericht")).data.decode("utf-8")
    assert "Sollen Sprachkurse auch abends stattfinden?" in html
    english, _ = await year_report(app.deps, 2026, language="en")
    section = next(s for s in english.sections if s.key == "asking")
    assert section.title == "Surveys and polls"


async def test_forget_keeps_answers_as_anonymous_counts(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    rosa = Resident(app.handle, "rosa")
    event = await registered_round_table(app, clock, (rosa, None))
    await planner(app, "surveys").plan(SURVEY_OPENS)
    (question,) = await survey_rows(app)
    clock.set(SURVEY_OPENS)
    poll_id = await add_poll(app, clock)
    await planner(app, "polls").plan(clock.now())
    (asked,) = await poll_rows(app, "ask")
    await rosa.press_payload(button(question, "4"))
    await rosa.press_payload(button(asked, "Ja"))

    await rosa.command("/mydata")  # the answers are hers, and in her data
    (exported,) = [f for r in rosa.replies for f in r.files]
    data = json.loads(exported.data)
    assert [a["option"] for a in data["poll_answers"]] == [0]
    assert [a["event_rating"] for a in data["survey_answers"]] == [4]

    await rosa.command("/forget")
    await rosa.press("Alles löschen")
    assert "Ihre Daten sind gelöscht" in rosa.last_text
    assert [a.contact_id for a in await rows(app.db, PollAnswer)] == [None]
    assert [a.contact_id for a in await rows(app.db, SurveyAnswer)] == [None]
    results = await app.store.polls.results(poll_id)
    assert results is not None and results.counts == (1, 0)
    assert event.id is not None
    survey = await app.store.surveys.results(event.id)
    assert survey is not None and survey.ratings.counts == (0, 0, 0, 1, 0)
