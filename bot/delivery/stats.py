"""What the delivery loop counts, for `/metrics` and the benchmarks."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

LATENCIES_KEPT = 10_000


@dataclass
class DeliveryStats:
    sent: int = 0
    rate_limited: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    taken_over: int = 0  # rows another process claimed after this one's lease ran out
    # due → sent of the latest messages only, so that a long-running process does not grow
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))


@dataclass
class PlanStats:
    """What the plan scheduler counts, for `/metrics`: a tick that stops coming means no
    reminder, invitation or survey goes out, however healthy the rest looks."""

    ticks: int = 0
    planner_failures: int = 0  # a planner that raised (logged); the other planners ran on
    last_tick_at: float | None = None  # when the latest tick ended, seconds since the epoch
    last_tick_seconds: float = 0.0  # how long it took
