"""The console channel: one resident typing in a terminal, or a scripted scenario on stdin.

Choices are printed as a numbered list; typing the number or the label presses the button.
Files the bot sends to the person (`/mydata`, a calendar file) are written to the current
directory, and the transcript says where. While the conversation runs, the log shows only
warnings and errors, so that its lines do not land between the person's and the bot's. At the
end of input the channel stops, so `printf ... | mitreden shell` prints a transcript and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.ops.logs import warnings_only
from handlers.choices import match_typed
from handlers.messages import (
    Attachment,
    ChatId,
    Choice,
    Incoming,
    Platform,
    Reply,
    UserId,
    parse_command,
)

logger = logging.getLogger(__name__)

Handle = Callable[[Incoming], Awaitable[list[Reply]]]


class ConsoleChannel:
    platform = Platform.CONSOLE

    def __init__(
        self,
        handle: Handle,
        user: str,
        *,
        language: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        files_dir: Path | None = None,
    ) -> None:
        """`files_dir` receives the files the bot sends (default: the current directory)."""
        self._handle = handle
        self._user = user
        self._language = language
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self._echo = not self._in.isatty()
        self._files_dir = files_dir
        self._choices: tuple[Choice, ...] = ()
        self._counter = 0

    @property
    def sender(self) -> ConsoleChannel:
        """Proactive messages appear in the transcript too (`send_once`)."""
        return self

    def is_ready(self) -> bool:
        """The terminal needs no connection."""
        return True

    def unreadable_updates(self) -> int:
        return 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Read lines until end of input or until `stop` is set, answering each before the
        next. Lines are read on a daemon thread: a read blocked on a terminal or an open
        pipe never holds up a stop (an executor thread would, the loop waits for those)."""
        if not self._echo:
            self._print("mitreden – Konsole. /start zum Beginnen, Strg+D zum Beenden.")
        lines = _read_lines(self._in)
        stopping = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            with warnings_only():
                while True:
                    reading = asyncio.create_task(lines.get())
                    await asyncio.wait([reading, stopping], return_when=asyncio.FIRST_COMPLETED)
                    if not reading.done():
                        reading.cancel()
                        return
                    line = reading.result()
                    if not line:
                        return
                    await self._answer(line)
        finally:
            stopping.cancel()

    async def _answer(self, line: str) -> None:
        text = line.rstrip("\n")
        if self._echo:
            self._print(f"{self._user}> {text}")
        replies = await self._handle(self.incoming(text))
        for reply in replies:
            self.show(reply)
        self._choices = next((r.choices for r in reversed(replies) if r.choices), ())

    def incoming(self, text: str) -> Incoming:
        """The update this line of input stands for."""
        self._counter += 1
        base = Incoming(
            platform=Platform.CONSOLE,
            user_id=UserId(self._user),
            chat_id=ChatId(self._user),
            display_name=self._user,
            language_code=self._language,
            message_id=str(self._counter),
        )
        options = [(choice.label, choice.payload) for choice in self._choices]
        payload = match_typed(text, options) if options else None
        if payload is not None:
            return replace(base, payload=payload)
        command = parse_command(text)
        if command is not None:
            return replace(base, text=text, command=command.name, args=command.args)
        return replace(base, text=text)

    def show(self, reply: Reply, *, save: bool = True) -> None:
        """Print `reply`; with `save`, its files are written to the files directory."""
        self._print(f"bot> {reply.text}".replace("\n", "\n     "))
        for attachment in reply.files:
            described = self._describe(attachment)
            if save and attachment.data:
                described += f", {self._save(attachment)}"
            self._print(f"     [{described}]")
        for number, choice in enumerate(reply.choices, start=1):
            self._print(f"     {number}) {choice.label}")

    async def send_once(
        self, chat_id: str, reply: Reply, *, is_group: bool, key: str
    ) -> str | None:
        """Proactive messages (notifications, reminders) for this resident appear like replies;
        those for anyone else are shown with their address, as a log of what would go out."""
        if chat_id != self._user:
            self._print(f"[to {chat_id}]")
        self.show(reply, save=chat_id == self._user)
        return None

    @staticmethod
    def _describe(attachment: Attachment) -> str:
        described = f"{attachment.kind}: {attachment.file_name}, {attachment.size} bytes"
        return described + (f" – {attachment.caption}" if attachment.caption else "")

    def _save(self, attachment: Attachment) -> str:
        """Write the file under its own name, never over an existing file (a number is added:
        `mitreden-meine-daten-2.json`); returns what the transcript says about it."""
        directory = (self._files_dir or Path.cwd()).absolute()
        # Only the name, never a path it may hold, and no hidden file.
        name = Path(attachment.file_name).name.lstrip(".") or "mitreden-datei"
        stem, suffix = Path(name).stem, Path(name).suffix
        path, number = directory / name, 1
        while True:
            try:
                with path.open("xb") as file:
                    file.write(attachment.data)
                return f"saved as {path}"
            except FileExistsError:
                number += 1
                path = directory / f"{stem}-{number}{suffix}"
            except OSError as error:
                logger.error("console: could not write %s: %s", path, error)
                return f"not saved: {error.strerror or error}"

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)


def _read_lines(stream: TextIO) -> asyncio.Queue[str]:
    """The lines of `stream` as they come, then "" at its end, from a daemon thread."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in itertools.chain(iter(stream.readline, ""), [""]):
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is reading
                loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return lines
