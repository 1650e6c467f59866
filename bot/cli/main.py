"""`mitreden run | shell | broadcast | group | coordinator | event | report | db`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from bot.app import App, bootstrap, console_channel
from bot.cli import demo as cli_demo
from bot.cli import events as cli_events
from bot.cli import groups as cli_groups
from bot.cli import report as cli_report
from bot.cli.progress import ProgressBar
from bot.config import SECRETS, ConfigError, Settings, load_settings
from bot.ops.logs import configure_logging, redact
from bot.runtime import run, serve
from handlers.announce import UnknownAudience, enqueue_announcement
from storage.db import Database, database_secret
from storage.schema import current_revision, upgrade_to_head

logger = logging.getLogger("mitreden")
STALL_WARNING = 10.0  # seconds without progress before the bar says what it waits for


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(_config_path(args.config))
    except ConfigError as error:
        print(f"mitreden: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.bot.log_level, settings.bot.log_format)
    redact(*secrets_of(settings))
    try:
        return int(asyncio.run(args.action(settings, args)) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except Exception as error:
        # Imported here for weight, not to break an import cycle: python-telegram-bot is loaded
        # only by the commands that run the Telegram channel (about 0.2 s and 35 MiB otherwise
        # paid by every command, `bench/idle.py`); when the error came from there, it is loaded.
        from bot.channels.telegram.channel import TokenRejected

        if isinstance(error, TokenRejected):
            logger.critical("%s", error)
            return 2
        # Through logging, not Python's own traceback print: the same redaction and format
        # (a JSON line with log_format "json") as every other line.
        logger.critical("mitreden stopped by an unexpected error", exc_info=True)
        return 1


def _reader_gone() -> int:
    """The command's output went to a pipe whose reader stopped (`| head -1`): end quietly
    with 128 + SIGPIPE, as shell tools do, and let nothing more be written to it (Python
    would otherwise report the failed flush of standard output at exit)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the settings hold, to be kept out of all output: the settings marked
    secret (`bot.config.SECRETS`), the database's password and the proxies' passwords."""
    found = [
        str(getattr(getattr(settings, section), key))
        for section, keys in SECRETS.items()
        for key in keys
    ]
    found.append(database_secret(settings.database.url))
    for proxy in (settings.telegram.proxy_url, settings.matrix.proxy_url):
        found.append(urlsplit(proxy).password or "")
    return [secret for secret in found if secret]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mitreden", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mitreden {version('mitreden')}")
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML file (default: $MITREDEN_CONFIG, "
        "else ./config.toml if present, else built-in defaults)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot on every configured channel")
    run.set_defaults(action=_run)
    shell = commands.add_parser("shell", help="talk to the bot as one resident in this terminal")
    shell.add_argument("--as", dest="user", help="the resident's name (default: console.user)")
    shell.add_argument("--language", help="the resident's platform language, e.g. en")
    shell.set_defaults(action=_shell)
    broadcast = commands.add_parser(
        "broadcast", help="send an announcement through the outbox and show its delivery"
    )
    broadcast.add_argument(
        "--to",
        dest="audience",
        required=True,
        help="subscribers, all, or group:KEY (the group's chats)",
    )
    broadcast.add_argument(
        "--no-wait", action="store_true", help="queue it and return without waiting for delivery"
    )
    broadcast.add_argument("text", help="the announcement")
    broadcast.set_defaults(action=_broadcast)
    cli_groups.add_parsers(commands, _with_app)
    cli_events.add_parsers(commands, _with_app)
    cli_report.add_parsers(commands, _with_app)
    cli_demo.add_parsers(commands, _with_app)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(action=_db_upgrade)
    db.add_parser("current", help="show the schema revision").set_defaults(action=_db_current)
    return parser


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if os.environ.get("MITREDEN_CONFIG"):
        return Path(os.environ["MITREDEN_CONFIG"])
    local = Path("config.toml")
    return local if local.exists() else None


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    bot = await bootstrap(settings, ops=True)
    try:
        return await serve(bot)
    finally:
        await bot.close()


async def _shell(settings: Settings, args: argparse.Namespace) -> int:
    """One resident on the console; no other channel, so a script cannot reach anyone: the
    outbox is left to `mitreden run`, and nothing is scheduled."""
    console = console_channel(args.user or settings.console.user, language=args.language)
    bot = await bootstrap(settings, channels=[console])
    try:
        await run(bot, asyncio.Event(), deliver=False, schedule=False)
        return 0
    finally:
        await bot.close()


async def _broadcast(settings: Settings, args: argparse.Namespace) -> int:
    """Queue one message per recipient; the running bot delivers them, this shows progress."""
    app = (await bootstrap(settings, channels=())).app
    try:
        try:
            prefix, total = await enqueue_announcement(
                app.store, args.audience, args.text, app.clock.now()
            )
        except UnknownAudience:
            print(f"mitreden: unknown audience {args.audience!r}", file=sys.stderr)
            return 2
        print(f"announcement queued for {total} recipient(s)")
        if args.no_wait or total == 0:
            return 0
        return await _show_delivery(app, prefix, total)
    finally:
        await app.close()


async def _show_delivery(app: App, prefix: str, total: int) -> int:
    bar = ProgressBar(total)
    stalled_since = time.monotonic()
    last_done = -1
    while True:
        progress = await app.store.outbox.progress(prefix)
        done = progress.sent + progress.dead + progress.skipped
        detail = f"sent {progress.sent}, failed {progress.dead}, blocked {progress.skipped}"
        if done != last_done:
            last_done, stalled_since = done, time.monotonic()
        elif time.monotonic() - stalled_since > STALL_WARNING:
            detail += " (waiting for the bot: is `mitreden run` running?)"
        bar.show(done, detail)
        if progress.waiting == 0:
            bar.close()
            return 0 if progress.dead == 0 else 1
        await asyncio.sleep(0.5)


def _with_app(command: cli_groups.AppCommand) -> Callable[..., Awaitable[int]]:
    """Run `command` on a built app (migrated database, groups from the configuration)."""

    async def run_command(settings: Settings, args: argparse.Namespace) -> int:
        app = (await bootstrap(settings, channels=())).app
        try:
            return await command(app, args)
        finally:
            await app.close()

    return run_command


async def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database.url)
    try:
        revision = await upgrade_to_head(db)
        print(f"database is at revision {revision}")
    finally:
        await db.dispose()
    return 0


async def _db_current(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database.url)
    try:
        current, head = await current_revision(db)
        print(f"database: {current or 'empty'}; newest shipped: {head}")
        return 0 if current == head else 1
    finally:
        await db.dispose()
