"""The states an item goes through and which changes are allowed."""

from __future__ import annotations

from storage.models import ItemState

S = ItemState
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.IN_PROGRESS, S.ANSWERED, S.IMPLEMENTED, S.DECLINED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.ANSWERED, S.IMPLEMENTED, S.DECLINED, S.CLOSED}),
    S.ANSWERED: frozenset({S.IN_PROGRESS, S.IMPLEMENTED, S.DECLINED, S.CLOSED}),
    S.IMPLEMENTED: frozenset({S.CLOSED}),
    S.DECLINED: frozenset({S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset({S.IN_PROGRESS}),
}
NEEDS_NOTE = frozenset({S.DECLINED})
# States in which someone still works on an item, so that a coordinator may take it on. A
# decided item (implemented, declined, closed) is not; a declined or closed one is reopened
# (in_progress) first.
TAKEABLE = frozenset({S.RECEIVED, S.IN_PROGRESS, S.ANSWERED})


def allowed_next(state: str) -> list[str]:
    """The states an item in `state` may move to, in the workflow's order."""
    targets = TRANSITIONS.get(state, frozenset())
    return [s for s in ItemState if s in targets]


def parse_state(word: str) -> str | None:
    """A state from a command argument: "in_progress", "in-progress" or "inprogress"."""
    normalized = word.strip().lower().replace("-", "_")
    for state in ItemState:
        if normalized in (state.value, state.value.replace("_", "")):
            return state.value
    return None
