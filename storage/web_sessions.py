"""Sign-in links, sessions and their audit trail for the staff web view.

A link's token and a session's id leave the bot once, in the chat and in the cookie; the
tables keep their SHA-256 digests. Using a link, ending a session and writing the audit line
happen in one transaction each, so a link cannot be used twice, not even by two requests at
the same moment (the row is claimed with a conditional UPDATE).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.db import Database
from storage.web_models import WebAudit, WebSession, WebSignIn


def digest(secret: str) -> str:
    """What the tables keep of a token or a session id."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class SignInRefused(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just started from a link: whose it is, and what its cookie must carry."""

    contact_id: int
    actor: str
    session_id: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    actor: str
    action: str
    detail: str
    address: str


class WebSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_sign_in(
        self, token: str, contact_id: int, actor: str, now: datetime, expires_at: datetime
    ) -> None:
        """Record a link `/web` hands out (its token hashed), and audit it."""

        def work(session: Session) -> None:
            session.add(
                WebSignIn(
                    token_hash=digest(token),
                    contact_id=contact_id,
                    actor=actor,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            session.add(WebAudit(at=now, actor=actor, action="link_issued"))

        await self._db.run(work)

    async def use_sign_in(
        self,
        token: str,
        session_id: str,
        csrf_token: str,
        now: datetime,
        *,
        address: str = "",
        replaces: str | None = None,
    ) -> NewSession | SignInRefused:
        """Use a link once: start a session with `session_id` (ending the browser's previous
        session `replaces`, if any) and audit it; or say why the link is refused, audited too.
        """
        hashed = digest(token)
        claim = (
            update(WebSignIn)
            .where(
                col(WebSignIn.token_hash) == hashed,
                col(WebSignIn.used_at).is_(None),
                col(WebSignIn.expires_at) > now,
            )
            .values(used_at=now)
            .returning(col(WebSignIn.contact_id), col(WebSignIn.actor))
        )

        def work(session: Session) -> NewSession | SignInRefused:
            claimed = session.execute(claim).first()
            if claimed is None:
                link = session.exec(
                    select(WebSignIn).where(WebSignIn.token_hash == hashed)
                ).first()
                reason = (
                    SignInRefused.UNKNOWN
                    if link is None
                    else SignInRefused.USED
                    if link.used_at is not None
                    else SignInRefused.EXPIRED
                )
                actor = link.actor if link is not None else ""
                session.add(
                    WebAudit(
                        at=now,
                        actor=actor,
                        action="sign_in_refused",
                        detail=reason,
                        address=address,
                    )
                )
                return reason
            contact_id, actor = int(claimed[0]), str(claimed[1])
            if replaces is not None:
                _end(session, [col(WebSession.session_hash) == digest(replaces)], now, "rotated")
            session.add(
                WebSession(
                    session_hash=digest(session_id),
                    csrf_token=csrf_token,
                    contact_id=contact_id,
                    actor=actor,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            session.add(WebAudit(at=now, actor=actor, action="signed_in", address=address))
            return NewSession(contact_id, actor, session_id, csrf_token)

        return await self._db.run(work)

    async def get_session(
        self, session_id: str, now: datetime, *, idle_after: datetime, started_after: datetime
    ) -> WebSession | None:
        """The live session with this id, its last request moved to `now`; None when there is
        none. A session idle since before `idle_after` or started before `started_after`
        ends here, audited.

        `last_seen_at` is written at most once a minute: a page's requests cost no write each.
        """
        hashed = digest(session_id)

        def work(session: Session) -> WebSession | None:
            found = session.exec(
                select(WebSession).where(
                    WebSession.session_hash == hashed, col(WebSession.ended_at).is_(None)
                )
            ).first()
            if found is None:
                return None
            if found.last_seen_at < idle_after or found.created_at < started_after:
                reason = "idle" if found.last_seen_at < idle_after else "age"
                _end(session, [col(WebSession.id) == found.id], now, reason)
                session.add(WebAudit(at=now, actor=found.actor, action="session_expired"))
                return None
            if (now - found.last_seen_at).total_seconds() >= 60:
                session.execute(
                    update(WebSession)
                    .where(col(WebSession.id) == found.id)
                    .values(last_seen_at=now)
                )
                found.last_seen_at = now
            return found

        return await self._db.run(work)

    async def end_session(self, session_id: str, now: datetime, *, address: str = "") -> None:
        """Sign this browser out."""
        hashed = digest(session_id)

        def work(session: Session) -> None:
            actor = session.exec(
                select(WebSession.actor).where(WebSession.session_hash == hashed)
            ).first()
            if _end(session, [col(WebSession.session_hash) == hashed], now, "signed_out"):
                session.add(
                    WebAudit(at=now, actor=actor or "", action="signed_out", address=address)
                )

        await self._db.run(work)

    async def end_sessions_of(self, actor: str, now: datetime, *, address: str = "") -> int:
        """Sign `actor` out everywhere; returns how many sessions ended."""

        def work(session: Session) -> int:
            ended = _end(session, [col(WebSession.actor) == actor], now, "signed_out_everywhere")
            session.add(
                WebAudit(
                    at=now,
                    actor=actor,
                    action="signed_out_everywhere",
                    detail=str(ended),
                    address=address,
                )
            )
            return ended

        return await self._db.run(work)

    async def add_audit(
        self, actor: str, action: str, now: datetime, *, detail: str = "", address: str = ""
    ) -> None:
        """Record what an administrator changed through the web view."""
        line = WebAudit(at=now, actor=actor, action=action, detail=detail[:255], address=address)
        await self._db.run(lambda session: session.add(line))

    async def list_audit(self, *, limit: int = 100) -> list[AuditLine]:
        """The latest audit lines, newest first."""
        query = select(WebAudit).order_by(col(WebAudit.id).desc()).limit(limit)

        def work(session: Session) -> list[AuditLine]:
            return [
                AuditLine(a.at, a.actor, a.action, a.detail, a.address)
                for a in session.exec(query).all()
            ]

        return await self._db.run(work)


def _end(session: Session, where: list[object], now: datetime, reason: str) -> int:
    """End the live sessions that match `where`; how many there were."""
    statement = (
        update(WebSession)
        .where(col(WebSession.ended_at).is_(None), *where)  # type: ignore[arg-type]
        .values(ended_at=now, end_reason=reason)
    )
    return int(session.connection().execute(statement).rowcount or 0)
