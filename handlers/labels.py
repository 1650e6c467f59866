"""Names of kinds, states, fields and groups in the resident's language."""

from __future__ import annotations

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


def localized_name(speaker: Speaker, named: FieldOfAction | WorkingGroup | None, key: str) -> str:
    """The configured name in the speaker's language, else the German name, else the key."""
    if named is None:
        return key
    return named.names.get(speaker.language) or named.name
