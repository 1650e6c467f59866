"""The web view's texts are in every catalogue: those of its templates too, which the
catalogue test of the Python sources (tests/unit/test_catalogues.py) does not read. Each is
translated with the same placeholders, so no page shows German to an English reader or a
broken `{placeholder}`; and `make i18n` extracts the templates (babel.cfg), so that updating
the catalogues keeps these translations."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from testkit.support import ROOT

LOCALES = ROOT / "handlers" / "locales"
TEMPLATES = ROOT / "bot" / "web" / "templates"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
SHIPPED = sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir())


@cache
def web_texts() -> dict[str, tuple[str, ...]]:
    """Every marked text of the web view (templates, bot/web, handlers/web) by msgid."""
    found: dict[str, tuple[str, ...]] = {}
    sources = (
        (TEMPLATES, [("**.html", "jinja2")]),
        (ROOT / "bot" / "web", [("**.py", "python")]),
        (ROOT / "handlers" / "web", [("**.py", "python")]),
    )
    for directory, method_map in sources:
        for _, _, message, _, _ in extract_from_dir(
            directory, method_map=method_map, keywords=KEYWORDS
        ):
            ids = message if isinstance(message, tuple) else (message,)
            found[ids[0]] = ids
    return found


def catalogue(path: Path, language: str | None = None) -> Catalog:
    with open(path, "rb") as handle:
        return read_po(handle, locale=language)


def test_the_templates_hold_texts_to_translate() -> None:
    texts = web_texts()
    assert "Zum Inhalt springen" in texts and "Der Person antworten" in texts


def test_the_template_catalogue_holds_every_text_of_the_web_view() -> None:
    template = {
        m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(LOCALES / "mitreden.pot")
    }
    missing = set(web_texts()) - template
    assert not missing, sorted(missing)[:5]


@pytest.mark.parametrize("language", SHIPPED)
def test_every_web_text_is_translated(language: str) -> None:
    found = catalogue(LOCALES / language / "LC_MESSAGES" / "mitreden.po", language)
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in found if m.id}
    for msgid, ids in web_texts().items():
        message = entries.get(msgid)
        assert message is not None and not message.fuzzy, (language, msgid)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(strings) == (found.num_plurals if len(ids) == 2 else 1), (language, msgid)
        # Placeholders are checked for every entry by tests/unit/test_catalogues.py.
        assert all(strings), (language, msgid)


def test_make_i18n_extracts_the_templates() -> None:
    mapping = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    assert "[jinja2: **/templates/**.html]" in mapping and "[python: **.py]" in mapping
    assert "--mapping-file babel.cfg" in (ROOT / "Makefile").read_text(encoding="utf-8")
