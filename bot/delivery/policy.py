"""How the delivery loop works (`[delivery]` of the configuration, in the loop's own terms)
and what it counts."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bot.settings import DeliverySettings

LATENCIES_KEPT = 10_000
_CONFIGURED = DeliverySettings()  # the defaults live in one place: the settings


@dataclass(frozen=True)
class DeliveryPolicy:
    workers: int = _CONFIGURED.workers
    max_attempts: int = _CONFIGURED.max_attempts
    backoff_start: float = _CONFIGURED.backoff_start_seconds
    backoff_cap: float = _CONFIGURED.backoff_cap_seconds
    lease: float = _CONFIGURED.claim_lease_seconds
    poll_interval: float = _CONFIGURED.poll_interval_seconds
    claim_batch: int = 200  # rows taken per claim; not a setting an operator needs

    @classmethod
    def from_settings(cls, settings: DeliverySettings) -> DeliveryPolicy:
        return cls(
            workers=settings.workers,
            max_attempts=settings.max_attempts,
            backoff_start=settings.backoff_start_seconds,
            backoff_cap=settings.backoff_cap_seconds,
            lease=settings.claim_lease_seconds,
            poll_interval=settings.poll_interval_seconds,
        )


@dataclass
class DeliveryStats:
    sent: int = 0
    rate_limited: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    # due → sent of the latest messages only, so that a long-running process does not grow
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT))
