"""`/outcomes`: what became of residents' recommendations, for everyone to see.

The implemented and the declined suggestions with the working group's reason, by field of
action, the latest decision first. No name is ever shown, and contact details a resident
wrote into the text are masked (see `handlers.public_text`).
"""

from __future__ import annotations

from handlers.context import Deps, Turn
from handlers.labels import localized_name, name_list, state_label
from handlers.messages import Choice, Reply
from handlers.public_text import public_text
from storage.items.recommendations import Recommendation
from storage.models import FieldOfAction, ItemState

OUTCOMES_PAYLOAD = "oc:"
PER_PAGE = 5
TEXT_CHARS = 300
NOTE_CHARS = 500


class OutcomeHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def outcomes(self, turn: Turn) -> list[Reply]:
        """The counts per field with a button for each; `/outcomes FIELD` lists one."""
        fields = await self._deps.store.groups.list_fields()
        wanted = " ".join(turn.incoming.args).strip()
        if wanted:
            field = _find_field(turn, fields, wanted)
            if field is None:
                names = name_list(turn, (localized_name(turn, f, f.key) for f in fields))
                return [
                    Reply(
                        turn._("Dieses Handlungsfeld kenne ich nicht. Es gibt: {names}").format(
                            names=names
                        )
                    )
                ]
            return [await self._page(turn, field, None)]
        counts = await self._deps.store.report.decided_counts()
        if not counts:
            return [
                Reply(
                    turn._(
                        "Noch wurde kein Vorschlag umgesetzt oder abgelehnt. Sobald eine "
                        "Arbeitsgruppe entscheidet, steht es hier mit ihrer Begründung."
                    )
                )
            ]
        lines = [turn._("Was aus Vorschlägen wurde, nach Handlungsfeld:"), ""]
        choices = []
        implemented, declined = ItemState.IMPLEMENTED, ItemState.DECLINED
        for field in fields:
            done, no = (
                counts.get((field.key, implemented), 0),
                counts.get((field.key, declined), 0),
            )
            if not done and not no:
                continue
            name = localized_name(turn, field, field.key)
            lines.append(
                turn._("{field}: {implemented} umgesetzt, {declined} abgelehnt").format(
                    field=name, implemented=done, declined=no
                )
            )
            choices.append(Choice(name, f"{OUTCOMES_PAYLOAD}{field.key}"))
        lines += ["", turn._("Wählen Sie ein Handlungsfeld, um die Vorschläge zu lesen.")]
        return [Reply("\n".join(lines), tuple(choices))]

    async def on_button(self, turn: Turn, payload: str) -> list[Reply]:
        key, _, before = payload.removeprefix(OUTCOMES_PAYLOAD).partition(":")
        field = await self._deps.store.groups.get_field(key)
        if field is None or (before and not before.isdigit()):
            return [Reply(turn._("Diese Schaltfläche gilt nicht mehr."), notice=True)]
        return [await self._page(turn, field, int(before) if before else None)]

    async def _page(self, turn: Turn, field: FieldOfAction, before: int | None) -> Reply:
        rows = await self._deps.store.report.decided_recommendations(
            field.key, limit=PER_PAGE + 1, before_id=before
        )
        name = localized_name(turn, field, field.key)
        if not rows:
            return Reply(
                turn._("Im Handlungsfeld {field} ist noch nichts entschieden.").format(field=name)
            )
        shown = rows[:PER_PAGE]
        title = turn._("Vorschläge im Handlungsfeld {field}:").format(field=name)
        text = "\n\n".join([title, *(_entry(turn, r) for _, r in shown)])
        choices: tuple[Choice, ...] = ()
        if len(rows) > PER_PAGE:
            last_id = shown[-1][0]
            more = Choice(turn._("Weitere"), f"{OUTCOMES_PAYLOAD}{field.key}:{last_id}")
            choices = (more,)
        return Reply(text, choices)


def _entry(turn: Turn, recommendation: Recommendation) -> str:
    outcome = state_label(turn, recommendation.state)
    when = turn.day(recommendation.decided_at) if recommendation.decided_at else ""
    head = f"{outcome} {when} · {recommendation.reference}".replace("  ", " ")
    quoted = turn._("„{text}“").format(text=public_text(recommendation.text, limit=TEXT_CHARS))
    lines = [head, quoted]
    if recommendation.note:
        lines.append(
            turn._("Begründung: {note}").format(
                note=public_text(recommendation.note, limit=NOTE_CHARS)
            )
        )
    return "\n".join(lines)


def _find_field(turn: Turn, fields: list[FieldOfAction], wanted: str) -> FieldOfAction | None:
    """A field by its key, or by the start of its name in the resident's language."""
    folded = wanted.casefold()
    for field in fields:
        if field.key.casefold() == folded:
            return field
    for field in fields:
        if localized_name(turn, field, field.key).casefold().startswith(folded):
            return field
    return None
