"""Who an event's messages reach: the reachable contacts registered for it. The planner's
fan-out (storage.events.registrations) and a change of schedule (storage.events.store) both
write to them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from storage.events.models import Registration
from storage.models import Contact

# A contact the bot can write to on its own: not blocked, not stopped, a private chat known.
REACHABLE = (
    col(Contact.blocked_at).is_(None),
    col(Contact.stopped_at).is_(None),
    col(Contact.chat_id) != "",
)


def registrants(
    session: Session, event_id: int, states: Sequence[str]
) -> list[tuple[Contact, Registration | None]]:
    """Reachable contacts with a registration of the event in one of `states`."""
    query = (
        select(Contact, Registration)
        .join(Registration, col(Registration.contact_id) == col(Contact.id))
        .where(
            *REACHABLE,
            col(Registration.event_id) == event_id,
            col(Registration.state).in_(states),
        )
        .order_by(col(Registration.id))
    )
    return [(c, r) for c, r in session.exec(query).all()]
