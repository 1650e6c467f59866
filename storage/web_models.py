"""The tables of the staff web view: one-time sign-in links, sessions, and the audit trail of
both. Tokens and session ids are stored only as SHA-256 digests: a copy of the database
signs nobody in. Times are aware UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.types import time_field as _time


class WebSignIn(SQLModel, table=True):
    """A link `/web` sent: valid until `expires_at`, once (`used_at`)."""

    __tablename__ = "web_sign_in"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    # No foreign key: `/forget` erases contacts, and these rows must not stand in its way.
    contact_id: int
    actor: str = Field(max_length=300)  # "platform:user_id", as the item history writes it
    created_at: datetime = _time()
    expires_at: datetime = _time()
    used_at: datetime | None = _time(nullable=True)


class WebSession(SQLModel, table=True):
    """A signed-in browser. Ended by signing out, by inactivity or by age; kept ended for the
    audit trail."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_actor", "actor", "ended_at"),)

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(unique=True, max_length=64)
    csrf_token: str = Field(max_length=64)  # the forms' token; secret like the cookie
    contact_id: int
    actor: str = Field(max_length=300)
    created_at: datetime = _time()
    last_seen_at: datetime = _time()
    ended_at: datetime | None = _time(nullable=True)
    end_reason: str | None = Field(default=None, max_length=32)


class WebAudit(SQLModel, table=True):
    """Who signed in, out or was refused, and what an administrator changed, when and from
    which address. Never a token, never a resident's text."""

    __tablename__ = "web_audit"
    __table_args__ = (Index("ix_web_audit_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time()
    actor: str = Field(default="", max_length=300)  # "" when the link named nobody
    action: str = Field(max_length=32)
    detail: str = Field(default="", max_length=255)
    address: str = Field(default="", max_length=64)
