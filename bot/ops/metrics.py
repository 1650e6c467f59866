"""The bot's Prometheus metrics, in a registry of its own (one per wired bot, so that tests and
the report's child process never share counters through the library's global registry).

Counted as it happens: updates handled or failed and how long each took (`App.handle_in_turn`).
Read when scraped (`refresh`): the outbox and the items by state, from the database, and the
Telegram updates skipped as unreadable, from the channels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

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
