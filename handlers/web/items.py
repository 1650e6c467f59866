"""The items pages: the filtered list (and its CSV), one item with its history and files, and
the item's actions, which are the chat commands' own (`CoordinatorActions`).

A coordinator sees and changes only their groups' items, as in the chat: an item of another
group is "not found" (the web answers 404), whether it was linked or its reference guessed.
No page and no download names the author of an anonymous item; a named one shows the display
name only, as the item card in the chat does.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.context import Deps
from handlers.coordination.actions import CoordinatorActions
from handlers.coordination.history import history_sentence
from handlers.coordination.stats import period_bounds
from handlers.guards import check_length
from handlers.labels import kind_label, localized_name, state_label
from handlers.report.document import isolate
from handlers.web.access import WebUser
from handlers.workflow import NEEDS_NOTE, allowed_next, parse_state
from storage.items.feedback import is_reference
from storage.items.handling import ItemChanged
from storage.items.listing import SORTS, ItemListing, ItemPage, ItemQuery, ListedItem
from storage.models import FeedbackItem, ItemKind, ItemState

logger = logging.getLogger(__name__)
PAGE_SIZE = 50
MAX_PAGE = 200  # 10,000 items: beyond, filters find faster than paging
PERIODS = ("", "month", "30d", "year")
ACTIONS = ("take", "assign", "state", "reply", "note")


@dataclass(frozen=True)
class Filters:
    """The list's filters as the form shows them (all strings, "" for none)."""

    group: str = ""
    field: str = ""
    state: str = ""
    kind: str = ""
    overdue: bool = False
    period: str = ""
    q: str = ""
    sort: str = "newest"
    page: int = 1

    def params(self, **changes: object) -> dict[str, str]:
        """The query string of these filters, with `changes`; defaults left out."""
        values: dict[str, object] = {
            "group": self.group,
            "field": self.field,
            "state": self.state,
            "kind": self.kind,
            "overdue": "1" if self.overdue else "",
            "period": self.period,
            "q": self.q,
            "sort": self.sort if self.sort != "newest" else "",
            "page": self.page if self.page != 1 else "",
        }
        values.update(changes)
        kept = {k: str(v) for k, v in values.items() if str(v) != ""}
        if kept.get("page") == "1":
            del kept["page"]
        return kept


def read_filters(params: Mapping[str, str]) -> Filters:
    """The filters from a query string; anything unknown is dropped, never an error."""
    state = parse_state(params.get("state", "")) or ""
    kind = params.get("kind", "")
    period = params.get("period", "")
    if not (period in PERIODS or (period.isdigit() and len(period) == 4)):
        period = ""
    sort = params.get("sort", "newest")
    try:
        page = min(max(int(params.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    return Filters(
        group=params.get("group", "")[:64],
        field=params.get("field", "")[:64],
        state=state,
        kind=kind if kind in {k.value for k in ItemKind} else "",
        overdue=params.get("overdue", "") == "1",
        period=period,
        q=" ".join(params.get("q", "").split())[:100],
        sort=sort if sort in SORTS else "newest",
        page=page,
    )


@dataclass(frozen=True)
class ItemRow:
    """A list row in the reader's language."""

    item: ListedItem
    kind: str
    field: str
    group: str
    state: str
    created: str
    due: str
    overdue: bool


@dataclass(frozen=True)
class ItemList:
    filters: Filters
    rows: list[ItemRow]
    total: int
    more: bool
    capped: bool
    groups: list[tuple[str, str]]  # (key, name) the reader may filter by
    fields: list[tuple[str, str]]
    states: list[tuple[str, str]]
    kinds: list[tuple[str, str]]


@dataclass(frozen=True)
class HistoryLine:
    when: str
    what: str  # `handlers.coordination.history.history_sentence`


@dataclass(frozen=True)
class ItemView:
    item: FeedbackItem
    kind: str
    field: str
    group: str
    state: str
    author: str  # "anonymous" in the reader's language, unless the resident agreed
    created: str
    due: str
    overdue: bool
    history: list[HistoryLine]
    files: list[tuple[int, str, str, int]]
    next_states: list[tuple[str, str]]
    needs_note: list[str]
    groups: list[tuple[str, str]]  # where it can be re-routed


class WebItems:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._listing = ItemListing(deps.store.db)
        self.actions = CoordinatorActions(deps)

    def query(self, user: WebUser, filters: Filters) -> ItemQuery:
        start, end = self._period(user, filters.period)
        return ItemQuery(
            groups=user.role.visible_groups,
            group=filters.group,
            field=filters.field,
            state=filters.state,
            kind=filters.kind,
            overdue=filters.overdue,
            start=start,
            end=end,
            search=filters.q,
            sort=filters.sort,
        )

    def _period(self, user: WebUser, period: str) -> tuple[datetime | None, datetime | None]:
        if not period:
            return None, None
        turn = user.turn
        if period == "month":
            start = turn.local_now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            return start, None
        if period == "year":
            period = str(turn.local_now().year)
        bounds = period_bounds(period, turn.now, turn)
        return bounds if bounds is not None else (None, None)

    async def list_items(self, user: WebUser, filters: Filters) -> ItemList:
        page: ItemPage = await self._listing.list_page(
            self.query(user, filters),
            user.turn.now,
            offset=(filters.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        names = await self._names(user)
        rows = [self._row(user, item, names) for item in page.items]
        return ItemList(
            filters=filters,
            rows=rows,
            total=min(page.total, 10_000),
            more=page.more and filters.page < MAX_PAGE,
            capped=page.total > 10_000,
            groups=[(k, n) for k, n in names.groups.items() if user.role.can_act_on(k)],
            fields=list(names.fields.items()),
            states=[(s.value, state_label(user.turn, s)) for s in ItemState],
            kinds=[(k.value, kind_label(user.turn, k)) for k in ItemKind],
        )

    async def csv(self, user: WebUser, filters: Filters) -> bytes:
        """The whole filtered list as CSV (UTF-8 with a byte order mark, for spreadsheets):
        reference, kind, field, group, state, dates, who took it, and the text. No author."""
        items = await self._listing.list_all(self.query(user, filters), user.turn.now)
        names = await self._names(user)
        _ = user._
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                _("Kennung"),
                _("Art"),
                _("Handlungsfeld"),
                _("Arbeitsgruppe"),
                _("Stand"),
                _("Eingegangen"),
                _("Frist"),
                _("Erste Antwort"),
                _("Bearbeitet von"),
                _("Text"),
            ]
        )
        zone = self._deps.zone
        for i in items:
            writer.writerow(
                [
                    i.reference,
                    kind_label(user.turn, i.kind),
                    names.fields.get(i.field_key, i.field_key),
                    names.groups.get(i.group_key, i.group_key),
                    state_label(user.turn, i.state),
                    _iso(i.created_at, zone),
                    _iso(i.answer_due_at, zone),
                    _iso(i.first_answered_at, zone),
                    i.assignee_name or "",
                    i.text,
                ]
            )
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    async def visible_item(self, user: WebUser, reference: str) -> FeedbackItem | None:
        """The item, if the reader may see it; None both when it does not exist and when it
        belongs to another group (the page cannot tell the two apart)."""
        if not is_reference(reference):
            return None
        item = await self._deps.store.items.get_item(reference)
        if item is None or not user.role.can_act_on(item.group_key):
            if item is not None:
                logger.warning(
                    "web: refused %s to %s: not in group %s",
                    item.reference,
                    user.role.actor,
                    item.group_key,
                )
            return None
        return item

    async def item_view(self, user: WebUser, reference: str) -> ItemView | None:
        item = await self.visible_item(user, reference)
        if item is None or item.id is None:
            return None
        turn = user.turn
        items, groups = self._deps.store.items, self._deps.store.groups
        names = await self._names(user)
        author = await items.get_author(item)
        who = (
            author.display_name
            if author is not None and author.display_name and not item.anonymous
            else turn._("anonym")
        )
        # The sentences of the chat's /item, what people wrote isolated in its direction.
        history = [
            HistoryLine(turn.when(event.at), history_sentence(turn, event, names.groups, isolate))
            for event in await items.list_history(item.id)
        ]
        field = await groups.get_field(item.field_key)
        group = await groups.get_group(item.group_key)
        return ItemView(
            item=item,
            kind=kind_label(turn, item.kind),
            field=localized_name(turn, field, item.field_key),
            group=localized_name(turn, group, item.group_key),
            state=state_label(turn, item.state),
            author=who,
            created=turn.when(item.created_at),
            due=turn.day(item.answer_due_at) if item.answer_due_at else "",
            overdue=_is_overdue(item.answer_due_at, item.first_answered_at, item.state, turn.now),
            history=history,
            files=await self._listing.list_attachments(item.id),
            next_states=[(s, state_label(turn, s)) for s in allowed_next(item.state)],
            needs_note=sorted(NEEDS_NOTE),
            groups=[(k, n) for k, n in names.groups.items() if k != item.group_key],
        )

    async def attachment(
        self, user: WebUser, reference: str, attachment_id: int
    ) -> tuple[str, str, bytes] | None:
        """(file name, MIME type, bytes) of one of a visible item's files."""
        item = await self.visible_item(user, reference)
        if item is None or item.id is None:
            return None
        found = await self._listing.get_attachment(item.id, attachment_id)
        if found is None:
            return None
        return found.file_name, found.mime_type, found.data

    async def act(
        self, user: WebUser, reference: str, action: str, form: Mapping[str, str]
    ) -> str | None:
        """Carry out one of the item's actions through the chat commands' own code; returns
        what the chat would have answered, or None when the reader may not see the item."""
        if await self.visible_item(user, reference) is None:
            return None
        turn = user.turn
        text = form.get("text", "").strip()
        if action in ("reply", "note", "state"):
            too_long = check_length(turn, text, self._deps.settings)
            if too_long is not None:
                return too_long.text
        loaded = await self.actions.load(turn, action, reference)
        if isinstance(loaded, list):
            return loaded[0].text
        role, item = loaded
        try:
            if action == "take":
                replies = await self.actions.take(turn, role, item)
            elif action == "assign":
                replies = await self.actions.assign(turn, role, item, form.get("group", ""))
            elif action == "state":
                state = parse_state(form.get("state", "")) or ""
                replies = await self.actions.set_state(turn, role, item, state, text or None)
            elif action in ("reply", "note") and not text:
                return turn._("Bitte schreiben Sie einen Text.")
            elif action == "reply":
                replies = await self.actions.reply(turn, role, item, text)
            elif action == "note":
                replies = await self.actions.note(turn, role, item, text)
            else:
                return turn._("Diese Aktion gibt es nicht.")
        except ItemChanged:
            return turn._("{reference} wurde gerade von jemand anderem geändert.").format(
                reference=item.reference
            )
        return "\n".join(reply.text for reply in replies)

    async def _names(self, user: WebUser) -> _Names:
        groups = self._deps.store.groups
        turn = user.turn
        return _Names(
            {g.key: localized_name(turn, g, g.key) for g in await groups.list_groups()},
            {f.key: localized_name(turn, f, f.key) for f in await groups.list_fields()},
        )

    def _row(self, user: WebUser, item: ListedItem, names: _Names) -> ItemRow:
        turn = user.turn
        return ItemRow(
            item=item,
            kind=kind_label(turn, item.kind),
            field=names.fields.get(item.field_key, item.field_key),
            group=names.groups.get(item.group_key, item.group_key),
            state=state_label(turn, item.state),
            created=turn.day(item.created_at),
            due=turn.day(item.answer_due_at) if item.answer_due_at else "",
            overdue=_is_overdue(item.answer_due_at, item.first_answered_at, item.state, turn.now),
        )


@dataclass(frozen=True)
class _Names:
    groups: dict[str, str]
    fields: dict[str, str]


def _is_overdue(
    due: datetime | None, answered: datetime | None, state: str, now: datetime
) -> bool:
    return (
        due is not None
        and answered is None
        and state in (ItemState.RECEIVED, ItemState.IN_PROGRESS)
        and due < now
    )


def _iso(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="minutes") if moment else ""


__all__ = ["ACTIONS", "Filters", "ItemList", "ItemView", "WebItems", "read_filters"]
