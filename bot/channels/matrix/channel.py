"""The Matrix channel: a matrix-nio `AsyncClient` with end-to-end encryption.

The bot keeps one device (`matrix.device_id`) and its keys in `matrix.store_dir`, so
encrypted chats survive restarts. It syncs in its own loop: every event of a sync is handled
(per room in order, rooms side by side, each message in its chat's turn) before the sync
token is saved, so a restart misses no message. A bot killed after answering but before the
token was saved gets the same messages again: those answered are recorded with their answers
and skipped. One killed between an answer and its record handles the message again, but its
answers carry the same transaction ids as before (derived from the event they answer), so
the homeserver drops the repeats. A lost connection or a restarting homeserver is retried
with growing pauses. The choices the bot offered and the items its answers named are kept in the
database (`ChoiceMemory`), so that answers to them still work after a restart. Invitations
to direct chats and to the working groups' rooms are accepted. The plaintext of messages is
never logged.

Several processes on one PostgreSQL share one device: the sync runs in the leading process
only (`leader_only`, `bot.cluster`), which needs `matrix.store_dir` (keys and sync position)
on storage every process reaches. A process that becomes the leader starts from the position
the last leader saved; what that one answered after it is skipped, as after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    Event,
    InviteInfo,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    RoomMemberEvent,
    SyncResponse,
    WhoamiResponse,
)

from bot.channels.matrix.map import ChoiceMemory, FileToFetch, to_incoming
from bot.channels.matrix.media import download
from bot.channels.matrix.send import MatrixSender, reply_base
from bot.channels.matrix.sync_tokens import SyncTokens
from bot.channels.port import ChannelPort, CredentialsRejected
from bot.delivery.sending import Unreachable
from handlers.messages import FILE_TOO_LARGE, Attachment, Incoming, Platform, Reply
from handlers.settings import MatrixSettings

logger = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
SYNC_FILTER = {"room": {"timeline": {"limit": 200}}, "presence": {"not_types": ["*"]}}
SEEN_EVENTS = 5000  # event ids remembered, so that no event is ever handled twice
NETWORK_ERRORS = (ClientError, TimeoutError, ConnectionError, OSError)
FORGET_EVERY = timedelta(days=1)  # how often records older than the store keeps are dropped


# What a homeserver answers when the credentials themselves are wrong (a wrong password, an
# unknown or revoked access token, a deactivated account): no retry can help.
REJECTING = ("M_FORBIDDEN", "M_UNKNOWN_TOKEN", "M_USER_DEACTIVATED")


class LoginRejected(CredentialsRejected):
    """The homeserver refused the bot's password or access token. The message names the
    setting and the homeserver's error code, never the secret."""

    def __init__(self, settings: MatrixSettings, response: ErrorResponse) -> None:
        if settings.access_token:
            what = "access token (MITREDEN_MATRIX_ACCESS_TOKEN or matrix.access_token_file)"
        else:
            what = "password (MITREDEN_MATRIX_PASSWORD or matrix.password_file)"
        super().__init__(
            f"the Matrix homeserver {settings.homeserver} rejected the {what} of "
            f"{settings.user_id} ({response.status_code})"
        )


class MatrixChannel:
    platform = Platform.MATRIX
    leader_only = True  # one device, one sync position: `run` in the leading process only

    def __init__(
        self,
        settings: MatrixSettings,
        app: ChannelPort,
        *,
        backoff_start: float = 1.0,
        backoff_cap: float = 60.0,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
    ) -> None:
        if not (settings.homeserver and settings.user_id):
            raise ValueError("matrix.homeserver and matrix.user_id must be set")
        if not (settings.password or settings.access_token):
            raise ValueError("set MITREDEN_MATRIX_PASSWORD or MITREDEN_MATRIX_ACCESS_TOKEN")
        self._settings = settings
        self._app = app
        self._backoff_start = backoff_start
        self._backoff_cap = backoff_cap
        self._sync_timeout_ms = sync_timeout_ms
        store = Path(settings.store_dir)
        store.mkdir(mode=0o700, parents=True, exist_ok=True)  # the bot's keys: owner only
        self._tokens = SyncTokens(store)
        config = AsyncClientConfig(
            max_limit_exceeded=0,  # 429s come back as values: the callers decide
            max_timeouts=0,
            encryption_enabled=True,
            store_sync_tokens=False,  # saved by the bot, after the sync was handled
        )
        self.client = AsyncClient(
            settings.homeserver,
            settings.user_id,
            device_id=settings.device_id,
            store_path=str(store),
            config=config,
            proxy=settings.proxy_url or None,
        )
        self.ready = asyncio.Event()  # set once the rooms are known after (re)start
        # Whether the last attempt to reach the homeserver failed (until a sync succeeds).
        self._unreachable = False
        self.memory = ChoiceMemory(app.bot_messages, app.clock)
        self.sender = MatrixSender(
            self.client,
            self.memory,
            ready=self.ready,
            count=partial(app.count_send, Platform.MATRIX),
        )
        self._groups = app.group_chats(Platform.MATRIX)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._forgotten_at: datetime | None = None  # when old records were last dropped
        self._runs = 0

    def is_ready(self) -> bool:
        """Logged in, synced at least once since the start, and the latest attempt to sync
        did not fail (for /readyz): a lost connection shows at its first failed attempt,
        and is over at the next sync that succeeds."""
        return self.ready.is_set() and not self._unreachable

    def unreadable_updates(self) -> int:
        """nio reads every event it is given (what it cannot parse arrives as a bad event)."""
        return 0

    async def run(self, stop: asyncio.Event) -> None:
        """Sync until `stop` is set, surviving lost connections and homeserver restarts.

        Runs again in a process that leads again (several processes on one PostgreSQL):
        each run reads the keys and the sync position afresh from the store directory,
        where another leader may have moved them on meanwhile."""
        self._runs += 1
        if self._runs > 1:
            self._reload()
        try:
            await self._until(stop, self._login)
            token = self._tokens.load()
            first = True
            while not stop.is_set():
                response = await self._until(stop, partial(self._sync, token, first))
                if response is None:
                    break
                await self._keep_keys()
                await self._handle_sync(response, backlog=first and token is None, replay=first)
                token = response.next_batch
                self._tokens.save(token)
                first = False
                self.ready.set()
                self._unreachable = False
                await self._forget_old_choices()
        finally:
            self.ready.clear()
            await self.client.close()

    def _reload(self) -> None:
        """Forget what an earlier run kept in memory: the login loads the store again
        (nio loads it once per client otherwise), the first sync brings the rooms."""
        self.client.store = None
        self.client.olm = None
        self.client.rooms.clear()
        self._seen.clear()
        self._unreachable = False

    async def _until(self, stop: asyncio.Event, attempt: Any) -> Any:
        """Run `attempt()` until it succeeds or `stop` is set, pausing longer each time."""
        pause = self._backoff_start
        while not stop.is_set():
            task = asyncio.ensure_future(attempt())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *NETWORK_ERRORS):
                    await task
                return None
            try:
                result = task.result()
            except NETWORK_ERRORS as error:
                self._unreachable = True
                logger.warning(
                    "matrix: %s not reachable (%s: %s); trying again in %gs",
                    self._settings.homeserver,
                    type(error).__name__,
                    error,
                    pause,
                )
            else:
                if not isinstance(result, ErrorResponse):
                    return result
                self._unreachable = True
                token_gone = result.status_code == "M_UNKNOWN_TOKEN"
                if token_gone and not self._settings.password:  # an access token revoked
                    raise LoginRejected(self._settings, result)
                wait = (result.retry_after_ms or 0) / 1000
                pause = max(pause, wait)
                logger.warning("matrix: %s; trying again in %gs", result, pause)
                if token_gone:
                    await self._login()  # raises LoginRejected when the password fails
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(self._backoff_cap, pause * 2)
        return None

    async def _login(self) -> LoginResponse | WhoamiResponse | ErrorResponse:
        """Log in with the password, or check the access token; an error response (a
        homeserver starting, rate limits) is returned for `_until` to try again.

        Raises:
            LoginRejected: the homeserver refused the credentials themselves.
        """
        settings = self._settings
        if settings.access_token:
            self.client.access_token = settings.access_token
            who = await self.client.whoami()
            if isinstance(who, WhoamiResponse):
                device = who.device_id or settings.device_id
                self.client.restore_login(settings.user_id, device, settings.access_token)
                logger.info("matrix: %s, device %s (access token)", who.user_id, device)
            elif who.status_code in REJECTING:
                raise LoginRejected(settings, who)
            return who
        login = await self.client.login(settings.password, device_name="mitreden")
        if isinstance(login, LoginResponse):
            logger.info("matrix: logged in as %s, device %s", login.user_id, login.device_id)
        elif login.status_code in REJECTING:
            raise LoginRejected(settings, login)
        return login

    async def _sync(self, token: str | None, first: bool) -> SyncResponse | ErrorResponse:
        # After a restart the first sync asks for the full state, so the rooms are known
        # again, but only for the events after the saved token.
        return await self.client.sync(
            timeout=0 if first else self._sync_timeout_ms,
            sync_filter=SYNC_FILTER,
            since=token,
            full_state=True if first and token else None,
        )

    async def _keep_keys(self) -> None:
        """What nio's sync_forever does between syncs: publish, fetch and claim device keys,
        and send the to-device messages (room keys) that are waiting."""
        client = self.client
        try:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
        except (*NETWORK_ERRORS, LocalProtocolError) as error:
            logger.warning("matrix: key maintenance failed: %s", type(error).__name__)

    async def _handle_sync(self, response: SyncResponse, *, backlog: bool, replay: bool) -> None:
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite)
        if backlog:
            return  # the very first sync: history from before the bot existed is not answered
        if replay:
            await self._skip_answered(response)
        await asyncio.gather(
            *(
                self._handle_room(room_id, info.timeline.events)
                for room_id, info in response.rooms.join.items()
            )
        )

    async def _skip_answered(self, response: SyncResponse) -> None:
        """The first sync after a restart hands over what came after the saved position,
        which may include messages answered just before the bot was killed: mark those seen,
        and send the replies of those whose sending was cut off again (their transaction
        ids are the same, so the homeserver drops the ones that went out). On SQLite the
        turn and its record are two transactions: one killed between them is handled again,
        its answers with the same transaction ids. On PostgreSQL they are one
        (`App.handle_in_turn` with a record), so no message is handled twice."""
        for room_id, info in response.rooms.join.items():
            ids = [e.event_id for e in info.timeline.events if e.sender != self.client.user_id]
            try:
                answered = await self.memory.answered(room_id, ids) if ids else {}
            except Exception:  # the store failed; logged, and the bot goes on
                logger.exception("matrix: answered events in %s unknown; handled again", room_id)
                continue
            for event_id in answered:
                self._seen[event_id] = None
            if answered:
                logger.info("matrix: %d answered event(s) in %s skipped", len(answered), room_id)
            for event_id, replies in answered.items():
                if replies:
                    logger.warning(
                        "matrix: the replies to %s in %s sent again: the process that "
                        "handled it stopped before it had sent them all",
                        event_id,
                        room_id,
                    )
                    await self._send_answers(room_id, event_id, replies, self.is_group(room_id))

    async def _on_invite(self, room_id: str, invite: InviteInfo) -> None:
        direct = any(
            getattr(event, "state_key", None) == self.client.user_id
            and getattr(event, "content", {}).get("is_direct")
            for event in invite.invite_state
        )
        if not direct and room_id not in self._groups:
            logger.info("matrix: invitation to %s ignored (not a direct chat)", room_id)
            return
        joined = await self.client.join(room_id)
        if isinstance(joined, JoinError):
            logger.warning("matrix: cannot join %s: %s", room_id, joined)
        else:
            logger.info("matrix: joined %s", room_id)

    async def _handle_room(self, room_id: str, events: list[Event]) -> None:
        for event in events:
            if event.sender == self.client.user_id or event.event_id in self._seen:
                continue
            self._seen[event.event_id] = None
            while len(self._seen) > SEEN_EVENTS:
                self._seen.popitem(last=False)
            try:
                await self._handle_event(room_id, event)
            except Exception:
                logger.exception("matrix: event %s in %s failed", event.event_id, room_id)

    def is_group(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return room_id in self._groups or (room is not None and room.member_count > 2)

    async def _handle_event(self, room_id: str, event: Event) -> None:
        if isinstance(event, RoomMemberEvent):
            await self._membership(room_id, event)
            return
        room = self.client.rooms.get(room_id)
        name = (room.user_name(event.sender) if room else None) or event.sender
        group, me = self.is_group(room_id), self.client.user_id
        mapped = to_incoming(event, room_id, is_group=group, display_name=name, bot_id=me)
        if mapped is None:
            return
        incoming, wanted = mapped
        if isinstance(event, MegolmEvent):
            logger.info("matrix: cannot decrypt %s in %s; keys requested", event.event_id, room_id)
            with contextlib.suppress(LocalProtocolError, *NETWORK_ERRORS):
                await self.client.request_room_key(event)
        async with self._app.chat_turn(incoming):
            if wanted is not None:
                incoming = await self._with_file(incoming, wanted)
            incoming = await self.memory.resolve(incoming)
            record = None
            if self._app.cluster is not None:  # PostgreSQL: the replies commit with the turn
                record = partial(self.memory.answering, room_id, event.event_id)
            replies = await self._app.handle_in_turn(incoming, record)
            await self._send_answers(room_id, event.event_id, replies, incoming.is_group)

    async def _send_answers(
        self, room_id: str, event_id: str, replies: list[Reply], is_group: bool
    ) -> None:
        """Send the replies to the person's event `event_id`, each with a transaction id
        of its own derived from it, and keep what they offered and that it was answered."""
        sent: list[tuple[str | None, Reply]] = []
        try:
            for index, reply in enumerate(replies):
                base = reply_base(event_id, index)
                sent.append((await self.sender.send(room_id, reply, base), reply))
        except Unreachable:
            await self._app.mark_unreachable(Platform.MATRIX, room_id)
        sent += [(None, reply) for reply in replies[len(sent) :]]
        await self.memory.offered(room_id, sent, is_group=is_group, answering=event_id)

    async def _forget_old_choices(self) -> None:
        """Once a day: drop the choices, references and answered events kept longer than
        the store keeps them, so that the tables do not grow with the bot's whole history."""
        now = self._app.clock.now()
        if self._forgotten_at is not None and now - self._forgotten_at < FORGET_EVERY:
            return
        self._forgotten_at = now
        try:
            gone = await self.memory.forget_old()
        except Exception:  # the store failed; logged, and the bot goes on
            logger.exception("matrix: old choices not forgotten; tried again tomorrow")
            return
        if gone:
            logger.info("matrix: %d old message record(s) forgotten", gone)

    async def _membership(self, room_id: str, event: RoomMemberEvent) -> None:
        """A resident who leaves their direct chat is unreachable there; the bot leaves too."""
        if event.membership not in ("leave", "ban") or event.state_key == self.client.user_id:
            return
        if self.is_group(room_id):
            return
        logger.info("matrix: %s left direct chat %s", event.state_key, room_id)
        await self._app.mark_unreachable(Platform.MATRIX, room_id)
        with contextlib.suppress(*NETWORK_ERRORS):
            await self.client.room_leave(room_id)

    async def _with_file(self, incoming: Incoming, wanted: FileToFetch) -> Incoming:
        """Download (and decrypt) the image or file, within the configured size."""
        limit = self._settings.max_download_bytes
        data = None if (wanted.size or 0) > limit else await download(self.client, wanted)
        if data is None or len(data) > limit:
            logger.info("matrix: file of %s bytes refused (limit %d)", wanted.size, limit)
            return replace(incoming, unsupported=FILE_TOO_LARGE)
        file = Attachment(wanted.kind, wanted.file_name, wanted.mime_type, data)
        return replace(incoming, attachments=(file,), unsupported=None)
