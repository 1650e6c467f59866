"""Names of kinds, states, fields and groups in the resident's language."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from handlers.i18n import N_, Translator
from storage.models import FieldOfAction, ItemKind, ItemState, WorkingGroup

KIND_LABELS: dict[str, str] = {
    ItemKind.SUGGESTION: N_("Vorschlag"),
    ItemKind.CRITICISM: N_("Kritik"),
    ItemKind.QUESTION: N_("Frage"),
    ItemKind.PRAISE: N_("Lob"),
}

STATE_LABELS: dict[str, str] = {
    ItemState.RECEIVED: N_("eingegangen"),
    ItemState.IN_PROGRESS: N_("in Bearbeitung"),
    ItemState.ANSWERED: N_("beantwortet"),
    ItemState.IMPLEMENTED: N_("umgesetzt"),
    ItemState.DECLINED: N_("abgelehnt"),
    ItemState.CLOSED: N_("abgeschlossen"),
}


class Speaker(Protocol):
    """Anything that speaks one language: a `Turn`, or a `Voice` for proactive messages."""

    @property
    def language(self) -> str: ...

    @property
    def tr(self) -> Translator: ...


def kind_label(speaker: Speaker, kind: str) -> str:
    return speaker.tr.gettext(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def state_label(speaker: Speaker, state: str) -> str:
    return speaker.tr.gettext(STATE_LABELS[state]) if state in STATE_LABELS else state


def state_names(speaker: Speaker) -> list[str]:
    """The states' names in the speaker's language, in the workflow's order."""
    return [state_label(speaker, state) for state in ItemState]


# What stands between the names of a list: ", " in German, "، " (the Arabic comma) in Arabic.
LIST_SEPARATOR = N_(", ")


def name_list(speaker: Speaker, names: Iterable[str]) -> str:
    """`names` in a row, separated as the speaker's language separates a list.

    Not Babel's `format_list`, which writes "und" before the last name: these lists name
    what may be typed, one name between each two separators ("Status: eingegangen, …,
    abgeschlossen").
    """
    return speaker.tr.gettext(LIST_SEPARATOR).join(names)


def read_state(speaker: Speaker, text: str) -> tuple[str, str] | None:
    """The state named at the start of `text`, and the rest of `text` (a note), or None.

    A coordinator types a state's name in their own language or in German (understood from
    everyone), or its key ("in_progress", "in-progress", "inprogress"), in any case. A name of
    several words ("in Bearbeitung") is read whole; the longest name that fits wins. A comma
    or colon after the name ("abgelehnt: zu teuer") is not part of the note.
    """
    best: tuple[str, int] | None = None
    for state in ItemState:
        spellings = {
            state_label(speaker, state),
            STATE_LABELS[state],
            state.value,
            state.value.replace("_", "-"),
            state.value.replace("_", ""),
        }
        for name in spellings:
            words = r"\s+".join(re.escape(word) for word in name.split())
            found = re.match(rf"\s*{words}(?=\W|$)", text, re.IGNORECASE)
            if found is not None and (best is None or found.end() > best[1]):
                best = (state.value, found.end())
    if best is None:
        return None
    return best[0], text[best[1] :].lstrip(",;:").strip()


def localized_name(speaker: Speaker, named: FieldOfAction | WorkingGroup | None, key: str) -> str:
    """The configured name in the speaker's language, else the German name, else the key."""
    if named is None:
        return key
    return named.names.get(speaker.language) or named.name
