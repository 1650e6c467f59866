"""Answer deadlines and the weekly digest, planned from the database at `now`.

Items past their first-answer date are escalated to the administrators once; each working
group gets a digest of new, open and overdue items at the configured weekday and hour. Both
are derived, never stored as jobs: the outbox keys make a repeated or late tick harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from handlers.context import Deps, voice
from handlers.coordination.notify import administrator_messages
from handlers.messages import Reply, reply_to_payload
from storage.items.handling import Change, ItemChanged
from storage.outbox import NewMessage

logger = logging.getLogger(__name__)
DIGEST_GRACE = timedelta(hours=24)  # a digest missed by more than this is not sent late
OVERDUE_LISTED = 15


class EscalationPlanner:
    name = "escalation"

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def plan(self, now: datetime) -> int:
        """Tell the administrators about every item past its first-answer date (with none
        configured, items wait, so that they are escalated once there are some)."""
        if not self._deps.settings.bot.administrators:
            return 0
        items = self._deps.store.items
        sent = 0
        speaker = voice(self._deps)
        for item in await items.list_overdue(now):
            text = speaker._(
                "Überfällig: {reference} ({group}) wartet seit {day} auf eine erste Antwort."
            ).format(
                reference=item.reference,
                group=item.group_key,
                day=speaker.day(item.answer_due_at or now),
            )
            outgoing = administrator_messages(
                self._deps, text, f"escalation:{item.reference}", now, item.reference
            )
            try:
                await items.apply(
                    item.reference,
                    Change("system", "escalated"),
                    now,
                    expected_state=item.state,
                    values={"escalated_at": now},
                    outgoing=outgoing,
                )
            except ItemChanged:
                continue  # answered or moved meanwhile; the next tick looks again
            logger.info("%s escalated to %d administrator(s)", item.reference, len(outgoing))
            sent += len(outgoing)
        return sent

    async def next_due(self, now: datetime) -> datetime | None:
        return await self._deps.store.items.next_answer_due(now)


class DigestPlanner:
    name = "digest"

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def last_slot(self, now: datetime) -> datetime:
        """The latest digest time at or before `now`, in the city's time zone."""
        digest = self._deps.settings.coordination
        local = now.astimezone(self._deps.zone)
        slot = local.replace(hour=digest.digest_hour, minute=0, second=0, microsecond=0)
        slot -= timedelta(days=(local.weekday() - digest.digest_day) % 7)
        if slot > local:
            slot -= timedelta(days=7)
        # Rebuild from the wall-clock parts so a daylight-saving change keeps the hour.
        return slot.replace(tzinfo=None).replace(tzinfo=self._deps.zone)

    async def plan(self, now: datetime) -> int:
        slot = self.last_slot(now)
        if now - slot > DIGEST_GRACE:
            return 0
        store = self._deps.store
        messages: list[NewMessage] = []
        for group in await store.groups.list_groups():
            chats = await store.groups.list_group_chats(group.key)
            key = f"digest:{group.key}:{slot.date().isoformat()}"
            if not chats or await store.outbox.get_by_key(
                f"{key}:{chats[0].platform}:{chats[0].chat_id}"
            ):
                continue
            text = await self._digest_text(group.key, group.name, slot, now)
            payload = reply_to_payload(Reply(text))
            messages += [
                NewMessage(
                    f"{key}:{chat.platform}:{chat.chat_id}",
                    chat.platform,
                    chat.chat_id,
                    payload,
                    now,
                    is_group=True,
                )
                for chat in chats
            ]
        return await store.outbox.enqueue(messages, now)

    async def next_due(self, now: datetime) -> datetime | None:
        return self.last_slot(now) + timedelta(days=7)

    async def _digest_text(self, group_key: str, name: str, slot: datetime, now: datetime) -> str:
        items = self._deps.store.items
        speaker = voice(self._deps)
        new = await items.list_created_between(slot - timedelta(days=7), now, [group_key])
        open_count, overdue_count = await items.count_open(group_key, now)
        page = await items.list_pending(groups=[group_key], limit=OVERDUE_LISTED)
        overdue = [
            i
            for i in page.items
            if i.first_answered_at is None and i.answer_due_at and i.answer_due_at < now
        ]
        lines = [
            speaker._("Wochenübersicht für {group}").format(group=name),
            "",
            speaker._("Neu seit letzter Woche: {n}").format(n=len(new)),
            speaker._("Offen: {n}").format(n=open_count),
            speaker._("Überfällig: {n}").format(n=overdue_count),
        ]
        lines += [f"  {item.reference} · {speaker.day(item.created_at)}" for item in overdue]
        lines += ["", speaker._("/pending zeigt alle offenen Rückmeldungen.")]
        return "\n".join(lines)
