"""Recommendations (suggestions) and what became of them, for the year report and `/outcomes`.

An item's outcome is the stance its working group took last: implemented or declined stays the
outcome when the item is closed afterwards. Both the year's list and the decisions across all
years read that stance from the history here (the report's other figures: storage.report).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.models import Contact, FeedbackItem, ItemEvent, ItemKind, ItemState

# The states in which a recommendation has an outcome the working group decided on.
DECIDED_STATES = (ItemState.IMPLEMENTED, ItemState.DECLINED)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A suggestion and what became of it; `note` is the working group's reason, the text
    given with its latest change of state."""

    reference: str
    created_at: datetime
    field_key: str
    group_key: str
    state: str
    text: str
    note: str | None
    decided_at: datetime | None
    language: str = ""  # the item's language (its author's)
    # The working group's latest answer to the resident (/reply), and when it was given.
    answer: str | None = None
    answered_at: datetime | None = None
    # What names the author (display name, account id), only so that a published text can
    # mask it; never shown.
    author_names: tuple[str, ...] = ()


def _stance_changes(item_filter: Any) -> list[Any]:
    """The changes of state other than closing of the items `item_filter` selects: what the
    working group decided stays its outcome when the item is closed afterwards."""
    return [
        col(FeedbackItem.id) == col(ItemEvent.item_id),
        item_filter,
        col(ItemEvent.action) == "state",
        col(ItemEvent.state) != ItemState.CLOSED,
    ]


def _stances(item_filter: Any) -> Any:
    """Per item that `item_filter` selects, its latest stance (see `_stance_changes`)."""
    return (
        select(func.max(ItemEvent.id).label("event_id"), col(ItemEvent.item_id).label("item_id"))
        .where(*_stance_changes(item_filter))
        .group_by(col(ItemEvent.item_id))
        .subquery()
    )


def _outcome(state: str, stance: str | None) -> str:
    """An item's outcome: its state, or for a closed item the decision made before."""
    if state == ItemState.CLOSED and stance in DECIDED_STATES:
        return str(stance)
    return state


def _decided_filter(field_key: str | None) -> Any:
    conditions = [
        col(FeedbackItem.kind) == ItemKind.SUGGESTION,
        col(FeedbackItem.state).in_([str(s) for s in (*DECIDED_STATES, ItemState.CLOSED)]),
    ]
    if field_key is not None:
        conditions.append(col(FeedbackItem.field_key) == field_key)
    return and_(*conditions)


def year_recommendations(
    session: Session, in_year: Any, *, texts: bool = True
) -> list[Recommendation]:
    """Every suggestion of the year (`in_year` selects its items) with its outcome, the
    working group's latest answer, and its author's names for masking; without `texts`
    (only to count outcomes) no text, reason, answer or name is read. The stances and
    answers are read in a query of their own and matched here: joined to the grouped history,
    PostgreSQL without fresh statistics (after a restore) re-aggregated the history once per
    suggestion."""
    suggestion = and_(in_year, col(FeedbackItem.kind) == ItemKind.SUGGESTION)
    history = session.exec(
        select(
            col(ItemEvent.item_id),
            col(ItemEvent.state),
            col(ItemEvent.text) if texts else literal(None),
            col(ItemEvent.at),
        )
        .where(*_stance_changes(suggestion))
        .order_by(col(ItemEvent.id))
    )
    stances = {int(item_id): (state, text, at) for item_id, state, text, at in history}
    if not texts:
        return _outcomes_only(session, suggestion, stances)
    replies = session.exec(
        select(col(ItemEvent.item_id), col(ItemEvent.text), col(ItemEvent.at))
        .where(
            col(FeedbackItem.id) == col(ItemEvent.item_id),
            suggestion,
            col(ItemEvent.action) == "reply",
        )
        .order_by(col(ItemEvent.id))
    )
    answers = {int(item_id): (text, at) for item_id, text, at in replies}
    authors = select(FeedbackItem.contact_id).where(suggestion)
    names = {
        int(contact_id): tuple(n for n in (name, user) if n)
        for contact_id, name, user in session.execute(
            core_select(col(Contact.id), col(Contact.display_name), col(Contact.user_id)).where(
                col(Contact.id).in_(authors)
            )
        )
    }
    item = FeedbackItem
    query = (
        core_select(
            *(
                col(c)
                for c in (
                    item.id,
                    item.reference,
                    item.created_at,
                    item.field_key,
                    item.group_key,
                    item.state,
                    item.text,
                    item.language,
                    item.contact_id,
                )
            )
        )
        .where(suggestion)
        .order_by(col(item.created_at), col(item.id))
    )
    recommendations = []
    for row in session.execute(query):
        item_id, reference, created, field, group, state, text, language, author = row
        stance, note, at = stances.get(int(item_id), (None, None, None))
        answer, answered_at = answers.get(int(item_id), (None, None))
        outcome = _outcome(state, stance)
        decided = at if outcome in DECIDED_STATES else None
        recommendations.append(
            Recommendation(
                reference,
                created,
                field,
                group,
                outcome,
                text,
                note,
                decided,
                language,
                answer,
                answered_at,
                names.get(int(author), ()) if author is not None else (),
            )
        )
    return recommendations


def _outcomes_only(
    session: Session, suggestion: Any, stances: dict[int, tuple[Any, Any, Any]]
) -> list[Recommendation]:
    """The year's suggestions with their outcome and field only (texts left empty)."""
    item = FeedbackItem
    query = core_select(
        col(item.id), col(item.reference), col(item.created_at), col(item.field_key),
        col(item.group_key), col(item.state), col(item.language),
    ).where(suggestion)  # fmt: skip
    found = []
    for item_id, reference, created, field, group, state, language in session.execute(query):
        stance, _note, at = stances.get(int(item_id), (None, None, None))
        outcome = _outcome(state, stance)
        decided = at if outcome in DECIDED_STATES else None
        found.append(
            Recommendation(reference, created, field, group, outcome, "", None, decided, language)
        )
    return found


def decided_recommendations(
    session: Session, field_key: str | None, limit: int, before_id: int | None
) -> list[tuple[int, Recommendation]]:
    """The newest decisions first: one row per recommendation, its latest decision."""
    stances = _stances(_decided_filter(field_key))
    query = (
        core_select(
            stances.c.event_id,
            FeedbackItem,
            col(ItemEvent.state),
            col(ItemEvent.text),
            col(ItemEvent.at),
        )
        .join(stances, stances.c.item_id == col(FeedbackItem.id))
        .join(ItemEvent, col(ItemEvent.id) == stances.c.event_id)
        .where(col(ItemEvent.state).in_([str(s) for s in DECIDED_STATES]))
        .order_by(stances.c.event_id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(stances.c.event_id < before_id)
    return [
        (
            int(event_id),
            Recommendation(
                i.reference, i.created_at, i.field_key, i.group_key, stance, i.text, text, at
            ),
        )
        for event_id, i, stance, text, at in session.execute(query).all()
    ]


def decided_counts(session: Session) -> dict[tuple[str, str], int]:
    """(field, outcome) → how many recommendations ended so, over all years."""
    stances = _stances(_decided_filter(None))
    query = (
        select(FeedbackItem.field_key, ItemEvent.state, func.count())
        .join(stances, stances.c.item_id == col(FeedbackItem.id))
        .join(ItemEvent, col(ItemEvent.id) == stances.c.event_id)
        .where(col(ItemEvent.state).in_([str(s) for s in DECIDED_STATES]))
        .group_by(col(FeedbackItem.field_key), col(ItemEvent.state))
    )
    return {(str(f), str(s)): int(n) for f, s, n in session.exec(query).all()}
