"""Counted texts read right for every number: German "1 Tag" but "2 Tage", Russian and
Ukrainian "21 день", "22 дня/дні", "25 дней/днів" (in the case the sentence needs), Arabic's
six forms. What residents, coordinators and administrators see, for the settings that count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from babel.units import format_unit

from bot.app import App
from bot.config import Settings
from bot.delivery.scheduler import Planner
from handlers.i18n import Catalogues
from testkit.support import (
    BILDUNG_CHAT,
    FakeClock,
    Resident,
    coordination_settings,
    outbox_rows,
    photo,
)
from tests.event_support import add_round_table, berlin

MakeApp = Callable[..., Awaitable[App]]
FSI, PDI = "\u2068", "\u2069"
LANGUAGES = ("de", "de_simple", "en", "tr", "ar", "uk", "ru")
PRIVACY_DAYS = (
    "Wenn Sie {days} Tag lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
    "Wenn Sie {days} Tage lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
)
PRIVACY_ITEM_DAYS = (
    "abgeschlossene Rückmeldungen werden nach {item_days} Tag anonymisiert.",
    "abgeschlossene Rückmeldungen werden nach {item_days} Tagen anonymisiert.",
)
REMINDER = (
    "Der Bericht {year} an den Stadtrat ist am {due} fällig, {days} Tag vor „{title}“ am {when}.",
    "Der Bericht {year} an den Stadtrat ist am {due} fällig, {days} Tage vor „{title}“ am {when}.",
)
# The privacy notice with the default periods, 730 and 365 days: said in years.
DEFAULT_NOTICE = (
    "Datenschutz: Wir speichern Ihre Rückmeldungen mit ihren Dateien, Ihre Sprache, Ihren "
    "Anzeigenamen und die Kennung Ihres Kontos, damit wir Ihnen antworten können. Die "
    "zuständige Arbeitsgruppe der Stadt sieht Ihre Rückmeldung, Ihren Namen nur, wenn Sie "
    "das erlauben. Wenn Sie 2 Jahre lang nicht schreiben, löschen wir Ihre persönlichen "
    "Daten; abgeschlossene Rückmeldungen werden nach 1 Jahr anonymisiert.\n/mydata schickt "
    "Ihnen alles, was wir über Sie gespeichert haben. /forget löscht es. /stop beendet alle "
    "Nachrichten, die keine Antwort auf Ihre eigenen Nachrichten sind.\n"
    "Vorschläge und was aus ihnen wurde veröffentlichen wir ohne Namen: unter /outcomes und im "
    "Jahresbericht an den Stadtrat. E-Mail-Adressen und Telefonnummern im Text machen wir "
    "dabei unkenntlich."
)
NUMBERS = range(0, 250)


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues(LANGUAGES)


def _privacy_settings(settings: Settings, days: int, item_days: int) -> Settings:
    return replace(
        settings,
        privacy=replace(
            settings.privacy, inactive_contact_days=days, finished_item_days=item_days
        ),
    )


# ---- the privacy notice -------------------------------------------------------------------


async def test_the_german_notice_names_the_default_periods_in_years(alice: Resident) -> None:
    await alice.command("/privacy")
    assert alice.last_text == DEFAULT_NOTICE


async def test_the_german_notice_says_one_day_in_the_singular(
    make_app: MakeApp, settings: Settings
) -> None:
    app = await make_app(_privacy_settings(settings, 1, 1))
    alice = Resident(app.handle, "alice")
    await alice.command("/privacy")
    assert "Wenn Sie 1 Tag lang nicht schreiben, löschen wir Ihre persönlichen Daten;" in (
        alice.last_text
    )
    assert "abgeschlossene Rückmeldungen werden nach 1 Tag anonymisiert." in alice.last_text


@pytest.mark.parametrize(
    ("language", "days", "expected"),
    [
        # "протягом"/"в течение" take the genitive, "через" the accusative.
        ("uk", 22, ("протягом 22 днів,", "через 22 дні.")),
        ("uk", 21, ("протягом 21 дня,", "через 21 день.")),
        ("uk", 25, ("протягом 25 днів,", "через 25 днів.")),
        ("ru", 21, ("в течение 21 дня,", "через 21 день.")),
        ("ru", 22, ("в течение 22 дней,", "через 22 дня.")),
        ("ru", 11, ("в течение 11 дней,", "через 11 дней.")),
        ("en", 1, ("for 1 day,", "after 1 day.")),
        ("de_simple", 1, ("1 Tag lang nicht?", "nach 1 Tag Ihren Namen")),
        ("ar", 2, ("مدة يومين،", "بعد يومين.")),  # the dual says "two": no "2" before it
        ("ar", 1, ("مدة يوم واحد،", "بعد يوم واحد.")),
        ("ar", 5, (f"مدة {FSI}5{PDI} أيام", f"بعد {FSI}5{PDI} أيام.")),
    ],
)
async def test_the_notice_counts_days_in_the_residents_language(
    make_app: MakeApp, settings: Settings, language: str, days: int, expected: tuple[str, str]
) -> None:
    app = await make_app(_privacy_settings(settings, days, days))
    olena = Resident(app.handle, "olena", language_code=language.split("_")[0])
    if language == "de_simple":
        await olena.command("/language de_simple")
    await olena.command("/privacy")
    for part in expected:
        assert part in olena.last_text


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_days_after_through_read_as_cldr_counts_them(
    catalogues: Catalogues, language: str
) -> None:
    """ "через N дней/днів" is the accusative, the form CLDR gives for "N days" on its own."""
    tr = catalogues.get(language)
    for n in NUMBERS:
        text = tr.ngettext(*PRIVACY_ITEM_DAYS, n).format(item_days=n)
        assert f" {format_unit(n, 'duration-day', locale=language)}." in text, text


@pytest.mark.parametrize(
    ("language", "one", "other"), [("ru", "дня", "дней"), ("uk", "дня", "днів")]
)
def test_days_within_take_the_genitive(
    catalogues: Catalogues, language: str, one: str, other: str
) -> None:
    """ "в течение/протягом N": 1, 21, 101 дня; every other number дней/днів."""
    tr = catalogues.get(language)
    for n in NUMBERS:
        text = tr.ngettext(*PRIVACY_DAYS, n).format(days=n)
        noun = one if n % 10 == 1 and n % 100 != 11 else other
        assert f" {n} {noun}," in text, text


def test_arabic_counts_days_with_all_six_forms(catalogues: Catalogues) -> None:
    """One day and two days are said by the word alone ("يوم واحد", "يومين"), with no number
    before it: "2 يومين" would say two twice."""
    tr = catalogues.get("ar")
    assert tr.ngettext(*PRIVACY_ITEM_DAYS, 1).format(item_days=1).endswith(" بعد يوم واحد.")
    assert tr.ngettext(*PRIVACY_ITEM_DAYS, 2).format(item_days=2).endswith(" بعد يومين.")
    for n in NUMBERS:
        text = tr.ngettext(*PRIVACY_ITEM_DAYS, n).format(item_days=n)
        if n in (1, 2):
            assert f"{FSI}{n}{PDI}" not in text, text
            continue
        if 3 <= n % 100 <= 10:
            noun = "أيام"
        elif n % 100 >= 11:
            noun = "يومًا"
        else:  # 0, 100-102, …
            noun = "يوم"
        assert f"{FSI}{n}{PDI} {noun}." in text, text


PRIVACY_YEARS = (
    "Wenn Sie {years} Jahr lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
    "Wenn Sie {years} Jahre lang nicht schreiben, löschen wir Ihre persönlichen Daten;",
)
PRIVACY_ITEM_YEARS = (
    "abgeschlossene Rückmeldungen werden nach {item_years} Jahr anonymisiert.",
    "abgeschlossene Rückmeldungen werden nach {item_years} Jahren anonymisiert.",
)


@pytest.mark.parametrize(
    ("language", "days", "item_days", "expected"),
    [
        ("de_simple", 730, 365, ("Sie schreiben uns 2 Jahre lang nicht?", "nach 1 Jahr Ihren")),
        ("de", 1095, 730, ("Wenn Sie 3 Jahre lang nicht", "nach 2 Jahren anonymisiert.")),
        ("en", 730, 365, ("for 2 years,", "after 1 year.")),
        ("tr", 730, 365, ("2 yıl boyunca", "1 yıl sonra")),
        ("uk", 7665, 365, ("протягом 21 року,", "через 1 рік.")),
        ("uk", 730, 730, ("протягом 2 років,", "через 2 роки.")),
        ("ru", 730, 1825, ("в течение 2 лет,", "через 5 лет.")),
        ("ar", 730, 365, ("مدة سنتين،", "بعد سنة واحدة.")),
        ("ar", 1825, 4015, (f"مدة {FSI}5{PDI} سنوات،", f"بعد {FSI}11{PDI} سنة.")),
    ],
)
async def test_whole_years_are_said_in_years_not_days(
    make_app: MakeApp,
    settings: Settings,
    language: str,
    days: int,
    item_days: int,
    expected: tuple[str, str],
) -> None:
    """ "2 Jahre", not "730 Tage": a period of whole years in the unit people count it in."""
    app = await make_app(_privacy_settings(settings, days, item_days))
    olena = Resident(app.handle, "olena", language_code=language.split("_")[0])
    if language == "de_simple":
        await olena.command("/language de_simple")
    await olena.command("/privacy")
    for part in expected:
        assert part in olena.last_text
    assert str(days) not in olena.last_text and str(item_days) not in olena.last_text


@pytest.mark.parametrize(
    ("language", "one", "other"), [("ru", "года", "лет"), ("uk", "року", "років")]
)
def test_years_read_right_for_every_number(
    catalogues: Catalogues, language: str, one: str, other: str
) -> None:
    """ "через N" takes the form CLDR gives for "N years"; "в течение/протягом N" the
    genitive: 1, 21, 101 года/року, every other number лет/років."""
    tr = catalogues.get(language)
    for n in NUMBERS[1:]:
        after = tr.ngettext(*PRIVACY_ITEM_YEARS, n).format(item_years=n)
        assert f" {format_unit(n, 'duration-year', locale=language)}." in after, after
        within = tr.ngettext(*PRIVACY_YEARS, n).format(years=n)
        noun = one if n % 10 == 1 and n % 100 != 11 else other
        assert f" {n} {noun}," in within, within


@pytest.mark.parametrize(
    ("language", "one", "other"), [("ru", "дня", "дней"), ("uk", "дня", "днів")]
)
def test_the_days_to_a_first_answer_read_right_for_every_number(
    catalogues: Catalogues, language: str, one: str, other: str
) -> None:
    """The web view's "Erste Antwort innerhalb von" + "{n} Tag(en)": the genitive after
    "в течение/протягом", right for 1, 2-4, 5-20, 21, 22, 25, 111."""
    tr = catalogues.get(language)
    for n in NUMBERS:
        noun = one if n % 10 == 1 and n % 100 != 11 else other
        assert tr.ngettext("{n} Tag", "{n} Tagen", n).format(n=n) == f"{n} {noun}"


# ---- the report reminder ------------------------------------------------------------------


async def _at_the_first_report_reminder(app: App, clock: FakeClock) -> Planner:
    """A round table on 26 Oct 2026, the clock at its first report reminder."""
    clock.set(berlin(2026, 9, 1, 9, 0))
    event = await add_round_table(app)
    assert event.id is not None
    await app.store.events.set_event(event.id, clock.now(), round_table=True)
    (planner,) = [p for p in app.planners if getattr(p, "name", "") == "report"]
    first = await planner.next_due(clock.now())
    assert first is not None
    clock.set(first)
    return planner


@pytest.mark.parametrize(
    ("language", "days", "expected"),
    [
        ("ru", 21, "за 21 день до мероприятия"),  # the default
        ("ru", 7, "за 7 дней до мероприятия"),
        ("ru", 22, "за 22 дня до мероприятия"),
        ("uk", 21, "за 21 день до заходу"),
        ("uk", 22, "за 22 дні до заходу"),
        ("de", 1, "fällig, 1 Tag vor „"),
        ("de", 21, "fällig, 21 Tage vor „"),
        ("en", 1, ", 1 day before “"),
        ("ar", 21, f"أي قبل {FSI}21{PDI} يومًا من"),
    ],
)
async def test_the_report_reminder_counts_the_days_before_the_round_table(
    make_app: MakeApp,
    settings: Settings,
    clock: FakeClock,
    language: str,
    days: int,
    expected: str,
) -> None:
    changed = coordination_settings(settings)
    changed = replace(
        changed,
        report=replace(changed.report, language=language, due_days_before_round_table=days),
    )
    app = await make_app(changed)
    planner = await _at_the_first_report_reminder(app, clock)
    assert await planner.plan(clock.now()) == 3

    rows = [r for r in await outbox_rows(app.db) if r.idempotency_key.startswith("report:")]
    texts = [r.payload["text"] for r in rows]
    assert len(texts) == 3 and all(expected in text for text in texts), texts


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_days_before_read_as_cldr_counts_them(catalogues: Catalogues, language: str) -> None:
    """ "за N дней/днів до" is the accusative, the form CLDR gives for "N days"."""
    tr = catalogues.get(language)
    for n in NUMBERS:
        text = tr.ngettext(*REMINDER, n).format(year=2026, due="D", days=n, title="T", when="W")
        assert f"за {format_unit(n, 'duration-day', locale=language)} до" in text, text


async def test_the_group_reminder_counts_one_open_item_in_the_singular(
    make_app: MakeApp, settings: Settings, clock: FakeClock
) -> None:
    app = await make_app(coordination_settings(settings))
    await Resident(app.handle, "alice").submit("Mehr Abendkurse")  # overdue by September
    planner = await _at_the_first_report_reminder(app, clock)
    await planner.plan(clock.now())

    (bildung,) = [
        r
        for r in await outbox_rows(app.db, BILDUNG_CHAT)
        if r.idempotency_key.startswith("report:")
    ]
    assert (
        "Unter-AG Bildung und Sprache: 1 offene Rückmeldung, davon 1 über der Frist. "
        in (bildung.payload["text"])
    )


# ---- the attachment limit, /broadcast and /stats ------------------------------------------


async def test_a_limit_of_one_file_is_one_datei(make_app: MakeApp, settings: Settings) -> None:
    app = await make_app(replace(settings, bot=replace(settings.bot, max_attachments_per_item=1)))
    alice = Resident(app.handle, "alice")
    await alice.attach(photo("1.jpg"))
    assert alice.replies[0].text == "Datei angehängt (1 Datei bei dieser Rückmeldung)."
    await alice.attach(photo("2.jpg"))
    assert alice.last_text == "Sie können höchstens 1 Datei anhängen."


ANNOUNCEMENT = (
    "Die Mitteilung geht an {count} Empfänger:in.",
    "Die Mitteilung geht an {count} Empfänger:innen.",
)
STATS = ("{n} Rückmeldung vom {start} bis {end}", "{n} Rückmeldungen vom {start} bis {end}")
POSTPONED = ("{n} angemeldete Person bekommt Bescheid.", "{n} Angemeldete bekommen Bescheid.")


@pytest.mark.parametrize(
    ("forms", "language", "n", "expected"),
    [
        (ANNOUNCEMENT, "de", 1, "Die Mitteilung geht an 1 Empfänger:in."),
        (ANNOUNCEMENT, "de", 4, "Die Mitteilung geht an 4 Empfänger:innen."),
        (ANNOUNCEMENT, "en", 1, "The announcement goes to 1 recipient."),
        (ANNOUNCEMENT, "ru", 21, "Сообщение будет отправлено 21 получателю."),
        (ANNOUNCEMENT, "ru", 5, "Сообщение будет отправлено 5 получателям."),
        (ANNOUNCEMENT, "uk", 1, "Повідомлення буде надіслано 1 одержувачу."),
        (STATS, "de", 1, "1 Rückmeldung vom A bis B"),
        (STATS, "de", 2, "2 Rückmeldungen vom A bis B"),
        (STATS, "de_simple", 1, "1 Rückmeldung vom A bis B"),
        (STATS, "en", 1, "1 piece of feedback from A to B"),
        (STATS, "ru", 21, "Обращения с A по B: 21"),
        (POSTPONED, "de", 1, "1 angemeldete Person bekommt Bescheid."),
        (POSTPONED, "de", 12, "12 Angemeldete bekommen Bescheid."),
        (POSTPONED, "en", 1, "1 registrant is being told."),
        (POSTPONED, "ru", 21, "21 зарегистрированный получит уведомление."),
        (POSTPONED, "ru", 3, "3 зарегистрированных получат уведомление."),
        (POSTPONED, "uk", 22, "22 зареєстровані отримають повідомлення."),
        (POSTPONED, "uk", 25, "25 зареєстрованих отримають повідомлення."),
    ],
)
def test_counted_texts_for_administrators_and_coordinators(
    catalogues: Catalogues, forms: tuple[str, str], language: str, n: int, expected: str
) -> None:
    """The announcement's recipients, /stats' items, a postponement's registrants."""
    text = catalogues.get(language).ngettext(*forms, n)
    assert text.format(count=n, n=n, start="A", end="B") == expected
