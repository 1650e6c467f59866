"""Each language names each key term with one word, written down in its glossary
(`handlers/locales/<code>/glossary.toml`): where a German text names a term, its translation
uses the glossary's word; no translation uses a word the glossary rules out ("відгук" for an
item, "лист ожидания", "vatandaş", "Workshop" in plain German); a term's own label (a state's
name) is the glossary's word. A reader meets the same word for the same thing everywhere."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from handlers.labels import STATE_LABELS
from storage.models import ItemState

LOCALES = Path(__file__).resolve().parents[2] / "handlers" / "locales"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
SHIPPED = sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir())
# The terms every glossary names, as the issue about consistent wording listed them.
KEY_TERMS = {
    "feedback_item",
    "working_group",
    "field_of_action",
    "coordinator",
    "registration",
    "waitlist",
    "workshop",
    *(f"state_{state.value}" for state in ItemState),
}


@dataclass(frozen=True)
class Term:
    name: str
    word: str
    german: re.Pattern[str] | None
    use: re.Pattern[str]
    avoid: tuple[re.Pattern[str], ...]
    avoid_here: tuple[re.Pattern[str], ...]
    label: str | None


@cache
def glossary(language: str) -> dict[str, Term]:
    with open(LOCALES / language / "glossary.toml", "rb") as handle:
        raw = tomllib.load(handle)
    terms = {}
    for name, entry in raw.items():
        word = entry.get("word", "")
        terms[name] = Term(
            name,
            word,
            re.compile(entry["german"]) if "german" in entry else None,
            _pattern(entry.get("use", re.escape(word))),
            tuple(_pattern(p) for p in entry.get("avoid", ())),
            tuple(_pattern(p) for p in entry.get("avoid_here", ())),
            entry.get("label"),
        )
    return terms


def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression, re.IGNORECASE)


@cache
def translations(language: str) -> dict[str, tuple[str, ...]]:
    """Every entry of the catalogue: the German (singular) msgid and its translations, each
    without its placeholders (a `{waitlisted}` is not a word)."""
    with open(LOCALES / language / "LC_MESSAGES" / "mitreden.po", "rb") as handle:
        catalogue = read_po(handle, locale=language)
    found = {}
    for message in catalogue:
        if not message.id:
            continue
        msgid = str(message.id[0] if isinstance(message.id, tuple) else message.id)
        value = message.string
        strings = [str(s) for s in value] if isinstance(value, (tuple, list)) else [str(value)]
        found[PLACEHOLDER.sub("", msgid)] = tuple(PLACEHOLDER.sub("", s) for s in strings)
    return found


@pytest.mark.parametrize("language", SHIPPED)
def test_every_language_has_a_glossary_of_the_key_terms(language: str) -> None:
    terms = glossary(language)
    assert set(terms) >= KEY_TERMS, f"{language}: no word for {sorted(KEY_TERMS - set(terms))}"
    assert all(term.word for term in terms.values() if term.name in KEY_TERMS)


@pytest.mark.parametrize("language", SHIPPED)
def test_where_the_german_names_a_term_the_translation_uses_the_glossarys_word(
    language: str,
) -> None:
    missing = [
        (term.name, msgid, string)
        for term in glossary(language).values()
        if term.german is not None
        for msgid, strings in translations(language).items()
        if term.german.search(msgid)
        for string in strings
        if not term.use.search(string)
    ]
    assert not missing, f"{language}: {len(missing)} without the glossary's word: {missing[:3]}"


@pytest.mark.parametrize("language", SHIPPED)
def test_where_the_german_names_a_term_the_translation_uses_no_other_word(
    language: str,
) -> None:
    """ "im Median" is not "im Durchschnitt": a median is not translated as a mean."""
    found = [
        (term.name, avoided.pattern, string)
        for term in glossary(language).values()
        if term.german is not None
        for msgid, strings in translations(language).items()
        if term.german.search(msgid)
        for avoided in term.avoid_here
        for string in strings
        if avoided.search(string)
    ]
    assert not found, f"{language}: {len(found)} other words for a term: {found[:3]}"


@pytest.mark.parametrize("language", SHIPPED)
def test_no_translation_uses_a_word_the_glossary_rules_out(language: str) -> None:
    found = [
        (term.name, avoided.pattern, string)
        for term in glossary(language).values()
        for avoided in term.avoid
        for strings in translations(language).values()
        for string in strings
        if avoided.search(string)
    ]
    assert not found, f"{language}: {len(found)} ruled-out words: {found[:3]}"


@pytest.mark.parametrize("language", SHIPPED)
def test_a_terms_label_is_the_glossarys_word(language: str) -> None:
    labelled = [term for term in glossary(language).values() if term.label is not None]
    assert {t.label for t in labelled} >= set(STATE_LABELS.values()), "every state is named"
    for term in labelled:
        assert term.label is not None
        assert translations(language)[term.label] == (term.word,), (language, term.name)
