"""Bad input gets a clear answer and changes nothing: these checks run before any flow."""

from __future__ import annotations

from handlers.context import Turn
from handlers.messages import FILE_TOO_LARGE, UNDECRYPTABLE, Incoming, Platform, Reply
from handlers.settings import Settings


def counts_against_flood(incoming: Incoming) -> bool:
    """Whether an update counts towards the flood limit: what a person types (messages,
    commands) does; a press of one of the bot's own buttons does not (a choice typed on a
    channel without buttons arrives as a press too), since filing a few items quickly takes
    four presses each. The console is one person trying the bot locally: no limit there."""
    return incoming.payload is None and incoming.platform is not Platform.CONSOLE


def flood_warning(turn: Turn) -> Reply:
    return Reply(
        turn._(
            "Sie schicken sehr viele Nachrichten in kurzer Zeit. Bitte warten Sie eine Minute; "
            "Nachrichten bis dahin werden nicht bearbeitet."
        )
    )


def unknown_command(turn: Turn, name: str) -> Reply:
    return Reply(
        turn._("Den Befehl /{command} kenne ich nicht. /help zeigt, was ich kann.").format(
            command=name
        )
    )


def stale_button(turn: Turn) -> Reply:
    return Reply(
        turn._("Diese Schaltfläche gehört zu einer früheren Frage und gilt nicht mehr."),
        notice=True,
    )


def private_chat_only(turn: Turn) -> Reply:
    """What a group chat gets for a command about the sender's own data: a pointer to the
    private chat and nothing personal (no reference, no name, no text, no file)."""
    text = turn._(
        "Das geht nur im privaten Chat mit mir, damit Ihre Daten nicht in der Gruppe stehen."
    )
    link = turn.incoming.private_link
    return Reply(f"{text}\n{link}" if link else text)


def check_message(turn: Turn, settings: Settings) -> Reply | None:
    """The answer to a message the bot cannot take as it is; None when it can."""
    incoming = turn.incoming
    if incoming.unsupported == FILE_TOO_LARGE:
        limit = settings.max_file_bytes_on(incoming.platform) / 1_000_000
        return Reply(
            turn._(
                "Diese Datei ist zu groß. Ich kann Dateien bis {limit} MB annehmen. Es wurde "
                "nichts gespeichert."
            ).format(limit=f"{limit:g}")
        )
    if incoming.unsupported == UNDECRYPTABLE:
        return Reply(
            turn._(
                "Ihre verschlüsselte Nachricht konnte ich nicht lesen. Bitte schicken Sie sie "
                "noch einmal."
            )
        )
    if incoming.unsupported is not None:
        return Reply(
            turn._(
                "Mit dieser Art von Nachricht kann ich nichts anfangen. Bitte schreiben Sie Text "
                "oder schicken Sie ein Foto oder ein Dokument."
            )
        )
    if not incoming.text.strip() and not incoming.attachments:
        return Reply(
            turn._("Ihre Nachricht ist leer. Bitte schreiben Sie, was Sie uns mitteilen möchten.")
        )
    return check_length(turn, incoming.text, settings)


def check_length(turn: Turn, text: str, settings: Settings) -> Reply | None:
    limit = settings.bot.max_text_length
    if len(text) <= limit:
        return None
    return Reply(
        turn._(
            "Ihre Nachricht ist zu lang ({length} Zeichen, höchstens {limit}). Bitte kürzen Sie "
            "sie oder teilen Sie sie auf mehrere Rückmeldungen auf. Es wurde nichts gespeichert."
        ).format(length=len(text), limit=limit)
    )
