"""How every `mitreden` command's help is laid out: examples last, line by line as they are
written (so that they can be pasted), and descriptions wrapped to the terminal's usual width.

argparse's default formatter re-flows the epilog, which turns a list of example command lines
into one paragraph; `RawDescriptionHelpFormatter` keeps it, but also keeps each paragraph of a
description as one long line. `CommandParser` uses the latter and wraps long description lines
itself, once, when the parser is built. Subcommand parsers are made of the same class
(argparse's `add_subparsers` takes the class of the parser it is called on).
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

WIDTH = 79  # a description's paragraphs are filled to this width; indented lines are kept


class CommandParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose description and epilog keep their lines (examples stay one
    command a line), with a description's long lines wrapped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if kwargs.get("description"):
            kwargs["description"] = wrapped(kwargs["description"])
        super().__init__(*args, **kwargs)


def wrapped(text: str) -> str:
    """Each paragraph (lines up to a blank line) filled to `WIDTH`; indented lines (a command,
    a table) are kept as they are."""
    lines: list[str] = []
    paragraph: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.strip() and not line.startswith(" "):
            paragraph.append(line.strip())
            continue
        if paragraph:
            lines.extend(textwrap.wrap(" ".join(paragraph), WIDTH))
            paragraph.clear()
        lines.append(line)
    return "\n".join(lines).rstrip("\n")


def examples(*lines: str) -> str:
    """A command's help epilog: example command lines, each to be pasted as it is."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
