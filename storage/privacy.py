"""Residents' rights in the database: everything stored about a contact (`/mydata`), erasing
it (`/forget`, and retention for contacts gone quiet), and anonymising old closed items.

An erasure on request is first written to the erasure journal (`storage.erasures`), outside
the database, so that it can be applied again after a backup from before it is restored
(`reapply_erasures`). Retention needs no record: it erases the restored contacts again at its
next run by the same rule.

Items kept as anonymous texts keep no name of their author: the caller's `Scrub` masks the
person's names in the item's text and in every text of its history, in the same transaction
that cuts the item from the person."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, update
from sqlmodel import Session, col, select

from storage.asking_models import PollAnswer, SurveyAnswer
from storage.db import Database
from storage.erasures import ErasureJournal, ErasureRecord
from storage.events.models import Registration
from storage.links import linked_ids_query
from storage.models import (
    Attachment,
    BotMessage,
    Contact,
    ConversationState,
    FeedbackItem,
    HandledMessage,
    ItemEvent,
    ItemState,
    OutboxMessage,
)

logger = logging.getLogger(__name__)

FINISHED = (ItemState.IMPLEMENTED, ItemState.DECLINED, ItemState.CLOSED)

# (a kept text, what names its author: display names and account ids) -> the text without
# them. The rule of what a name looks like in a text is the handlers' (handlers.public_text).
Scrub = Callable[[str, Sequence[str]], str]


@dataclass(frozen=True, slots=True)
class Erased:
    contacts: int = 0
    items_deleted: int = 0
    items_kept_anonymous: int = 0
    outbox_rows: int = 0
    texts_masked: int = 0  # item texts and history entries that named the person


@dataclass(frozen=True, slots=True)
class Reapplied:
    recorded: int  # erasures in the journal
    contacts: int  # contacts erased again: in the database although they had been erased


class PrivacyStore:
    def __init__(self, db: Database, journal: ErasureJournal | None = None) -> None:
        """`journal` records erasures on request; None (tests, tools) records none."""
        self._db = db
        self.journal = journal

    async def export(self, contact_id: int) -> dict[str, Any]:
        """Everything stored about the person, as plain JSON-ready values: this contact and
        the contacts linked to it (`/link`), which are the same person on other platforms."""

        def work(session: Session) -> dict[str, Any]:
            contact = session.get(Contact, contact_id)
            if contact is None:
                return {}
            ids = list(session.exec(linked_ids_query(contact_id)).all())
            linked = session.exec(
                select(Contact).where(col(Contact.id).in_(ids), col(Contact.id) != contact_id)
            ).all()
            items = session.exec(
                select(FeedbackItem)
                .where(col(FeedbackItem.contact_id).in_(ids))
                .order_by(col(FeedbackItem.id))
            ).all()
            exported = []
            for item in items:
                events = session.exec(
                    select(ItemEvent)
                    .where(ItemEvent.item_id == item.id)
                    .order_by(col(ItemEvent.id))
                ).all()
                files = session.exec(select(Attachment).where(Attachment.item_id == item.id)).all()
                exported.append(
                    {
                        **_plain(item, exclude={"contact_id", "assignee", "assignee_name"}),
                        "history": [
                            _plain(e, exclude={"actor", "actor_name", "item_id"})
                            for e in events
                            if e.action != "note"
                        ],
                        "attachments": [_plain(f, exclude={"data", "contact_id"}) for f in files],
                    }
                )
            state = session.get(ConversationState, contact_id)
            registrations = session.exec(
                select(Registration).where(col(Registration.contact_id).in_(ids))
            ).all()
            answers = {  # to the surveys after events, and to polls
                name: session.exec(select(table).where(col(table.contact_id).in_(ids))).all()
                for name, table in (("survey_answers", SurveyAnswer), ("poll_answers", PollAnswer))
            }
            return {
                "registrations": [_plain(r, exclude={"contact_id"}) for r in registrations],
                **{k: [_plain(a, exclude={"contact_id"}) for a in v] for k, v in answers.items()},
                "contact": _plain(contact),
                "linked_contacts": [_plain(c) for c in linked],
                "feedback": exported,
                "conversation": _plain(state) if state is not None else None,
            }

        return await self._db.run(work)

    async def erase_contact(
        self, contact_id: int, *, keep_items_anonymous: bool, scrub: Scrub, now: datetime
    ) -> Erased:
        """Erase the person, on every platform linked to this contact (`/link`), and every
        personal trace: platform ids, names, chat ids, files, messages to or about them.
        Their items are deleted, or kept as anonymous texts with the person's names masked
        by `scrub`.

        The erasure is written to the journal first: one that failed after it is done at
        the next `reapply_erasures`, as the person asked. A journal that cannot be written
        is logged as an error and does not hold the erasure up."""
        if self.journal is not None:
            await self._record(contact_id, keep_items_anonymous, now)

        def work(session: Session) -> Erased:
            ids = list(session.exec(linked_ids_query(contact_id)).all())
            return _erase(session, ids, keep_items_anonymous, scrub)

        return await self._db.run(work)

    async def _record(self, contact_id: int, keep_items_anonymous: bool, now: datetime) -> None:
        assert self.journal is not None
        query = select(Contact.id, Contact.created_at).where(
            col(Contact.id).in_(linked_ids_query(contact_id))
        )
        rows = await self._db.run(lambda session: list(session.exec(query).all()))
        records = [
            ErasureRecord(i, created, now, keep_items_anonymous) for i, created in rows if i
        ]
        try:
            await asyncio.to_thread(self.journal.add, records)
        except OSError as error:
            logger.error(
                "erasure of contact %s not recorded in %s (%s): a restore would bring it back",
                contact_id,
                self.journal.path,
                error.strerror or type(error).__name__,
            )

    async def reapply_erasures(self, *, scrub: Scrub) -> Reapplied:
        """Erase again every contact the journal says was erased and the database holds (a
        backup from before the erasure was restored): the same row, by number and creation
        time, in the same way (items deleted or kept anonymous, names masked by `scrub`)."""
        if self.journal is None:
            return Reapplied(0, 0)
        records = await asyncio.to_thread(self.journal.list_records)
        if not records:
            return Reapplied(0, 0)

        def work(session: Session) -> int:
            wanted = {r.contact_id for r in records}
            present = dict(
                session.exec(
                    select(Contact.id, Contact.created_at).where(col(Contact.id).in_(wanted))
                ).all()
            )
            erased = 0
            for keep in (False, True):
                ids = {
                    r.contact_id
                    for r in records
                    if r.keep_items_anonymous == keep and present.get(r.contact_id) == r.created_at
                }
                erased += _erase(session, sorted(ids), keep, scrub).contacts
            return erased

        contacts = await self._db.run(work)
        logger.info(
            "erasure journal %s: %d erasure(s) recorded, %d contact(s) erased again",
            self.journal.path,
            len(records),
            contacts,
        )
        return Reapplied(len(records), contacts)

    async def list_inactive(self, before: datetime) -> list[int]:
        """Contacts not seen since `before`: their personal data has outlived its purpose."""
        query = select(Contact.id).where(col(Contact.last_seen_at) < before)
        return await self._db.run(lambda session: [i for i in session.exec(query) if i])

    async def erase_inactive(self, before: datetime, *, scrub: Scrub) -> Erased:
        """Erase the contacts not seen since `before`; their items stay as anonymous texts,
        the person's names masked by `scrub`."""

        def work(session: Session) -> Erased:
            ids = [
                i
                for i in session.exec(select(Contact.id).where(col(Contact.last_seen_at) < before))
                if i
            ]
            return _erase(session, ids, keep_items_anonymous=True, scrub=scrub)

        return await self._db.run(work)

    async def list_finished_before(self, before: datetime) -> list[str]:
        """References of finished items, last changed before `before`, still linked to
        a person or carrying files."""
        return await self._db.run(lambda session: list(session.exec(_finished(before))))

    async def anonymise_finished(self, before: datetime, *, scrub: Scrub) -> int:
        """Cut finished items last changed before `before` from their authors: files gone,
        the authors' names masked by `scrub` in the texts that stay. Returns how many."""

        def work(session: Session) -> int:
            references = list(session.exec(_finished(before)))
            if not references:
                return 0
            _scrub_texts(session, col(FeedbackItem.reference).in_(references), scrub)
            ids = select(FeedbackItem.id).where(col(FeedbackItem.reference).in_(references))
            session.exec(delete(Attachment).where(col(Attachment.item_id).in_(ids)))
            session.exec(
                update(FeedbackItem)
                .where(col(FeedbackItem.reference).in_(references))
                .values(contact_id=None, anonymous=True)
            )
            return len(references)

        return await self._db.run(work)


def _finished(before: datetime) -> Any:
    has_files = select(Attachment.item_id).where(col(Attachment.item_id).is_not(None))
    return select(FeedbackItem.reference).where(
        col(FeedbackItem.state).in_(FINISHED),
        col(FeedbackItem.updated_at) < before,
        or_(col(FeedbackItem.contact_id).is_not(None), col(FeedbackItem.id).in_(has_files)),
    )


def _erase(
    session: Session, contact_ids: list[int], keep_items_anonymous: bool, scrub: Scrub
) -> Erased:
    if not contact_ids:
        return Erased()
    contacts = session.exec(select(Contact).where(col(Contact.id).in_(contact_ids))).all()
    chats = [(c.platform, c.chat_id) for c in contacts if c.chat_id]
    item_ids = select(FeedbackItem.id).where(col(FeedbackItem.contact_id).in_(contact_ids))
    items = len(session.exec(item_ids).all())
    session.exec(
        delete(Attachment).where(
            or_(col(Attachment.contact_id).in_(contact_ids), col(Attachment.item_id).in_(item_ids))
        )
    )
    references = select(FeedbackItem.reference).where(
        col(FeedbackItem.contact_id).in_(contact_ids)
    )
    outbox = delete(OutboxMessage).where(
        or_(
            col(OutboxMessage.contact_id).in_(contact_ids),
            col(OutboxMessage.reference).in_(references),
            *[
                (col(OutboxMessage.platform) == p) & (col(OutboxMessage.chat_id) == c)
                for p, c in chats
            ],
        )
    )
    outbox_rows = session.exec(outbox).rowcount
    session.exec(  # what the bot offered in their chats, and its answers about their items
        delete(BotMessage).where(
            or_(
                col(BotMessage.reference).in_(references),
                *[
                    (col(BotMessage.platform) == p) & (col(BotMessage.chat_id) == c)
                    for p, c in chats
                ],
            )
        )
    )
    for platform, chat in chats:
        session.exec(
            delete(HandledMessage).where(
                col(HandledMessage.platform) == platform, col(HandledMessage.chat_id) == chat
            )
        )
    masked = 0
    if keep_items_anonymous:
        masked = _scrub_texts(session, col(FeedbackItem.contact_id).in_(contact_ids), scrub)
        session.exec(
            update(FeedbackItem)
            .where(col(FeedbackItem.contact_id).in_(contact_ids))
            .values(contact_id=None, anonymous=True)
        )
    else:
        session.exec(delete(ItemEvent).where(col(ItemEvent.item_id).in_(item_ids)))
        session.exec(delete(FeedbackItem).where(col(FeedbackItem.contact_id).in_(contact_ids)))
    # Registrations go with the person; a place they held is not handed on here (a
    # forgotten resident cannot be asked), the waitlist moves up at the next cancellation.
    session.exec(delete(Registration).where(col(Registration.contact_id).in_(contact_ids)))
    session.exec(
        delete(ConversationState).where(col(ConversationState.contact_id).in_(contact_ids))
    )
    session.exec(delete(Contact).where(col(Contact.id).in_(contact_ids)))
    return Erased(
        contacts=len(contacts),
        items_deleted=0 if keep_items_anonymous else items,
        items_kept_anonymous=items if keep_items_anonymous else 0,
        outbox_rows=outbox_rows,
        texts_masked=masked,
    )


def _scrub_texts(session: Session, items: Any, scrub: Scrub) -> int:
    """Mask, in the texts of the items that `items` selects and in their history, the names
    of each item's author: the coordinator who greeted them by name, the reply they signed.

    Returns:
        How many texts changed.
    """
    items = and_(items, col(FeedbackItem.contact_id).is_not(None))  # an author to name
    names = _names_of_authors(session, items)
    if not names:
        return 0
    changed = 0
    for item in session.exec(select(FeedbackItem).where(items)).all():
        masked = scrub(item.text, names.get(item.contact_id or 0, ()))
        if masked != item.text:
            item.text, changed = masked, changed + 1
    history = (
        select(ItemEvent, FeedbackItem.contact_id)
        .join(FeedbackItem, col(FeedbackItem.id) == col(ItemEvent.item_id))
        .where(items, col(ItemEvent.text).is_not(None))
    )
    for event, author in session.exec(history).all():
        masked = scrub(event.text or "", names.get(author or 0, ()))
        if masked != event.text:
            event.text, changed = masked, changed + 1
    session.flush()
    return changed


def _names_of_authors(session: Session, items: Any) -> dict[int, tuple[str, ...]]:
    """What names the authors of the items `items` selects, by author's contact id: the
    display name and account id of the contact and of every contact linked to it (/link),
    since the person's name on the other platform names them as well."""
    authors = select(FeedbackItem.contact_id).where(items)
    contacts = session.exec(select(Contact).where(col(Contact.id).in_(authors))).all()
    persons = {c.person_id for c in contacts if c.person_id is not None}
    linked = session.exec(select(Contact).where(col(Contact.person_id).in_(persons))).all()
    by_person: dict[int, set[str]] = {}
    for contact in (*contacts, *linked):
        person = contact.person_id or contact.id or 0
        by_person.setdefault(person, set()).update(
            n for n in (contact.display_name, contact.user_id) if n
        )
    return {c.id: tuple(sorted(by_person[c.person_id or c.id or 0])) for c in contacts if c.id}


def _plain(row: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    values = row.model_dump(exclude=exclude or set())
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
