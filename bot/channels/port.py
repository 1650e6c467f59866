"""What a channel needs of the application: a narrow port instead of the whole `App`.

A channel turns platform updates into `Incoming` values and `Reply` values into platform
calls; everything else it asks through these few calls. `bot.app.App` provides them; a test
or another composition can provide them too, without building the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from handlers.clock import Clock
from handlers.i18n import Catalogues
from handlers.messages import Incoming, Reply
from storage.bot_messages import BotMessageStore

if TYPE_CHECKING:
    from bot.cluster import Cluster, Leadership

# Stores a turn's replies where they outlive the process, until they are sent.
Record = Callable[[list[Reply]], Awaitable[None]]


class ChannelPort(Protocol):
    @property
    def clock(self) -> Clock:
        """The application's clock (never the wall clock)."""
        ...

    @property
    def catalogues(self) -> Catalogues:
        """The shipped languages' texts (Telegram's command menus)."""
        ...

    def command_menu(self, language: str | None) -> list[tuple[str, str]]:
        """(command, description) pairs of residents' command menu in `language` (None: the
        default language)."""
        ...

    @property
    def bot_messages(self) -> BotMessageStore:
        """What the bot's messages offered, for platforms without buttons (Matrix)."""
        ...

    def group_chats(self, platform: str) -> set[str]:
        """The chats on `platform` configured as working groups' chats."""
        ...

    @property
    def leadership(self) -> Leadership:
        """Whether this process runs what must run once (`bot.cluster`)."""
        ...

    @property
    def cluster(self) -> Cluster | None:
        """What the processes on one PostgreSQL share; None on SQLite (one process)."""
        ...

    def chat_turn(self, incoming: Incoming) -> AbstractAsyncContextManager[None]:
        """Hold the chat's turn over download, handling and sending, so one chat's replies
        go out in the order its messages came in."""
        ...

    async def handle_in_turn(
        self, incoming: Incoming, record: Record | None = None
    ) -> list[Reply]:
        """The replies to one update; the caller holds the chat's turn. With `record`, the
        update's changes and its recorded replies commit together; raises only what
        `record` raised (then nothing of the update is kept). Without it, never raises."""
        ...

    def count_send(self, platform: str, result: str) -> None:
        """One call to `platform` ended in `result` (`bot.delivery.sending.SEND_RESULTS`)."""
        ...

    async def mark_unreachable(self, platform: str, chat_id: str) -> None:
        """The chat blocked the bot or is gone: stop writing to the contacts behind it."""
        ...


class CredentialsRejected(Exception):
    """The platform refused the bot's credentials (a wrong or revoked token or password).
    Fatal: no retry can help, so `mitreden run` ends with this message (naming the setting,
    never the secret) and exit code 2, for the administrator to fix the setting."""
