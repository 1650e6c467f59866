"""Buttons that know which question they answer.

A payload is "v<version>:<step>:<value>". The version is the conversation's version when the
question was asked, so a button pressed on an older message is recognised and refused instead
of being applied to a later question. Channels without buttons (console, Matrix) let people
type the number or the label; `match_typed` maps that back to the same value.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Choice


@dataclass(frozen=True, slots=True)
class Pressed:
    version: int
    step: str
    value: str


def make_payload(version: int, step: str, value: str) -> str:
    return f"v{version}:{step}:{value}"


def parse_payload(payload: str) -> Pressed | None:
    head, _, rest = payload.partition(":")
    step, _, value = rest.partition(":")
    if not head.startswith("v") or not head[1:].isdigit() or not step or not value:
        return None
    return Pressed(int(head[1:]), step, value)


def build_choices(version: int, step: str, options: list[tuple[str, str]]) -> tuple[Choice, ...]:
    """Buttons for `options`, given as (label, value) pairs."""
    return tuple(Choice(label, make_payload(version, step, value)) for label, value in options)


def match_typed(text: str, options: list[tuple[str, str]]) -> str | None:
    """The value of the option whose number or label was typed; None if none fits."""
    typed = text.strip().rstrip(".)").casefold()
    if typed.isdigit():
        index = int(typed) - 1
        return options[index][1] if 0 <= index < len(options) else None
    for label, value in options:
        if label.casefold() == typed:
            return value
    return None
