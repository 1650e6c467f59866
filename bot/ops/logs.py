"""Logging set-up: readable text for a terminal, one JSON object a line for production.

Secrets are taken out of the finished line, after the message, its arguments and any
traceback are formatted: a library's exception may quote the bot token in its text (PTB's
`InvalidToken` at start-up does), and a filter on the message alone would let it through.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
MIN_SECRET = 8  # shorter values would redact ordinary words
REDACTED = "[redacted]"
# The name of the handler `configure_logging` installs, so that it can be told apart from
# handlers others added to the root logger (pytest's log capture).
HANDLER = "mitreden"

# Libraries whose DEBUG (or INFO) lines hold what must not be logged: httpx logs every
# request at INFO, and the URL holds the bot token; python-telegram-bot logs whole updates
# (residents' names and texts) and every call's parameters at DEBUG; nio and its key store
# (peewee) would log events and keys at DEBUG.
QUIET = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "alembic.runtime.migration": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
    "nio": logging.WARNING,
    "peewee": logging.WARNING,
    "telegram": logging.INFO,
}


class JsonFormatter(logging.Formatter):
    """Each record as JSON, with any `extra={...}` context as top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Formats with `inner`, then replaces every secret in the finished line, traceback and
    JSON included."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner
        self._secrets: list[str] = []

    def add(self, *secrets: str) -> None:
        """Redact these too. A Telegram token's part after the colon is redacted on its own
        as well: it is the secret, and it may appear apart (URL-encoded, cut off)."""
        for secret in secrets:
            for value in (secret, secret.partition(":")[2]):
                forms = (value, json.dumps(value, ensure_ascii=False)[1:-1])
                for form in forms:
                    if len(form) >= MIN_SECRET and form not in self._secrets:
                        self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)  # a secret before its own parts

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        return line


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    inner = (
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler = logging.StreamHandler()
    handler.set_name(HANDLER)
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings through the same redaction, not to stderr
    quiet_libraries()


@contextmanager
def warnings_only() -> Iterator[None]:
    """While a person talks to the bot in this terminal (the console channel), the handler of
    `configure_logging` writes only warnings and errors: its INFO lines would go to the same
    terminal, between the person's lines and the bot's answers. The handler's own level is
    raised, not the loggers', so a handler added by someone else still gets everything."""
    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER]
    levels = [h.level for h in ours]
    for handler in ours:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield
    finally:
        for handler, level in zip(ours, levels, strict=True):
            handler.setLevel(level)


def quiet_libraries() -> None:
    """Raise the level of the libraries in `QUIET`, at any root level (DEBUG included)."""
    for name, least in QUIET.items():
        logging.getLogger(name).setLevel(least)


def redact(*secrets: str) -> None:
    """Take `secrets` out of every line the root handlers write from now on."""
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if not isinstance(formatter, RedactingFormatter):
            formatter = RedactingFormatter(formatter or logging.Formatter())
            handler.setFormatter(formatter)
        formatter.add(*(secret for secret in secrets if secret))
