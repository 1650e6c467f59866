"""People rather than contacts: a resident linked on Telegram and Matrix (/link) is one person
with two contacts. Surveys and polls count people (a response rate by unique people, an
answer once per person), and write to each person once, on the contact they wrote from last.

Functions of a session, run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.events.audience import REACHABLE
from storage.links import linked_ids_query
from storage.models import Contact

# The person a contact belongs to: the id its linked contacts share, else its own.
PERSON = func.coalesce(col(Contact.person_id), col(Contact.id))


def person_of(contact: Contact) -> int:
    assert contact.id is not None
    return contact.person_id or contact.id


def linked_ids(session: Session, contact_id: int) -> list[int]:
    """`contact_id` and the contacts linked to it."""
    return [i for i in session.exec(linked_ids_query(contact_id)).all() if i is not None]


def one_per_person(contacts: Iterable[Contact]) -> list[Contact]:
    """Of each person's contacts the one seen last, in the order of the contacts' ids."""
    chosen: dict[int, Contact] = {}
    for contact in contacts:
        person = person_of(contact)
        held = chosen.get(person)
        if held is None or (contact.last_seen_at, contact.id or 0) > (
            held.last_seen_at,
            held.id or 0,
        ):
            chosen[person] = contact
    return sorted(chosen.values(), key=lambda c: c.id or 0)


def reachable_contacts_of(session: Session, persons: Sequence[int]) -> dict[int, Contact]:
    """For each of `persons`, the reachable contact seen last (none for a person who
    stopped the bot's messages, blocked it, or is gone)."""
    if not persons:
        return {}
    contacts = session.exec(
        select(Contact).where(*REACHABLE, PERSON.in_(list(persons))).order_by(col(Contact.id))
    ).all()
    return {person_of(c): c for c in one_per_person(contacts)}


def persons_of(session: Session, contact_ids: Iterable[Any]) -> dict[int, int]:
    """contact id → person, for the contacts that still exist."""
    ids = sorted({int(i) for i in contact_ids if i is not None})
    if not ids:
        return {}
    rows = session.exec(select(Contact.id, PERSON).where(col(Contact.id).in_(ids))).all()
    return {int(contact): int(person) for contact, person in rows if contact is not None}
