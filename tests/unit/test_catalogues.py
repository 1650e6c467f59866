"""Every resident-facing text is extracted and translated in every shipped catalogue, with
the same placeholders, so no language shows German or a broken `{placeholder}`."""

from __future__ import annotations

import gettext
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "handlers" / "locales"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
SHIPPED = sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir())
# The /language confirmation is written in the language just chosen, so each catalogue may name
# itself in the case its sentence needs ("українською", "по-русски") instead of the {language}
# name in the nominative ("Українська").
NAMES_ITSELF = "Ich schreibe Ihnen ab jetzt auf {language}."


@cache
def _extracted() -> dict[str, tuple[str, ...]]:
    """Every marked text of the source by its German msgid: (msgid,) or, for a counted text
    (ngettext), (singular, plural)."""
    found: dict[str, tuple[str, ...]] = {}
    for directory in ("handlers", "bot"):
        for _, _, message, _, _ in extract_from_dir(ROOT / directory, keywords=KEYWORDS):
            ids = _ids(message)
            found[ids[0]] = ids
    return found


def _source_messages() -> set[str]:
    return set(_extracted())


def _catalogue(language: str) -> Catalog:
    with open(LOCALES / language / "LC_MESSAGES" / "mitreden.po", "rb") as handle:
        return read_po(handle, locale=language)


def _ids(message_id: str | tuple[str, ...]) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (message_id,)


def test_template_holds_every_text_of_the_source() -> None:
    with open(LOCALES / "mitreden.pot", "rb") as handle:
        template = {_ids(m.id)[0] for m in read_po(handle) if m.id}
    missing = _source_messages() - template
    assert not missing, f"run `make i18n`; not extracted: {sorted(missing)[:5]}"


@pytest.mark.parametrize("language", SHIPPED)
def test_catalogue_translates_every_text_with_the_same_placeholders(language: str) -> None:
    catalogue = _catalogue(language)
    source = _source_messages()
    translated = {_ids(m.id)[0]: m for m in catalogue if m.id}
    untranslated = [text for text in source if not _strings(translated.get(text))]
    assert not untranslated, f"{language}: untranslated {untranslated[:5]}"
    single = single_number_forms(catalogue)
    for message in translated.values():
        ids = _ids(message.id)
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for index, string in enumerate(_strings(message)):
            found = set(PLACEHOLDER.findall(string))
            allowed = [wanted, *_without_count(ids, wanted, index in single and len(ids) == 2)]
            assert found in allowed, (language, message.id, string)


def single_number_forms(catalogue: Catalog) -> set[int]:
    """The plural forms that `catalogue`'s Plural-Forms give to one number only: Arabic's
    "one" (1) and "two" (2), the singular of German and English (1)."""
    plural = gettext.c2py(catalogue.plural_expr)
    numbers: dict[int, set[int]] = {}
    for n in range(1000):
        numbers.setdefault(plural(n), set()).add(n)
    return {form for form, ns in numbers.items() if len(ns) == 1}


def count_placeholder(singular: str, plural: str) -> str | None:
    """The placeholder that carries the count: the last one before the German forms part
    ("{days} Tag" / "{days} Tage")."""
    parted = next(
        (i for i, (one, other) in enumerate(zip(singular, plural, strict=False)) if one != other),
        min(len(singular), len(plural)),
    )
    found = PLACEHOLDER.findall(singular[:parted])
    return found[-1] if found else None


def _without_count(ids: tuple[str, ...], wanted: set[str], single: bool) -> list[set[str]]:
    """The other placeholder sets a translation may have: a form for one number may leave the
    count out when its word says the number (Arabic "يومان", two days); the /language
    confirmation may name its own language."""
    allowed = []
    if single:
        allowed.append(wanted - {count_placeholder(ids[0], ids[1])})
    if ids[0].startswith(NAMES_ITSELF):
        allowed.append(wanted - {"{language}"})
    return allowed


def _strings(message: object) -> list[str]:
    if message is None:
        return []
    value = getattr(message, "string", "")
    strings = list(value) if isinstance(value, tuple) else [value]
    return strings if all(strings) else []


def test_a_counted_text_has_the_same_placeholders_in_singular_and_plural() -> None:
    for ids in _extracted().values():
        if len(ids) == 2:
            assert set(PLACEHOLDER.findall(ids[0])) == set(PLACEHOLDER.findall(ids[1])), ids


@pytest.mark.parametrize("language", SHIPPED)
def test_a_counted_text_has_every_plural_form_with_the_same_placeholders(language: str) -> None:
    """Counted in the source means counted in the catalogue, with as many non-empty forms as
    its Plural-Forms header says; a text translated as a plain entry would show German."""
    catalogue = _catalogue(language)
    entries = {_ids(m.id)[0]: m for m in catalogue if m.id}
    for msgid, ids in _extracted().items():
        message = entries.get(msgid)
        assert message is not None, f"{language}: run `make i18n`; missing {msgid!r}"
        assert _ids(message.id) == ids, f"{language}: counted differently: {msgid!r}"
        if len(ids) == 1:
            continue
        forms = message.string
        assert isinstance(forms, tuple) and len(forms) == catalogue.num_plurals, (language, ids)
        wanted = set(PLACEHOLDER.findall(msgid))
        single = single_number_forms(catalogue)
        for index, form in enumerate(forms):
            assert form, f"{language}: form {index} of {msgid!r} is empty"
            allowed = [wanted, *_without_count(ids, wanted, index in single)]
            assert set(PLACEHOLDER.findall(form)) in allowed, (language, msgid, index, form)


@pytest.mark.parametrize("language", SHIPPED)
def test_no_translation_is_fuzzy(language: str) -> None:
    """`make catalogs` compiles fuzzy entries too, so a guessed translation would ship."""
    fuzzy = [_ids(m.id)[0] for m in _catalogue(language) if m.id and m.fuzzy]
    assert not fuzzy, f"{language}: check and unmark {fuzzy[:5]}"


def test_the_shipped_languages_include_english() -> None:
    assert "en" in SHIPPED
