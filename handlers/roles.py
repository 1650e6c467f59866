"""Who may do what: coordinators act on their working groups' items, administrators on all."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers.context import Deps, Turn
from handlers.messages import Reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Role:
    actor: str  # "platform:user_id", as the history records it
    name: str
    groups: tuple[str, ...]
    is_admin: bool

    @property
    def is_coordinator(self) -> bool:
        return self.is_admin or bool(self.groups)

    def can_act_on(self, group_key: str) -> bool:
        return self.is_admin or group_key in self.groups

    @property
    def visible_groups(self) -> tuple[str, ...] | None:
        """The groups whose items this person sees; None means all."""
        return None if self.is_admin else self.groups


async def role_of(deps: Deps, turn: Turn) -> Role:
    incoming = turn.incoming
    actor = f"{incoming.platform}:{incoming.user_id}"
    groups = await deps.store.membership.groups_of(incoming.platform, incoming.user_id)
    return Role(
        actor,
        incoming.display_name or incoming.user_id,
        tuple(groups),
        actor in deps.settings.bot.administrators,
    )


def refuse(turn: Turn, command: str) -> list[Reply]:
    """The answer to a coordinator command from someone who is not one; logged for audit."""
    logger.warning(
        "refused /%s from %s:%s (not a coordinator)",
        command,
        turn.incoming.platform,
        turn.incoming.user_id,
    )
    return [
        Reply(
            turn._("Diesen Befehl können nur Koordinator:innen einer Arbeitsgruppe verwenden."),
            refusal=True,
        )
    ]
