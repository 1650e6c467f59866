"""mitreden: a city's conversation with its residents, on Telegram, Matrix and the console.

`mitreden run` serves residents and working groups. The other commands are the
administrator's: they work on the same database (`[database] url`), and what they change
reaches a running bot at once. Settings come from --config, $MITREDEN_CONFIG or
./config.toml, with MITREDEN_<SECTION>_<KEY> variables on top.
"""

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

from bot.app import (
    App,
    NoDatabase,
    bootstrap,
    console_channel,
    require_database_file,
)
from bot.channels.port import CredentialsRejected
from bot.cli import backup as cli_backup
from bot.cli import config_cmd as cli_config
from bot.cli import demo as cli_demo
from bot.cli import events as cli_events
from bot.cli import groups as cli_groups
from bot.cli import outbox as cli_outbox
from bot.cli import polls as cli_polls
from bot.cli import report as cli_report
from bot.cli.helptext import CommandParser, examples
from bot.cli.progress import ProgressBar
from bot.config import SECRETS, ConfigError, Settings, load_settings
from bot.ops.logs import configure_logging, redact
from bot.runtime import run, serve, stop_on_signals
from handlers.announce import (
    EVERYONE,
    SUBSCRIBERS,
    Texts,
    UnknownAudience,
    UnknownLanguage,
    count_languages,
    enqueue_announcement,
    parse_sections,
    recipients_of,
)
from handlers.i18n import LANGUAGE_NAMES, SOURCE_LANGUAGE
from storage.db import Database, database_secret, database_shown
from storage.schema import current_revision, upgrade_to_head

logger = logging.getLogger("mitreden")
STALL_WARNING = 10.0  # seconds without progress before the bar says what it waits for


# What `mitreden` exits with; shown by `mitreden --help` and in the README ("Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # a runtime failure: an unexpected error (logged with its traceback), ...
EXIT_USAGE = 2  # configuration, credentials, usage: one line says what to change
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130; a closed pipe is 128 + SIGPIPE (`_reader_gone`)
EXIT_CODES = """\
exit codes:
  0    done; `run`: stopped by SIGTERM or Ctrl+C
  1    failed at run time: an unexpected error (logged with its traceback);
       `broadcast`: messages not delivered; `db current`: schema not the newest
  2    configuration, credentials or usage, said in one line on standard error:
       a wrong setting or option, a token or password the platform rejected, no
       channel for `run`, no database yet (`mitreden db upgrade` creates it)
  130  interrupted by Ctrl+C (an administrator's command; `run` stops with 0)
  141  the output's reader went away (`mitreden group list | head -1`)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (`EXIT_CODES`)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(_config_path(args.config), data_dir=args.data_dir)
    except ConfigError as error:
        print(f"mitreden: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.bot.log_level, settings.bot.log_format)
    redact(*secrets_of(settings))
    logger.info(
        "data directory %s; database %s", settings.data.dir, database_shown(settings.database.url)
    )
    try:
        return int(asyncio.run(args.action(settings, args)) or EXIT_OK)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_gone()
    except ConfigError as error:  # found while wiring: a channel's settings, no channel
        print(f"mitreden: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except NoDatabase as error:
        print(f"mitreden: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CredentialsRejected as error:
        # Logged, not printed: it ends `mitreden run`, whose output is the log (one JSON
        # line with log_format "json").
        logger.critical("%s", error)
        return EXIT_USAGE
    except Exception:
        # Through logging, not Python's own traceback print: the same redaction and format
        # (a JSON line with log_format "json") as every other line.
        logger.critical("mitreden stopped by an unexpected error", exc_info=True)
        return EXIT_FAILED


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
    parser = CommandParser(
        prog="mitreden",
        description=__doc__,
        epilog=examples(
            "mitreden --config config.example.toml shell --as alice",
            "mitreden --config /etc/mitreden/config.toml run",
            "mitreden group list",
            "mitreden event --help",
        )
        + "\n\n"
        + EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"mitreden {version('mitreden')}")
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML file (default: $MITREDEN_CONFIG, "
        "else ./config.toml if present, else built-in defaults)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the directory for the database and the Matrix store (default: data.dir, "
        "$MITREDEN_DATA_DIR, else $STATE_DIRECTORY or ~/.local/state/mitreden)",
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        title="commands",
        metavar="COMMAND",
        description="`mitreden COMMAND --help` shows a command's options, with examples.",
    )
    run = commands.add_parser(
        "run",
        help="run the bot on every configured channel (the console when none is)",
        description="Run the bot: Telegram and Matrix where configured, else the console; "
        "the outbox and the scheduler; health and metrics on ops.listen. Applies pending "
        "database migrations first. Stops cleanly on SIGTERM or Ctrl-C.",
        epilog=examples(
            "mitreden --config /etc/mitreden/config.toml run",
            "MITREDEN_TELEGRAM_TOKEN_FILE=/run/secrets/token mitreden run",
        ),
    )
    run.set_defaults(action=_run)
    shell = commands.add_parser(
        "shell",
        help="talk to the bot in this terminal, as a resident or a coordinator",
        description="Talk to the bot in this terminal, as a resident or as a coordinator. "
        "To try the coordinator side, make a console name a coordinator first: "
        "`mitreden coordinator add uag-bildung console:cora`, then `mitreden shell --as cora` "
        "(/pending, /item, /take, /reply, /state, /stats). Files the bot sends are written to "
        "the current directory; the log shows only warnings.",
        epilog=examples(
            "mitreden --config config.example.toml shell --as alice",
            "mitreden shell --as ayse --language tr",
        ),
    )
    shell.add_argument(
        "--as",
        dest="user",
        help="who talks: a resident's name (default: console.user), or a coordinator's, "
        "as in console:NAME of `mitreden coordinator add GROUP console:NAME`",
    )
    shell.add_argument("--language", help="the resident's platform language, e.g. en")
    shell.set_defaults(action=_shell)
    broadcast = commands.add_parser(
        "broadcast",
        help="send an announcement through the outbox and show its delivery",
        description="Queue an announcement, one message per recipient, after asking whether "
        "to send it to that many (--yes: without asking; it must be given when there is no "
        "terminal to ask on). The running bot (`mitreden run`) delivers it; this command shows "
        "the delivery until it is done.\n\n"
        "Each resident gets the text in the language they chose (--text-en, --text-ar, ...), "
        "the German text when there is none in theirs; working groups' chats get the German "
        "one. --file reads the texts from a file: the German text first, then a section per "
        "language, each beginning with a line such as [en].",
        epilog=examples(
            'mitreden broadcast --to subscribers "Einladung zum Runden Tisch am 1. Oktober"',
            'mitreden broadcast --to all "Das Büro ist am Freitag geschlossen." '
            '--text-en "The office is closed on Friday." --text-tr "Ofis cuma günü kapalı."',
            "mitreden broadcast --to all --file mitteilung.txt",
            'mitreden broadcast --to group:uag-bildung "Die Dokumente sind da."',
            'mitreden broadcast --to all --yes --no-wait "Das Büro ist am Freitag geschlossen."',
        ),
    )
    broadcast.add_argument(
        "--to",
        dest="audience",
        required=True,
        help="subscribers (residents who subscribed to invitations), all (every resident the "
        "bot can reach), or group:KEY (the chats of a working group)",
    )
    broadcast.add_argument(
        "--yes", action="store_true", help="send without asking for confirmation"
    )
    broadcast.add_argument(
        "--no-wait", action="store_true", help="queue it and return without waiting for delivery"
    )
    broadcast.add_argument(
        "text", nargs="?", help="the announcement in German (bot.default_language), as it is sent"
    )
    broadcast.add_argument(
        "--file",
        type=Path,
        help="the texts from a file: the German text, then `[en]` on a line and the English "
        "text, and so on for every language given",
    )
    for code in LANGUAGE_NAMES:
        if code != SOURCE_LANGUAGE:
            broadcast.add_argument(
                f"--text-{code.replace('_', '-')}",
                dest=f"text_{code}",
                metavar="TEXT",
                help=f"the announcement in {LANGUAGE_NAMES[code]} ({code})",
            )
    broadcast.set_defaults(action=_broadcast)
    cli_groups.add_parsers(commands, _with_app)
    cli_outbox.add_parsers(commands, _with_app)
    cli_events.add_parsers(commands, _with_app)
    cli_polls.add_parsers(commands, _with_app)
    cli_report.add_parsers(commands, _with_app)
    cli_demo.add_parsers(commands, _with_app)
    cli_config.add_parsers(commands)
    cli_backup.add_parsers(commands)
    db = commands.add_parser(
        "db",
        help="the database schema: upgrade, current revision",
        epilog=examples("mitreden db upgrade", "mitreden db current"),
    ).add_subparsers(dest="db", required=True, metavar="COMMAND")
    db.add_parser(
        "upgrade",
        help="apply pending migrations (`mitreden run` does so too, on start)",
        epilog=examples("mitreden db upgrade"),
    ).set_defaults(action=_db_upgrade)
    db.add_parser(
        "current",
        help="show the schema revision; exit code 1 while migrations are pending",
        epilog=examples("mitreden db current"),
    ).set_defaults(action=_db_current)
    return parser


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if os.environ.get("MITREDEN_CONFIG"):
        return Path(os.environ["MITREDEN_CONFIG"])
    local = Path("config.toml")
    return local if local.exists() else None


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, which are heard from before the bot is wired."""
    with stop_on_signals() as stop:
        bot = await bootstrap(settings, ops=True)
        try:
            return await serve(bot, stop)
        finally:
            await bot.close()


async def _shell(settings: Settings, args: argparse.Namespace) -> int:
    """One resident on the console; no other channel, so a script cannot reach anyone: the
    outbox is left to `mitreden run`, and nothing is scheduled."""
    if sys.stdin is None:  # `mitreden shell <&-`: Python has no standard input to read
        print(
            "mitreden: shell: standard input is closed; run it in a terminal or give it a "
            "script: printf '/start\\n' | mitreden shell",
            file=sys.stderr,
        )
        return EXIT_USAGE
    console = console_channel(args.user or settings.console.user, language=args.language)
    bot = await bootstrap(settings, channels=[console])
    try:
        await run(bot, asyncio.Event(), deliver=False, schedule=False)
        return 0
    finally:
        await bot.close()


async def _broadcast(settings: Settings, args: argparse.Namespace) -> int:
    """Queue one message per recipient, each in their language, once the administrator has
    seen how many that are (and how many get which language) and agreed; the running bot
    delivers them, this shows progress."""
    default = settings.bot.default_language
    try:
        texts = _announcement_texts(args, settings.bot.languages, default)
    except ValueError as error:
        print(f"mitreden: {error}", file=sys.stderr)
        return 2
    app = (await bootstrap(settings, channels=(), create=False)).app
    try:
        try:
            size, audience, languages = await _audience(app, args.audience, texts)
        except UnknownAudience:
            print(f"mitreden: unknown audience {args.audience!r}", file=sys.stderr)
            return 2
        in_languages = ", ".join(f"{code} {n:,}" for code, n in languages.items())
        if size and not args.yes:
            if not sys.stdin.isatty():
                print(
                    f"mitreden: the announcement would go to {size:,} recipient(s) "
                    f"({audience}; {in_languages}); there is no terminal to confirm it on: "
                    "add --yes",
                    file=sys.stderr,
                )
                return 2
            print(
                f"Send the announcement to {size:,} recipient(s) ({audience}; by language: "
                f"{in_languages})? [y/N] ",
                end="",
                file=sys.stderr,
                flush=True,
            )
            answer = await asyncio.to_thread(sys.stdin.readline)
            if answer.strip().lower() not in ("y", "yes", "j", "ja"):
                print("nothing sent")
                return 1
        try:
            prefix, total = await enqueue_announcement(
                app.store, args.audience, texts, app.clock.now(), default=default
            )
        except UnknownAudience:  # the group was removed while the question was open
            print(f"mitreden: unknown audience {args.audience!r}", file=sys.stderr)
            return 2
        print(
            f"announcement queued for {total} recipient(s)"
            + (f": {in_languages}" if total else "")
        )
        missing = sorted(set(settings.bot.languages) - set(texts))
        if total and missing and len(texts) > 1:
            print(f"in {default} for those who chose {', '.join(missing)} (no text given)")
        if args.no_wait or total == 0:
            return 0
        return await _show_delivery(app, prefix, total)
    finally:
        await app.close()


def _announcement_texts(
    args: argparse.Namespace, languages: Sequence[str], default: str
) -> dict[str, str]:
    """The announcement per language from --file, the text argument and --text-XX (which win
    in that order).

    Raises:
        ValueError: no text in the default language, a file that cannot be read, a section
            or option in a language the bot does not speak.
    """
    texts: dict[str, str] = {}
    if args.file is not None:
        try:
            written = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read {args.file}: {error}") from None
        try:
            texts.update(parse_sections(written, languages, default))
        except UnknownLanguage as error:
            raise ValueError(f"{args.file}: [{error}] is not one of bot.languages") from None
    if args.text:
        texts[default] = args.text
    for code in LANGUAGE_NAMES:
        given = getattr(args, f"text_{code}", None)
        if given:
            if code not in languages:
                raise ValueError(f"--text-{code.replace('_', '-')}: not one of bot.languages")
            texts[code] = given
    if not texts.get(default):
        raise ValueError(f"the announcement needs its text in {default} (the text argument)")
    return texts


async def _audience(app: App, audience: str, texts: Texts) -> tuple[int, str, dict[str, int]]:
    """How many recipients `audience` has now, who they are, in words, and how many of them
    get which language.

    Raises:
        UnknownAudience: as `enqueue_announcement` would.
    """
    recipients = await recipients_of(app.store, audience)
    languages = count_languages(recipients, texts, app.settings.bot.default_language)
    if audience in (SUBSCRIBERS, EVERYONE):
        subscribed = audience == SUBSCRIBERS
        who = "residents who subscribed" if subscribed else "all reachable residents"
    else:
        who = f"the chats of {audience.removeprefix('group:')}"
    return len(recipients), who, languages


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
    """Run `command` on a built app (migrated database, groups from the configuration).

    The database must exist (`NoDatabase` otherwise): only `demo`, which fills a database of
    its own, may create one."""
    create = command is cli_demo.run_demo

    async def run_command(settings: Settings, args: argparse.Namespace) -> int:
        app = (await bootstrap(settings, channels=(), create=create)).app
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
    require_database_file(settings.database.url)  # opening a SQLite file would create it
    db = Database(settings.database.url)
    try:
        current, head = await current_revision(db)
        print(f"database: {current or 'empty'}; newest shipped: {head}")
        return 0 if current == head else 1
    finally:
        await db.dispose()
