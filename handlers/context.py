"""What every handler receives: its dependencies, and the turn it is answering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from handlers.clock import Clock
from handlers.i18n import Catalogues, Translator, babel_locale, format_day, format_moment
from handlers.messages import Incoming
from handlers.settings import Settings
from storage.models import Contact, ConversationState
from storage.store import Store


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    catalogues: Catalogues
    # The whole configuration, read once by `bot.config`; handlers read the section they need
    # (`settings.bot.max_text_length`, `settings.coordination.page_size`).
    settings: Settings = field(default_factory=Settings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.bot.timezone)


@dataclass(frozen=True)
class Turn:
    """One incoming update with the contact it came from, their language and the time."""

    incoming: Incoming
    contact: Contact
    language: str
    tr: Translator
    now: datetime
    zone: ZoneInfo
    state: ConversationState | None = None  # the flow step as the update began

    @property
    def contact_id(self) -> int:
        assert self.contact.id is not None
        return self.contact.id

    @property
    def locale(self) -> str:
        """The Babel locale for dates and durations in the resident's language."""
        return babel_locale(self.language)

    def _(self, message: str) -> str:
        return self.tr.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The text for `n` of something, in the form the resident's language needs for `n`
        (German: the singular for 1; Russian and Ukrainian three forms, Arabic six).

        Both German forms carry the same placeholders; `.format(...)` the result, n included.
        """
        return self.tr.ngettext(singular, plural, n)

    def when(self, moment: datetime) -> str:
        """A date and time as the resident reads it: their language, the city's zone."""
        return format_moment(moment, self.zone, self.language)

    def day(self, moment: datetime) -> str:
        return format_day(moment, self.zone, self.language)

    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)


class Writer(Protocol):
    """Anything that writes in one language: a `Turn` answering, or a `Voice` notifying."""

    @property
    def language(self) -> str: ...

    @property
    def tr(self) -> Translator: ...

    def _(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...

    def when(self, moment: datetime) -> str: ...

    def day(self, moment: datetime) -> str: ...


@dataclass(frozen=True)
class Voice:
    """A language to write in when nobody is being answered: notifications, digests."""

    language: str
    tr: Translator
    zone: ZoneInfo

    def _(self, message: str) -> str:
        return self.tr.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The text for `n` of something in this language's form for `n` (see `Turn.ngettext`)."""
        return self.tr.ngettext(singular, plural, n)

    def when(self, moment: datetime) -> str:
        return format_moment(moment, self.zone, self.language)

    def day(self, moment: datetime) -> str:
        return format_day(moment, self.zone, self.language)


def voice(deps: Deps, language: str | None = None) -> Voice:
    """Write in `language` (a contact's), or the city's default language."""
    chosen = language if language in deps.catalogues.languages else deps.catalogues.default
    return Voice(chosen, deps.catalogues.get(chosen), deps.zone)
