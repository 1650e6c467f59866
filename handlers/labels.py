"""Names of kinds, states, fields and groups in the resident's language."""

from __future__ import annotations

from handlers.context import Turn
from handlers.i18n import N_
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


def kind_label(turn: Turn, kind: str) -> str:
    return turn._(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def state_label(turn: Turn, state: str) -> str:
    return turn._(STATE_LABELS[state]) if state in STATE_LABELS else state


def localized_name(turn: Turn, named: FieldOfAction | WorkingGroup | None, key: str) -> str:
    """The configured name in the resident's language, else the German name, else the key."""
    if named is None:
        return key
    return named.names.get(turn.language) or named.name
