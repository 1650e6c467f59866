"""The bot's Prometheus metrics, in a registry of its own (one per wired bot, so that tests and
the report's child process never share counters through the library's global registry).

Counted as it happens: updates handled or failed and how long each took (`App.handle_in_turn`),
each call that sends to a platform by its result (the channels' senders, `App.count_send`).
Read when scraped (`refresh`): the outbox and the items by state, from the database, the
Telegram updates skipped as unreadable, from the channels, and the plan scheduler's ticks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.delivery.stats import PlanStats
from storage.inbox import InboxStatus
from storage.models import ItemState, OutboxState
from storage.store import Store

HANDLED = "handled"
FAILED = "failed"


class Metrics:
    """What `/metrics` shows, named `mitreden_*`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "mitreden_updates",
            "Updates from residents and coordinators, by channel and whether handling failed.",
            ["channel", "result"],
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "mitreden_reply_seconds",
            "Time to handle one update, up to its replies (sending not included).",
            registry=self.registry,
        )
        self.sends = Counter(
            "mitreden_sends",
            "Calls that send to a platform (Telegram Bot API calls, Matrix events), direct "
            "replies and the outbox alike, by channel and how they ended: ok, rate_limited "
            "(429), unreachable (403, blocked), rejected (400), timeout, temporary (5xx, lost "
            "connection).",
            ["channel", "result"],
            registry=self.registry,
        )
        self.outbox = Gauge(
            "mitreden_outbox_messages",
            "Outbox messages by state (read from the database when scraped).",
            ["state"],
            registry=self.registry,
        )
        self.items = Gauge(
            "mitreden_items",
            "Feedback items by state (read from the database when scraped).",
            ["state"],
            registry=self.registry,
        )
        self._unreadable = _UnreadableUpdates()
        self.registry.register(self._unreadable)
        self.leader = Gauge(
            "mitreden_leader",
            "1 while this process leads (runs the plan ticks, the webhook registration and "
            "the Matrix sync; several processes on one PostgreSQL), else 0.",
            registry=self.registry,
        )
        self._inbox_status: Callable[[], Awaitable[InboxStatus]] | None = None
        self._inbox_waiting: Gauge | None = None
        self._inbox_oldest: Gauge | None = None

    def watch_plans(self, stats: PlanStats) -> None:
        """Report the plan scheduler's ticks (`mitreden_plan_*`)."""
        self.registry.register(_Plans(stats))

    def watch_leadership(self, leads: Callable[[], bool]) -> None:
        """Report `leads()` as `mitreden_leader` (1 or 0)."""
        self.leader.set_function(lambda: float(leads()))

    def watch_inbox(self, status: Callable[[], Awaitable[InboxStatus]]) -> None:
        """Report the webhook inbox (PostgreSQL) when scraped: the updates waiting, and when
        the oldest of them arrived."""
        self._inbox_status = status
        self._inbox_waiting = Gauge(
            "mitreden_inbox_updates_waiting",
            "Telegram updates taken in by webhook and not yet handled, all processes "
            "together (read from the database when scraped).",
            registry=self.registry,
        )
        self._inbox_oldest = Gauge(
            "mitreden_inbox_oldest_waiting_timestamp_seconds",
            "When the oldest update still waiting arrived (seconds since the epoch; 0: none "
            "waits).",
            registry=self.registry,
        )

    def count_unreadable(self, count: Callable[[], int]) -> None:
        """Report `count()` as `mitreden_unreadable_updates_total` (the channels' skips)."""
        self._unreadable.count = count

    async def refresh(self, store: Store) -> None:
        """Read the gauges that come from the database; every state shows, 0 when none."""
        outbox = await store.outbox.count_by_state()
        for outbox_state in OutboxState:
            self.outbox.labels(state=str(outbox_state)).set(outbox.get(outbox_state, 0))
        items = await store.items.count_by_state()
        for item_state in ItemState:
            self.items.labels(state=str(item_state)).set(items.get(item_state, 0))
        if self._inbox_status is not None:
            assert self._inbox_waiting is not None and self._inbox_oldest is not None
            inbox = await self._inbox_status()
            self._inbox_waiting.set(inbox.pending)
            oldest = inbox.oldest_received_at
            self._inbox_oldest.set(oldest.timestamp() if oldest is not None else 0)

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class _UnreadableUpdates(Collector):
    """Telegram updates skipped because they could not be read, summed over the channels."""

    def __init__(self) -> None:
        self.count: Callable[[], int] = lambda: 0

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "mitreden_unreadable_updates",
            "Telegram updates skipped because they could not be read.",
            value=self.count(),
        )


class _Plans(Collector):
    """The plan scheduler's ticks: alert when the latest is older than a few intervals."""

    def __init__(self, stats: PlanStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily(
            "mitreden_plan_ticks",
            "Plan ticks run (each derives what is due from the database and enqueues it).",
            value=stats.ticks,
        )
        yield CounterMetricFamily(
            "mitreden_plan_failures",
            "Planners that failed in a tick (logged with the planner's name).",
            value=stats.planner_failures,
        )
        if stats.last_tick_at is not None:
            yield GaugeMetricFamily(
                "mitreden_plan_last_tick_timestamp_seconds",
                "When the latest plan tick ended (seconds since the epoch).",
                value=stats.last_tick_at,
            )
        yield GaugeMetricFamily(
            "mitreden_plan_last_tick_duration_seconds",
            "How long the latest plan tick took.",
            value=stats.last_tick_seconds,
        )
