"""Every shipped language can be chosen, and a resident who chose it reads every text of every
flow in it: no German source text, field and group names from the configuration in that
language, dates formatted for it. The platform's language code preselects the language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.app import App
from bot.config import FieldConfig, GroupConfig, Settings, load_settings
from handlers.i18n import (
    LANGUAGE_NAMES,
    SOURCE_LANGUAGE,
    Catalogues,
    babel_locale,
    format_moment,
)
from handlers.menu import command_menu
from handlers.messages import FILE_TOO_LARGE, Incoming, Reply
from handlers.residents.account import LANGUAGE_PAYLOAD
from storage.models import Contact
from testkit.support import (
    CORA,
    EXAMPLE_CONFIG,
    FakeClock,
    Resident,
    outbox_rows,
    photo,
    rows,
)
from tests.event_support import add_round_table, berlin

LOCALES = Path(__file__).resolve().parents[2] / "handlers" / "locales"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
LANGUAGES = load_settings(EXAMPLE_CONFIG, environ={}).bot.languages
TRANSLATED = [language for language in LANGUAGES if language != SOURCE_LANGUAGE]
REF = "F-2026-0001"
SAMPLE = "Abendkurse bitte"  # what the resident writes; no text of the bot
FSI, PDI = "\u2068", "\u2069"
PLURALS = {"de_simple": 2, "en": 2, "tr": 2, "ar": 6, "uk": 3, "ru": 3}
CONFIRMED = (
    "Ich schreibe Ihnen ab jetzt auf {language}. Schicken Sie mir einfach Ihre Rückmeldung als "
    "Nachricht."
)


def _catalogue(language: str) -> Catalog:
    with open(LOCALES / language / "LC_MESSAGES" / "mitreden.po", "rb") as handle:
        return read_po(handle, locale=language)


def _template() -> Catalog:
    with open(LOCALES / "mitreden.pot", "rb") as handle:
        return read_po(handle)


def _strings(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


MSGIDS = [text for m in _template() if m.id for text in _strings(m.id)]
# The German pieces between placeholders that are long enough to be recognised in a reply.
GERMAN = {
    piece.strip()
    for text in MSGIDS
    for piece in PLACEHOLDER.split(text)
    if len(piece.strip()) > 12
}


class Language:
    """What a reply in one language may and may not contain."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.kept: set[str] = set(GERMAN)
        self.untranslated: set[str] = set()
        if language == SOURCE_LANGUAGE:
            return
        catalogue = _catalogue(language)
        translations = [s for m in catalogue if m.id for s in _strings(m.string)]
        joined = "\n".join(translations)
        # German pieces a translation keeps on purpose (plain German repeats simple sentences).
        self.kept = {piece for piece in GERMAN if piece in joined}
        self.untranslated = {
            text
            for m in catalogue
            if m.id
            for text, string in zip(_strings(m.id), _strings(m.string), strict=False)
            if string != text
        }

    def german_in(self, text: str) -> list[str]:
        """The German source texts `text` shows although this language translates them."""
        if self.language == SOURCE_LANGUAGE:
            return []
        found = [piece for piece in GERMAN - self.kept if piece in text]
        if text.strip() in self.untranslated:
            found.append(text.strip())
        return sorted(set(found))


class Walker(Resident):
    """A resident whose every turn is a few seconds after the last (no flood guard), and who
    checks every reply against the language."""

    def __init__(
        self, app: App, clock: FakeClock, name: str, language: Language, **options: Any
    ) -> None:
        super().__init__(app.handle, name, **options)
        self.clock = clock
        self.language = language
        self.checked = True

    async def send(self, incoming: Incoming) -> list[Reply]:
        self.clock.advance(timedelta(seconds=4))
        replies = await super().send(incoming)
        if self.checked:
            for reply in replies:
                self.assert_in_language(reply.text)
                for choice in reply.choices:
                    self.assert_in_language(choice.label)
        return replies

    def assert_in_language(self, text: str) -> None:
        leftovers = self.language.german_in(text)
        assert not leftovers, f"{self.language.language}: German in {text!r}: {leftovers}"


def _platform_code(language: str) -> str:
    """What Telegram would send for someone who reads `language` ("de_simple" is chosen)."""
    return language.split("_", 1)[0]


def _localized(named: FieldConfig | GroupConfig, language: str) -> str:
    """The configured name a resident reading `language` sees (German without one)."""
    return named.names.get(language) or named.name


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_resident_reads_every_flow_in_the_chosen_language(
    coordination: App, clock: FakeClock, settings: Settings, language: str
) -> None:
    app = coordination
    tr = app.router.catalogues.get(language)
    _ = tr.gettext
    rosa = Walker(app, clock, "rosa", Language(language), language_code=_platform_code(language))

    # /start: the greeting (in the preselected language) offers every language.
    rosa.checked = language != "de_simple"  # plain German is chosen, never preselected
    await rosa.command("/start")
    assert rosa.choices == [LANGUAGE_NAMES[code] for code in LANGUAGES]
    payloads = [c.payload for r in rosa.replies for c in r.choices]
    assert payloads == [LANGUAGE_PAYLOAD + code for code in LANGUAGES]
    assert all(len(p.encode()) <= 64 for p in payloads), "Telegram's callback data limit"
    rosa.checked = True
    await rosa.press(LANGUAGE_NAMES[language])
    assert rosa.last_text == _(CONFIRMED).format(language=LANGUAGE_NAMES[language])
    (contact,) = await rows(app.db, Contact, Contact.user_id == "u-rosa")
    assert contact.language == language

    for command in ("/start", "/help", "/privacy", "/mine", "/status", "/cancel", "/language"):
        await rosa.command(command)
    assert rosa.choices == [LANGUAGE_NAMES[code] for code in LANGUAGES]

    # The feedback flow, with a file, a wrong answer and every button in the language.
    await rosa.attach(photo())
    await rosa.say(SAMPLE)
    kinds = [_(k) for k in ("Vorschlag", "Kritik", "Frage", "Lob")]
    assert rosa.choices == kinds
    kind_button = rosa.choice(kinds[0]).payload
    await rosa.say("x?")
    assert rosa.choices == kinds
    await rosa.press(kinds[0])
    fields = [_localized(f, language) for f in settings.fields]
    assert rosa.choices == fields
    await rosa.press(fields[0])
    assert rosa.choices == [_("Anonym bleiben"), _("Mit meinem Namen")]
    await rosa.press(_("Anonym bleiben"))
    assert fields[0] in rosa.last_text and SAMPLE in rosa.last_text
    assert rosa.choices == [_("Abschicken"), _("Abbrechen")]
    await rosa.press(_("Abschicken"))
    (bildung,) = [g for g in settings.groups if g.key == "uag-bildung"]
    assert REF in rosa.last_text and _localized(bildung, language) in rosa.last_text

    # /status and /mine name the item, its field and group, with dates in the language.
    zone = ZoneInfo(settings.bot.timezone)
    submitted = format_moment(clock.now(), zone, language)
    await rosa.command(f"/status {REF}")
    details = rosa.last_text
    assert _localized(bildung, language) in details and fields[0] in details
    assert submitted in details
    if babel_locale(language) != SOURCE_LANGUAGE:
        assert format_moment(clock.now(), zone, SOURCE_LANGUAGE) not in details
    await rosa.command("/mine")
    assert REF in rosa.last_text and submitted in rosa.last_text
    await rosa.command("/status F-2026-0999")
    await rosa.command("/status F-26")

    # Bad input: an old button, an unknown command, too long, empty, unsupported, too big.
    await rosa.press_payload(kind_button)
    await rosa.press_payload(LANGUAGE_PAYLOAD + "xx")
    await rosa.command("/frobnicate")
    await rosa.say("x" * (settings.bot.max_text_length + 1))
    await rosa.say("   ")
    await rosa.send(rosa.incoming(unsupported="sticker"))
    await rosa.send(rosa.incoming(unsupported=FILE_TOO_LARGE))
    await rosa.command("/feedback")
    await rosa.attach(*[photo(f"p{n}.jpg") for n in range(settings.bot.max_attachments_per_item)])
    await rosa.attach(photo("one-too-many.jpg"))
    await rosa.command("/cancel")
    assert all(r.text for r in rosa.transcript), "every answer says something"

    # What the working group does reaches the resident in the language.
    cora = Resident(app.handle, CORA.removeprefix("telegram:u-"))
    for command in (
        f"/state {REF} in_progress",
        f"/reply {REF} Der Kurs startet im September.",
        f"/state {REF} declined Kein Geld",
        f"/assign {REF} uag-arbeit",
    ):
        clock.advance()
        await cora.command(command)
    await rosa.command(f"/reply {REF} {SAMPLE}")
    notices = [row.payload["text"] for row in await outbox_rows(app.db, "c-rosa")]
    assert len(notices) == 4, notices
    for text in notices:
        rosa.assert_in_language(text)
    (arbeit,) = [g for g in settings.groups if g.key == "uag-arbeit"]
    assert _localized(arbeit, language) in notices[-1]

    # The flood warning, the failure answer and the command menu.
    flood = Walker(app, clock, "flo", Language(language), language_code=_platform_code(language))
    flood.checked = False
    await flood.command(f"/language {language}")
    flood.checked = True
    flood.clock = FakeClock()  # the walker's own clock does not move app time any more
    for _n in range(settings.bot.flood_messages_per_minute + 1):
        await flood.say(SAMPLE)
    warning = _(
        "Sie schicken sehr viele Nachrichten in kurzer Zeit. Bitte warten Sie eine Minute; "
        "Nachrichten bis dahin werden nicht bearbeitet."
    )
    assert [r.text for r in flood.transcript].count(warning) == 1, "the flood guard warns once"
    failure = app.router.failure_reply(rosa.incoming(language_code=language))
    rosa.assert_in_language(failure.text)
    for _name, description in command_menu(app.router.registry, tr):
        rosa.assert_in_language(description)


def test_platform_language_codes_match_the_shipped_languages() -> None:
    catalogues = Catalogues(LANGUAGES)
    assert {code: catalogues.match(code) for code in ("uk", "ru", "tr", "ar")} == {
        "uk": "uk",
        "ru": "ru",
        "tr": "tr",
        "ar": "ar",
    }
    assert catalogues.match("de-AT") == "de"
    assert catalogues.match("de") == "de"
    assert catalogues.match("en-GB") == "en"
    assert catalogues.match("uk-UA") == "uk"
    assert catalogues.match("de_simple") == "de_simple"  # /language de_simple
    assert catalogues.match("fr") is None
    assert catalogues.match(None) is None


@pytest.mark.parametrize(("code", "language"), [("uk", "uk"), ("de-AT", "de"), ("ar", "ar")])
async def test_the_platform_language_is_preselected(
    app: App, clock: FakeClock, code: str, language: str
) -> None:
    olena = Walker(app, clock, "olena", Language(language), language_code=code)

    await olena.command("/start")

    (contact,) = await rows(app.db, Contact, Contact.user_id == "u-olena")
    assert contact.language == language
    welcome = app.router.catalogues.get(language).gettext(
        "Willkommen bei mitreden! Hier können Sie der Stadt jederzeit Vorschläge, Kritik, "
        "Fragen oder Lob zum Integrationskonzept schicken. Ihre Rückmeldung geht an die "
        "Arbeitsgruppe, die für das Handlungsfeld zuständig ist, und Sie erfahren, was "
        "daraus wird.\n\nSchreiben Sie einfach los, oder wählen Sie zuerst Ihre Sprache."
    )
    assert olena.replies[0].text == welcome


def test_plain_german_is_formatted_as_german_and_english_as_british() -> None:
    assert babel_locale("de_simple") == "de"
    assert [babel_locale(code) for code in ("de", "en", "tr", "ar", "uk", "ru")] == [
        "de",
        "en_GB",
        "tr",
        "ar",
        "uk",
        "ru",
    ]


def test_every_language_is_shipped_named_and_used_for_fields_and_groups(
    settings: Settings,
) -> None:
    shipped = {p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir()}
    assert shipped == set(TRANSLATED)
    assert set(LANGUAGE_NAMES) == set(LANGUAGES)
    for named in (*settings.fields, *settings.groups):
        missing = [code for code in TRANSLATED if code != "de_simple" and code not in named.names]
        assert not missing, f"{named.key}: no name in {missing}"
        assert set(named.names) <= set(LANGUAGES), named.key


@pytest.mark.parametrize("language", TRANSLATED)
def test_plural_forms_fit_the_language(language: str) -> None:
    catalogue = _catalogue(language)
    assert catalogue.num_plurals == PLURALS[language]
    plurals = [m for m in catalogue if m.id and isinstance(m.id, tuple)]
    assert plurals
    for message in plurals:
        assert len(message.string) == PLURALS[language] and all(message.string), message.id


def test_arabic_keeps_placeholders_commands_and_references_in_order() -> None:
    """Latin-script values inside right-to-left text are isolated (U+2068 … U+2069)."""
    latin = re.compile(r"\{[a-z_]*\}|/\{?[a-z_]+\}?|F-\d{4}-\d{4}")
    for message in _catalogue("ar"):
        if not message.id:
            continue
        for string in _strings(message.string):
            outside = re.sub(f"{FSI}[^{PDI}]*{PDI}", "", string)
            assert not latin.findall(outside), (message.id, string)
            assert string.count(FSI) == string.count(PDI), message.id


# ---- what the reviewer read as a native speaker -------------------------------------------

CONFIRMATIONS = {
    "uk": (
        "Відтепер я писатиму вам українською. Просто надішліть мені ваше звернення повідомленням.",
        "Що це за звернення?",
    ),
    "ru": (
        "Теперь я буду писать вам по-русски. Просто отправьте мне ваше обращение сообщением.",
        "Что это за обращение?",
    ),
    "ar": (
        "سأكتب لكم من الآن فصاعدًا باللغة العربية. يكفي أن ترسلوا إليّ ملاحظتكم في رسالة.",
        "ما نوع هذه الملاحظة؟",
    ),
    "de_simple": (
        "Ab jetzt schreibe ich Ihnen in Einfacher Sprache. Schicken Sie mir einfach Ihre "
        "Rückmeldung.",
        "Was für eine Rückmeldung ist das?",
    ),
}


@pytest.mark.parametrize("language", sorted(CONFIRMATIONS))
async def test_the_language_is_confirmed_in_its_own_words_and_the_kind_asked_plainly(
    app: App, clock: FakeClock, language: str
) -> None:
    """ "Відтепер я писатиму вам українською", not "такою мовою: Українська"; "Що це за
    звернення?", not "Якого виду ваше звернення?"."""
    confirmed, kind_question = CONFIRMATIONS[language]
    olena = Walker(app, clock, "olena", Language(language), language_code=language[:2])

    await olena.command("/language")
    await olena.press(LANGUAGE_NAMES[language])
    assert olena.last_text == confirmed

    await olena.say(SAMPLE)
    assert olena.last_text == kind_question


async def test_an_arabic_resident_is_addressed_in_the_polite_plural_at_an_event(
    coordination: App, clock: FakeClock
) -> None:
    """Registration, its code and the question whether they come: أنتم, not أنت."""
    app = coordination
    clock.set(berlin(2026, 10, 1, 9, 0))
    await add_round_table(app)
    amal = Walker(app, clock, "amal", Language("ar"), language_code="ar")

    await amal.command("/events")
    await amal.press(amal.choices[0])
    if amal.choices and amal.choices[0] != "تسجيل":  # the workshop, if the event has them
        await amal.press(amal.choices[0])
    await amal.press("تسجيل")
    registered = amal.last_text
    assert registered.startswith("تم تسجيلكم في «") and "رمزكم: " in registered
    assert "رمزك:" not in registered and "تسجيلاتكم" in registered

    await amal.command("/myevents")
    assert amal.last_text.startswith("تسجيلاتكم:")


async def test_an_english_resident_reads_british_dates(app: App, clock: FakeClock) -> None:
    """ "5 Dec 2026, 07:07", not "Dec 5, 2026, 7:07 AM"; "Type:", not "Kind:"."""
    clock.set(datetime(2026, 12, 5, 6, 7, tzinfo=UTC))  # 07:07 in Berlin
    emma = Resident(app.handle, "emma", language_code="en")
    await emma.submit(
        SAMPLE,
        kind="Suggestion",
        field="Education and language",
        anonymity="Stay anonymous",
        confirm="Send",
    )

    await emma.command(f"/status {REF}")
    assert "Type: Suggestion\n" in emma.last_text
    assert "Received: 5 Dec 2026, 07:07\n" in emma.last_text
    await emma.command("/help")
    assert "/cancel – cancel the current step" in emma.last_text


async def test_plain_german_says_what_happens_and_spells_out_the_month(
    coordination: App, clock: FakeClock
) -> None:
    """The states say what happens ("Die Stadt macht das", "fertig bearbeitet", not
    "erledigt" and "beendet", which read alike); "5. Dezember 2026", not "5. Dez. 2026"."""
    app = coordination
    clock.set(datetime(2026, 12, 5, 6, 7, tzinfo=UTC))
    paul = Resident(app.handle, "paul", language_code="de")
    await paul.command("/language de_simple")
    await paul.submit(SAMPLE, field="Lernen und Sprache", anonymity="Ohne meinen Namen")
    cora = Resident(app.handle, CORA.removeprefix("telegram:u-"))

    await cora.command(f"/state {REF} implemented")
    clock.advance()
    await cora.command(f"/state {REF} closed")

    notices = [row.payload["text"] for row in await outbox_rows(app.db, "c-paul")]
    assert notices == [
        f"Es gibt Neues zu Ihrer Rückmeldung {REF}. Der Stand ist jetzt: Die Stadt macht das.",
        f"Es gibt Neues zu Ihrer Rückmeldung {REF}. Der Stand ist jetzt: fertig bearbeitet.",
    ]
    await paul.command(f"/status {REF}")
    assert "Stand: fertig bearbeitet\n" in paul.last_text
    assert "Angekommen: 5. Dezember 2026 07:07\n" in paul.last_text


async def test_arabic_lists_are_separated_by_the_arabic_comma(coordination: App) -> None:
    """The states a coordinator may type and the fields a resident may ask for: «،», not ","."""
    cora = Resident(coordination.handle, CORA.removeprefix("telegram:u-"), language_code="ar")
    await cora.command("/language ar")
    await cora.command(f"/state {REF}")
    states = "، ".join(["مستلمة", "قيد المعالجة", "تم الرد", "تم التنفيذ", "مرفوضة", "مغلقة"])
    assert f"الحالات: {FSI}{states}{PDI}." in cora.last_text

    await cora.command("/outcomes xyz")
    assert "، " in cora.last_text and ", " not in cora.last_text


async def test_a_turkish_resident_is_addressed_in_one_form_and_not_as_a_citizen(
    app: App, clock: FakeClock
) -> None:
    """/help in the "siz" imperative throughout (kaydolun, alın, silin); "Üzgünüz, bir hata
    oluştu" when something breaks; one quotation-mark style."""
    ayse = Walker(app, clock, "ayse", Language("tr"), language_code="tr")
    await ayse.command("/help")
    help_text = ayse.last_text
    for line in (
        "/cancel – mevcut adımı iptal edin",
        "/events – etkinliklere kaydolun",
        "/docs – belgeleri yeniden alın",
        "/forget – verilerinizi silin",
    ):
        assert line in help_text
    assert "– kaydol\n" not in help_text and "silmek" not in help_text and '"' not in help_text

    failure = app.router.failure_reply(ayse.incoming(language_code="tr"))
    assert failure.text == "Üzgünüz, bir hata oluştu. Lütfen biraz sonra tekrar deneyin."
