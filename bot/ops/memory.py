"""The garbage collector tuned for a bot that runs for months.

Start-up leaves several hundred thousand long-lived objects (python-telegram-bot, nio,
SQLAlchemy's schema and mappers, the catalogues). Python's collector rescans them in every
full collection, which on a 2-core VM stalled the loop for 65-90 ms at a time and made the
slowest 1 % of replies take 11 ms at 200 updates a second. Frozen, they are never scanned
again; a larger young generation makes the cheap collections rarer. Together: p99 8.3-9.4 ms,
and the largest stall 19-21 ms in four runs of five (`python -m bench.telegram_intake --mode
rate`; bench/README.md).
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

# Allocations (net) between two young collections, and the two older thresholds; the
# defaults are (700, 10, 10).
THRESHOLDS = (10_000, 20, 20)


def settle_after_start() -> None:
    """Collect what start-up threw away, freeze what it keeps, and space out collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    logger.info("memory: %d start-up objects frozen out of collection", gc.get_freeze_count())
