"""The demo year's feedback items: when they come in, what they say, and the history of
answers and decisions each goes through (bot.demo.year writes them).

Every function draws from the run's `random.Random` only, so the same seed gives the same
items; the texts come from bot.demo.texts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from bot.demo.texts import POOLS, pool
from storage.models import ItemKind, ItemState, WorkingGroup

S, K = ItemState, ItemKind
MONTHS = (5, 6, 8, 9, 10, 11, 10, 9, 12, 8, 6, 4)  # more in the months before autumn
HOURS = (1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 7, 8, 9, 9, 8, 6, 4, 2)
KINDS = {K.SUGGESTION: 35, K.CRITICISM: 25, K.QUESTION: 30, K.PRAISE: 10}
# How an item with a first answer ends, by kind. A decision that would lie after `now` leaves
# the item answered or in progress, so recent items are rarely decided yet.
OUTCOMES = {
    K.SUGGESTION: {S.IMPLEMENTED: 22, S.DECLINED: 17, S.ANSWERED: 28, S.IN_PROGRESS: 20,
                   S.CLOSED: 13},
    K.CRITICISM: {S.ANSWERED: 40, S.IN_PROGRESS: 30, S.CLOSED: 30},
    K.QUESTION: {S.ANSWERED: 65, S.CLOSED: 30, S.IN_PROGRESS: 5},
    K.PRAISE: {S.ANSWERED: 40, S.CLOSED: 60},
}  # fmt: skip
TAKEN = (S.IN_PROGRESS, S.IMPLEMENTED, S.DECLINED)  # states in which a coordinator holds it
DECISION_DAYS = {K.SUGGESTION: 30}  # median days from answer to outcome; other kinds 8
OVERDUE_SHARE = 0.03  # of the items past their due date: nobody has answered them
SURNAMES = ("yilmaz", "schneider", "kovalenko", "haddad", "petrov", "nguyen", "demir")


def creation_times(
    rng: random.Random, start: datetime, end: datetime, n: int
) -> Iterator[datetime]:
    """Creation times: days weighted by MONTHS, hours by HOURS (residents write evenings)."""
    days = [start + timedelta(days=d) for d in range((end - start).days + 1)]
    for day in rng.choices(days, [MONTHS[d.month - 1] for d in days], k=n):
        at = day + timedelta(hours=rng.choices(range(24), HOURS)[0], seconds=rng.random() * 3600)
        yield at if at < end else start + (end - start) * rng.random()


def item_with_history(
    rng: random.Random,
    now: datetime,
    created: datetime,
    field: str,
    group: WorkingGroup,
    name: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An item's row (without reference and author) and its history, by kind and its age at
    `now`."""
    kind = rng.choices(list(KINDS), list(KINDS.values()))[0]
    due = created + timedelta(days=group.answer_days)
    actor, actor_name = f"telegram:coord-{field}", f"Koordination {name.split()[0]}"
    story = [_change(created, "resident", "created", state=S.RECEIVED, group_key=group.key)]

    def change(at: datetime, action: str, state: str | None, text: str | None = None) -> None:
        story.append(_change(at, actor, action, actor_name=actor_name, state=state, text=text))

    state, answered = S.RECEIVED, None
    delay = timedelta(days=rng.lognormvariate(math.log(6), 0.8))  # median 6 days
    if now > due and rng.random() < OVERDUE_SHARE:
        pass  # nobody answered it: overdue
    elif created + delay <= now or now > due:  # past due: answered, late if need be
        late = created + delay > now
        answered = created + ((now - created) * rng.uniform(0.2, 0.95) if late else delay)
        state = S.ANSWERED
        change(answered, "reply", None, rng.choice(POOLS["reply"]))
        outcome = rng.choices(list(OUTCOMES[kind]), list(OUTCOMES[kind].values()))[0]
        at = answered + timedelta(days=rng.uniform(0.1, 5))
        if outcome in TAKEN and at <= now and rng.random() < 0.6:
            state = S.IN_PROGRESS
            change(at, "state", state)
        at += timedelta(days=rng.lognormvariate(math.log(DECISION_DAYS.get(kind, 8)), 0.6))
        if outcome in (S.IMPLEMENTED, S.DECLINED, S.CLOSED) and at <= now:
            state = outcome
            change(at, "state", state, _reason(rng, outcome, field))
    elif rng.random() < 0.3:  # young and not answered yet, but taken
        state = S.IN_PROGRESS
        change(created + (now - created) * rng.random(), "state", state)
    taken = state in TAKEN
    row = {
        "kind": kind, "field_key": field, "group_key": group.key, "state": state,
        "text": _text(rng, kind, field), "anonymous": rng.random() < 0.7,
        "assignee": actor if taken else None, "assignee_name": actor_name if taken else None,
        "answer_due_at": due, "first_answered_at": answered, "escalated_at": None,
        "created_at": created, "updated_at": story[-1]["at"],
    }  # fmt: skip
    return row, story


def _reason(rng: random.Random, outcome: str, field: str) -> str | None:
    """The public reason: a decline always has one, an implementation says what changed."""
    if outcome == S.DECLINED:
        return rng.choice(POOLS["declined"])
    if outcome == S.IMPLEMENTED:
        return rng.choice(pool(field, "done") + POOLS["*.done"])
    return None


def _text(rng: random.Random, kind: str, field: str) -> str:
    """Fragments of the field's vocabulary in a frame; 2 % give a phone number or address."""
    parts = {key: rng.choice(pool(field, key)) for key in ("need", "seen", "ask", "good")}
    text = rng.choice(POOLS[f"frame.{kind}"]).format(**parts)
    if rng.random() < 0.4:
        text += " " + rng.choice(POOLS["closing"])
    if rng.random() >= 0.02:
        return text
    if rng.random() < 0.5:
        return f"{text} Sie erreichen mich unter 0171 {rng.randrange(10**6, 10**7)}."
    address = f"{rng.choice('aeklmos')}.{rng.choice(SURNAMES)}@example.org"
    return f"{text} Gern per Mail an {address}"


def _change(at: datetime, actor: str, action: str, **values: str | None) -> dict[str, Any]:
    """A history row without its item id; every row has every column (one executemany)."""
    row = {"at": at, "actor": actor, "action": action, "actor_name": None, "state": None}
    return row | {"group_key": None, "text": None} | values
