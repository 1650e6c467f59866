"""`mitreden config example`: print the commented example configuration.

An installed bot has no checkout to copy `config.example.toml` from, so the wheel carries it
(setup.py copies it into `bot/` at build time) and this command prints it: an installation
starts with `mitreden config example > config.toml`.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from bot.cli.helptext import examples
from bot.config import Settings

EXAMPLE_CONFIG = "config.example.toml"


def add_parsers(commands: argparse._SubParsersAction) -> None:
    config = commands.add_parser(
        "config",
        help="the configuration file",
        epilog=examples("mitreden config example > config.toml"),
    )
    verbs = config.add_subparsers(dest="config_command", required=True)
    example = verbs.add_parser(
        "example",
        help="print the example configuration: every setting with its default, commented",
        description="Print the example configuration (every setting with its default and what "
        "it means, the demo fields of action and working groups) to standard output.",
        epilog=examples("mitreden config example > config.toml"),
    )
    example.set_defaults(action=print_example)


def example_config() -> bytes:
    """The example configuration as shipped: from the installed wheel, else from the checkout's
    root (an editable install, where the build step that copies it has not run)."""
    packaged = resources.files("bot").joinpath(EXAMPLE_CONFIG)
    if packaged.is_file():
        return packaged.read_bytes()
    return (Path(__file__).resolve().parents[2] / EXAMPLE_CONFIG).read_bytes()


async def print_example(settings: Settings, args: argparse.Namespace) -> int:
    """Write the file's bytes as they are, whatever the terminal's encoding."""
    sys.stdout.flush()
    sys.stdout.buffer.write(example_config())
    sys.stdout.buffer.flush()
    return 0
