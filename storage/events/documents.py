"""An event's documents: added, replaced with a new version, listed and loaded for sending.
Part of `EventStore` (storage.events.store)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.db import Database
from storage.events.models import EventDocument


class EventDocuments:
    _db: Database

    async def add_document(
        self, event_id: int, title: str, file_name: str, mime_type: str, data: bytes, now: datetime
    ) -> EventDocument:
        document = EventDocument(
            event_id=event_id,
            title=title,
            file_name=file_name,
            mime_type=mime_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            created_at=now,
            updated_at=now,
        )

        def work(session: Session) -> EventDocument:
            session.add(document)
            session.flush()
            return document

        return await self._db.run(work)

    async def replace_document(
        self, document_id: int, file_name: str, mime_type: str, data: bytes, now: datetime
    ) -> EventDocument | None:
        """A new version of a document; the planner tells everyone who had the old one."""

        def work(session: Session) -> EventDocument | None:
            document = session.get(EventDocument, document_id)
            if document is None:
                return None
            digest = hashlib.sha256(data).hexdigest()
            if digest == document.sha256:
                return document  # the same file again: nothing changed
            document.file_name, document.mime_type = file_name, mime_type
            document.data, document.size, document.sha256 = data, len(data), digest
            document.version += 1
            document.updated_at = now
            session.add(document)
            return document

        return await self._db.run(work)

    async def list_documents(self, event_id: int) -> list[EventDocument]:
        """The event's documents in the order they were added."""
        query = (
            select(EventDocument)
            .where(col(EventDocument.event_id) == event_id)
            .order_by(col(EventDocument.id))
        )
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def get_documents(self, ids: Sequence[int]) -> list[EventDocument]:
        """Documents by id, with their bytes, in the order asked (for outbox payloads)."""
        query = select(EventDocument).where(col(EventDocument.id).in_(list(ids)))

        def work(session: Session) -> list[EventDocument]:
            found = {d.id: d for d in session.exec(query).all()}
            return [found[i] for i in ids if i in found]

        return await self._db.run(work)

    # ---- planning -----------------------------------------------------------------------
