"""What every handler receives: its dependencies, and the turn it is answering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time

from handlers.clock import Clock
from handlers.i18n import Catalogues, Translator
from handlers.messages import Incoming
from storage.models import Contact
from storage.store import Store


@dataclass(frozen=True)
class HandlerSettings:
    """The rules of conversation an administrator can tune (see config.example.toml)."""

    max_text_length: int = 4000
    flood_messages_per_minute: int = 20
    max_attachments_per_item: int = 10
    max_file_bytes: int = 20_000_000
    administrators: tuple[str, ...] = ()  # "platform:user_id"
    timezone: str = "Europe/Berlin"
    languages: tuple[str, ...] = ("de", "en")
    default_language: str = "de"


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    catalogues: Catalogues
    settings: HandlerSettings = field(default_factory=HandlerSettings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


@dataclass(frozen=True)
class Turn:
    """One incoming update with the contact it came from, their language and the time."""

    incoming: Incoming
    contact: Contact
    language: str
    tr: Translator
    now: datetime
    zone: ZoneInfo

    @property
    def contact_id(self) -> int:
        assert self.contact.id is not None
        return self.contact.id

    def _(self, message: str) -> str:
        return self.tr.gettext(message)

    def when(self, moment: datetime) -> str:
        """A date and time as the resident reads it: their language, the city's zone."""
        day = format_skeleton("yMMMd", moment, tzinfo=self.zone, locale=self.language)
        return f"{day} {format_time(moment, 'short', tzinfo=self.zone, locale=self.language)}"

    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)
