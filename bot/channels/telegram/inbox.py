"""Telegram's webhook intake when several processes share one PostgreSQL: one line per chat
across all of them, and nothing lost when one dies.

Telegram pushes a chat's updates one after another, each once the previous one was
acknowledged, and the proxy spreads them over the processes; so two updates of one chat
arrive at different processes. Each process stores what it receives in the inbox
(`storage.inbox`), as its owner, and only then answers 200: Telegram's "received" means
committed. Each process then handles the updates it owns, each chat's in order: an update
is handled only when it is its chat's oldest waiting one, after the previous one's state is
committed and its replies sent. A process whose next update must wait for another process's
earlier one listens for that one's "done" notice (PostgreSQL's NOTIFY, sent in the same
transaction that marks it handled) and goes on at once. So the work is where the proxy put
it, and one chat is one line across all processes.

A process that stops hands back what it owns and has not begun; one that dies is noticed by
the others within `SWEEP_SECONDS` (its lock session is gone with it: `storage.locks.
process_lock`), and its updates are handed to whoever looks next. Either way the others
claim them in order and handle them.

Why not a PostgreSQL advisory lock per chat held over the turn: whoever holds a chat's lock
would take the chat's next update too (it is there before the turn ends), so the busiest
process would keep every chat it ever had and one process would do all the work; and an
update waiting for a lock is lost with its process unless it is stored anyway. The inbox
orders by update id and survives the process; the owner spreads the work as the proxy does.

Exactly once: an update Telegram delivers again (its 200 lost) finds its row and is not
handled again; a turn that finished is marked before the chat's next one begins. A turn's
changes and its replies commit in one transaction (`storage.db.Database.turn`, the replies
into the update's row), before anything is sent. So a process killed in the middle of a turn
leaves either nothing of it, and the process that claims the update next handles it for the
first time, or the whole turn with its replies, and that process sends the replies (again,
if some had gone out) without handling the update again. What may repeat at a kill is a
message: at most the replies of the turns in flight, one turn a chat, each logged with the
update's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.cluster import Cluster
from handlers.clock import Clock
from storage.inbox import NOTICES, Step, Taken

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0  # how often a process looks for updates nobody handles
SWEEP_CHATS = 1000  # chats looked at in one sweep
WAIT_SECONDS = 2.0  # a line waiting for another process's update looks again this often
CONCURRENT_TURNS = 256  # turns in flight in one process (PTB's concurrent_updates)
MAX_ATTEMPTS = 5  # an update begun this often without being done is given up (logged)

# One update's turn, sent replies included; what it raises leaves the update to be handed
# out again (the line stops, and the sweep starts it anew).
Handle = Callable[[Taken], Awaitable[None]]


def chat_key(update: dict[str, Any]) -> str:
    """The line an update waits in: its chat; the sender where an update names no chat;
    the update itself where it names neither (as Telegram's own queue does)."""
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and chat.get("id") is not None:
            return str(chat["id"])
    for value in update.values():
        if not isinstance(value, dict):
            continue
        chat = value.get("chat")
        if isinstance(chat, dict) and chat.get("id") is not None:
            return str(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and sender.get("id") is not None:
            return str(sender["id"])
    return f"update:{update.get('update_id')}"


@dataclass(frozen=True)
class _First:
    """The update that opens a chat's line in this process, and the webhook waiting for it
    to be stored."""

    update_id: int
    payload: dict[str, Any]
    stored: asyncio.Future[None]


class InboxIntake:
    """Stores pushed updates and handles this process's part of each chat's line (see the
    module)."""

    def __init__(
        self,
        cluster: Cluster,
        handle: Handle,
        clock: Clock,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._inbox = cluster.inbox
        self._locks = cluster.locks
        self._me = cluster.name
        self._handle = handle
        self._clock = clock
        self._sweep_seconds = sweep_seconds
        self._turns = asyncio.Semaphore(CONCURRENT_TURNS)
        self._lines: dict[str, asyncio.Task[None]] = {}  # the chats this process handles now
        self._news: dict[str, asyncio.Event] = {}  # set when a line should look again
        self._stopping = False

    async def take_in(self, update_id: int, payload: dict[str, Any]) -> None:
        """Store one pushed update (committed when this returns), then see to its chat.

        Raises:
            What the database raised: the update is not stored, Telegram must send it again.
        """
        key = chat_key(payload)
        if self._stopping:  # stored without an owner: the others claim it
            await self._inbox.add(update_id, key, payload, self._clock.now())
            return
        if key in self._lines:  # the line here takes it, once its turn comes
            await self._inbox.add(update_id, key, payload, self._clock.now(), self._me)
            self.wake(key)  # that line may have ended meanwhile
            return
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        first = _First(update_id, payload, stored)
        self._lines[key] = asyncio.create_task(self._line(key, first), name=f"inbox-{key}")
        await stored

    def wake(self, key: str) -> None:
        """Have a line here look at the chat (a notice came, or the sweep found work)."""
        if self._stopping:
            return
        self._news_of(key).set()
        if key not in self._lines:
            self._lines[key] = asyncio.create_task(self._line(key), name=f"inbox-{key}")

    def _notice(self, key: str) -> None:
        """An update of the chat is done somewhere, or handed back: a line here that waits
        for it goes on (no line is started: a chat this process has no update of is not
        its business)."""
        news = self._news.get(key)
        if news is not None:
            news.set()

    def _news_of(self, key: str) -> asyncio.Event:
        news = self._news.get(key)
        if news is None:
            news = self._news[key] = asyncio.Event()
        return news

    async def open(self) -> None:
        """Take this process's lock and listen for notices, before the first update is
        taken in: without the lock the others would take this process for gone.

        Raises:
            LocksLost: the database cannot be reached.
        """
        await self._locks.listen(NOTICES, self._notice)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep for updates nobody handles until `stop` is set; then finish the turns
        under way and hand back what this process owns and has not begun."""
        try:
            while not stop.is_set():
                await self._sweep()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._sweep_seconds)
        finally:
            self._stopping = True
            for news in self._news.values():
                news.set()
            if self._lines:
                await asyncio.gather(*self._lines.values(), return_exceptions=True)
            try:
                chats = await self._inbox.release(self._me)
            except Exception as error:  # the others find them when this process is gone
                logger.warning("telegram inbox: not handed back (%s)", type(error).__name__)
            else:
                if chats:
                    logger.info("telegram inbox: updates of %d chat(s) handed back", len(chats))

    async def _sweep(self) -> None:
        """Claim what nobody handles: updates of this process without a line here (a line
        that failed), without an owner, or of an owner that is gone."""
        try:
            session = await self._locks.session()  # opened again after it was lost
            heads = await self._inbox.list_heads(SWEEP_CHATS)
            gone: set[str] = set()
            if any(owner not in (None, self._me) for _, owner in heads):
                others = {o for _, o in heads if o is not None and o != self._me}
                for other in others:
                    if not await session.is_alive(other):
                        gone.add(other)
            for name in gone:
                chats = await self._inbox.release(name)
                logger.warning(
                    "telegram inbox: %s is gone; its updates of %d chat(s) handed on",
                    name,
                    len(chats),
                )
        except Exception as error:  # the database or the lock session is away: next sweep
            logger.warning("telegram inbox: sweep failed (%s)", type(error).__name__)
            return
        for key, owner in heads:
            if owner in (None, self._me) or owner in gone:
                self.wake(key)

    async def _line(self, key: str, first: _First | None = None) -> None:
        """This process's updates of one chat, each when its turn comes."""
        done: int | None = None  # the update just handled, marked with the next look
        try:
            # Without the lock session the others may be handing this process's updates on:
            # no new turn then; the sweep opens it again and comes back.
            while not self._stopping and self._locks.alive:
                news = self._news_of(key)
                news.clear()  # what happens from here on is seen by the look below
                now = self._clock.now()
                if first is not None:
                    stored, first = await self._first(key, first), None
                    if stored is None:
                        return  # not stored: the webhook answers 500, Telegram sends it again
                    step = stored
                else:
                    step = await self._inbox.step(key, self._me, done, now)
                    done = None
                if step.taken is not None:
                    await self._turn(step)
                    done = step.taken.update_id
                elif step.waiting:  # an earlier update of the chat is another process's
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(news.wait(), WAIT_SECONDS)
                elif not news.is_set():
                    return  # nothing of this process's waits in the chat
            if done is not None:  # stopping: this one is done all the same
                await self._inbox.set_handled(done, self._clock.now())
        except Exception:
            logger.exception("telegram inbox: the line of chat %s failed; the sweep retries", key)
        finally:
            del self._lines[key]
            if self._news.get(key) is not None and not self._news[key].is_set():
                del self._news[key]
            if first is not None and not first.stored.done():
                first.stored.set_exception(RuntimeError("stopped before the update was stored"))

    async def _first(self, key: str, first: _First) -> Step | None:
        """Store the update that opened the line, owned by this process, and look at the
        chat in the same transaction; then the webhook answers. None: not stored."""
        try:
            step = await self._inbox.add_and_step(
                first.update_id, key, first.payload, self._clock.now(), self._me
            )
        except Exception as error:
            first.stored.set_exception(error)
            return None
        first.stored.set_result(None)
        return step

    async def _turn(self, step: Step) -> None:
        taken = step.taken
        assert taken is not None
        if taken.attempts > MAX_ATTEMPTS:
            logger.error(
                "telegram inbox: update %s given up after %d attempts",
                taken.update_id,
                taken.attempts - 1,
            )
            return
        if taken.replies is not None:
            logger.warning(
                "telegram inbox: the replies to update %s sent again (attempt %d): the "
                "process that handled it stopped before it had sent them all",
                taken.update_id,
                taken.attempts,
            )
        elif taken.attempts > 1:
            logger.warning(
                "telegram inbox: update %s taken up again (attempt %d): its turn before "
                "had not committed",
                taken.update_id,
                taken.attempts,
            )
        async with self._turns:
            await self._handle(taken)

    @property
    def lines(self) -> int:
        """Chats whose line this process handles now."""
        return len(self._lines)
