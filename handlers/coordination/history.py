"""An item's history as a coordinator reads it in `/item` and on the web view's item page:
one sentence per change, in the coordinator's language. The history stores codes ("taken",
"resident_reply"); they never show."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from handlers.context import Writer
from handlers.i18n import N_
from handlers.labels import state_label
from storage.models import ItemEvent

# By the action the history records (storage/items, handlers/coordination/actions.py).
SENTENCES: dict[str, str] = {
    "created": N_("Eingegangen (Bürger:in)"),
    "taken": N_("{who} hat es übernommen"),
    "assigned": N_("{who} hat es an {group} weitergeleitet"),
    "state": N_("{who} hat den Status geändert: {state}"),
    "reply": N_("Antwort von {who} an die Bürger:in: {text}"),
    "resident_reply": N_("Antwort der Bürger:in: {text}"),
    "note": N_("Notiz von {who}: {text}"),
    "escalated": N_("Erste Antwort überfällig, an die Administration gemeldet"),
}
STATE_WITH_NOTE = N_("{who} hat den Status geändert: {state} – {text}")
# An action this module does not know yet still reads as a sentence, never as its code.
OTHER_CHANGE = N_("{who} hat es geändert")


def history_line(speaker: Writer, event: ItemEvent, group_names: Mapping[str, str]) -> str:
    """When, and what happened, in the speaker's language; `group_names` names the working
    groups (by key) in that language."""
    return f"{speaker.when(event.at)} · {history_sentence(speaker, event, group_names)}"


def history_sentence(
    speaker: Writer,
    event: ItemEvent,
    group_names: Mapping[str, str],
    quote: Callable[[str], str] = str,
) -> str:
    """What happened, as one sentence in the speaker's language. `quote` wraps what a person
    wrote (an answer, a note, a reason) where it stands inside the sentence: the web view
    isolates its direction there, as the chat cannot."""
    if event.actor_name:
        who = event.actor_name
    else:
        who = speaker._("Bürger:in") if event.actor == "resident" else speaker._("System")
    template = SENTENCES.get(event.action)
    if event.action == "state" and event.text:
        template = STATE_WITH_NOTE
    elif template is None:
        template = SENTENCES["state"] if event.state else OTHER_CHANGE
    group = group_names.get(event.group_key or "", event.group_key or "")
    return speaker._(template).format(
        who=who,
        group=group,
        state=state_label(speaker, event.state) if event.state else "",
        text=quote(event.text) if event.text else "",
    )
