"""Coordinator commands: `/pending`, `/item`, `/take`, `/assign`, `/state`, `/reply`,
`/note`, `/stats`. Refusals are clear and logged; a coordinator sees only their groups."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from babel.dates import format_timedelta

from handlers.context import Deps, Turn
from handlers.coordination.actions import CoordinatorActions
from handlers.coordination.history import history_line
from handlers.coordination.notify import item_actions, item_card, reachable
from handlers.coordination.stats import stats_text
from handlers.labels import kind_label, localized_name, name_list, read_state, state_names
from handlers.messages import Attachment, Choice, Reply
from handlers.roles import Role, refuse, role_of
from storage.items.handling import ItemChanged
from storage.models import FeedbackItem, FieldOfAction, WorkingGroup

logger = logging.getLogger(__name__)
PAGE_PAYLOAD = "pg:"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
Action = Callable[[Role, FeedbackItem], Awaitable[list[Reply]]]


class CoordinatorCommands:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self.actions = CoordinatorActions(deps)

    async def pending(self, turn: Turn) -> list[Reply]:
        role = await role_of(self._deps, turn)
        if not role.is_coordinator:
            return refuse(turn, "pending")
        return [await self.pending_page(turn, role, _rest(turn, 0), None)]

    async def pending_page(
        self, turn: Turn, role: Role, scope: str, after: tuple[datetime, int] | None
    ) -> Reply:
        """One page of open items: overdue first, then by due date, each with its age.

        `scope` is what follows /pending: a working group or a field of action, by key or by
        name (German or the coordinator's language), of one or several words."""
        groups, field_key = role.visible_groups, None
        if scope:
            named = await self._scope(turn, scope)
            if isinstance(named, WorkingGroup):
                if not role.can_act_on(named.key):
                    logger.warning(
                        "refused /pending %s for %s: not their group", named.key, role.actor
                    )
                    return Reply(
                        turn._("{group} gehört nicht zu Ihren Arbeitsgruppen.").format(
                            group=localized_name(turn, named, named.key)
                        )
                    )
                groups = (named.key,)
            elif isinstance(named, FieldOfAction):
                field_key = named.key
            else:
                return Reply(
                    turn._("{scope} ist weder eine Arbeitsgruppe noch ein Handlungsfeld.").format(
                        scope=scope
                    )
                )
            scope = named.key  # the page button carries the key: short, and in any language
        page = await self._deps.store.items.list_pending(
            groups=groups,
            field_key=field_key,
            after=after,
            limit=self._deps.settings.coordination.page_size,
        )
        if not page.items:
            return Reply(
                turn._("Keine offenen Rückmeldungen.")
                if after is None
                else turn._("Keine weiteren offenen Rückmeldungen.")
            )
        lines = [turn._("Offene Rückmeldungen, die ältesten zuerst:")]
        for item in page.items:
            field = await self._deps.store.groups.get_field(item.field_key)
            lines.append(
                self._pending_line(turn, item, localized_name(turn, field, item.field_key))
            )
        choices: tuple[Choice, ...] = ()
        if page.next_after is not None:
            due, item_id = page.next_after
            # Microseconds, not seconds: a rounded due date would repeat the page's last item.
            payload = f"{PAGE_PAYLOAD}{scope}:{(due - EPOCH) // MICROSECOND}:{item_id}"
            choices = (Choice(turn._("Weitere"), payload),)
        return Reply("\n".join(lines), choices)

    async def _scope(self, turn: Turn, scope: str) -> WorkingGroup | FieldOfAction | None:
        """The working group or field of action `scope` names: its key, its German name or
        its name in the coordinator's language, in any case and spacing; groups first."""
        wanted = _folded(scope)
        store = self._deps.store.groups
        named: list[WorkingGroup | FieldOfAction] = [
            *await store.list_groups(),
            *await store.list_fields(),
        ]
        for candidate in named:
            spellings = (candidate.key, candidate.name, localized_name(turn, candidate, ""))
            if wanted in {_folded(spelling) for spelling in spellings}:
                return candidate
        return None

    def _pending_line(self, turn: Turn, item: FeedbackItem, field: str) -> str:
        age = format_timedelta(turn.now - item.created_at, locale=turn.locale)
        line = f"{item.reference} · {kind_label(turn, item.kind)} · {field} · {age}"
        overdue = (
            item.answer_due_at is not None
            and item.first_answered_at is None
            and item.answer_due_at < turn.now
        )
        if overdue:
            line += " · " + turn._("ÜBERFÄLLIG")
        if item.assignee_name:
            line += " · " + item.assignee_name
        return line

    async def next_page(self, turn: Turn, payload: str) -> list[Reply]:
        role = await role_of(self._deps, turn)
        if not role.is_coordinator:
            return refuse(turn, "pending")
        scope, _, rest = payload.removeprefix(PAGE_PAYLOAD).rpartition(":")
        scope, _, stamp = scope.rpartition(":")
        try:
            after = (EPOCH + int(stamp) * MICROSECOND, int(rest))
        except (ValueError, OverflowError):
            return [Reply(turn._("Diese Schaltfläche gilt nicht mehr."), notice=True)]
        return [await self.pending_page(turn, role, scope, after)]

    async def item(self, turn: Turn) -> list[Reply]:
        loaded = await self.actions.load(turn, "item", _arg(turn, 0))
        if isinstance(loaded, list):
            return loaded
        role, item = loaded
        items, groups = self._deps.store.items, self._deps.store.groups
        author = await items.get_author(item)
        ids = await items.list_attachment_ids(item.id or 0)
        answerable = reachable(author)
        card = item_card(
            turn,
            item,
            await groups.get_field(item.field_key),
            author.display_name if author else None,
            len(ids),
            answerable=answerable,
        )
        names = {g.key: localized_name(turn, g, g.key) for g in await groups.list_groups()}
        lines = [
            card,
            "",
            turn._("Arbeitsgruppe: {group}").format(
                group=names.get(item.group_key, item.group_key)
            ),
            turn._("Verlauf:"),
        ]
        lines += [history_line(turn, e, names) for e in await items.list_history(item.id or 0)]
        files = tuple(
            Attachment(a.kind, a.file_name, a.mime_type, a.data, stored_id=a.id, caption=a.caption)
            for a in await items.get_attachments(ids)
        )
        actions = item_actions(turn, item, role.actor, answerable=answerable)
        return [Reply("\n".join(lines), actions, files=files)]

    async def take(self, turn: Turn) -> list[Reply]:
        return await self._act(
            turn, "take", lambda role, item: self.actions.take(turn, role, item)
        )

    async def assign(self, turn: Turn) -> list[Reply]:
        group = _arg(turn, 1)
        if not group:
            return [Reply(turn._("So geht es: /assign F-2026-0042 arbeitsgruppe"))]
        return await self._act(
            turn, "assign", lambda role, item: self.actions.assign(turn, role, item, group)
        )

    async def state(self, turn: Turn) -> list[Reply]:
        read = read_state(turn, _rest(turn, 1))
        if read is None:
            return [
                Reply(
                    turn._(
                        "So geht es: /state F-2026-0042 STATUS [Anmerkung]. Status: {states}."
                    ).format(states=name_list(turn, state_names(turn)))
                )
            ]
        state, note = read[0], read[1] or None
        return await self._act(
            turn, "state", lambda role, item: self.actions.set_state(turn, role, item, state, note)
        )

    async def reply(self, turn: Turn) -> list[Reply]:
        text = _rest(turn, 1)
        if not text:
            return [Reply(turn._("So geht es: /reply F-2026-0042 Ihr Text"))]
        return await self._act(
            turn, "reply", lambda role, item: self.actions.reply(turn, role, item, text)
        )

    async def note(self, turn: Turn) -> list[Reply]:
        text = _rest(turn, 1)
        if not text:
            return [Reply(turn._("So geht es: /note F-2026-0042 Ihr Text"))]
        return await self._act(
            turn, "note", lambda role, item: self.actions.note(turn, role, item, text)
        )

    async def stats(self, turn: Turn) -> list[Reply]:
        role = await role_of(self._deps, turn)
        if not role.is_coordinator:
            return refuse(turn, "stats")
        return [await stats_text(self._deps, turn, role, _arg(turn, 0) or "")]

    async def _act(self, turn: Turn, command: str, action: Action) -> list[Reply]:
        loaded = await self.actions.load(turn, command, _arg(turn, 0))
        if isinstance(loaded, list):
            return loaded
        try:
            return await action(*loaded)
        except ItemChanged:
            return [
                Reply(
                    turn._(
                        "{reference} wurde gerade von jemand anderem geändert. "
                        "/item {reference} zeigt den neuen Stand."
                    ).format(reference=loaded[1].reference)
                )
            ]


def _arg(turn: Turn, index: int) -> str | None:
    args = turn.incoming.args
    return args[index] if len(args) > index else None


def _folded(name: str) -> str:
    """A name as typed or configured, compared without case or extra spacing."""
    return " ".join(name.casefold().split())


def _rest(turn: Turn, skip: int) -> str:
    """The command's text after its first `skip` words, spacing and line breaks kept."""
    text = turn.incoming.text.strip()
    parts = text.split(None, skip + 1)
    return parts[skip + 1].strip() if len(parts) > skip + 1 else ""
