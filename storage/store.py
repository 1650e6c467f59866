"""All stores over one database, as the handlers receive them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.bot_messages import BotMessageStore
from storage.contacts import ContactStore
from storage.conversations import ConversationStore
from storage.db import Database
from storage.erasures import ErasureJournal
from storage.events.registrations import RegistrationStore
from storage.events.store import EventStore
from storage.groups import GroupStore
from storage.items.feedback import FeedbackStore
from storage.items.handling import ItemStore
from storage.links import LinkStore
from storage.membership import MembershipStore
from storage.outbox import OutboxStore
from storage.polls import PollStore
from storage.privacy import PrivacyStore
from storage.report import ReportStore
from storage.surveys import SurveyStore


@dataclass(frozen=True)
class Store:
    db: Database
    contacts: ContactStore
    groups: GroupStore
    feedback: FeedbackStore
    conversations: ConversationStore
    outbox: OutboxStore
    items: ItemStore
    membership: MembershipStore
    privacy: PrivacyStore
    events: EventStore
    registrations: RegistrationStore
    links: LinkStore
    report: ReportStore
    bot_messages: BotMessageStore
    surveys: SurveyStore
    polls: PollStore

    @classmethod
    def over(cls, db: Database, erasures: Path | None = None) -> Store:
        """The stores over `db`; `erasures` is the erasure journal's file (`storage.erasures`),
        None to record no erasures (tests, tools)."""
        return cls(
            db=db,
            contacts=ContactStore(db),
            groups=GroupStore(db),
            feedback=FeedbackStore(db),
            conversations=ConversationStore(db),
            outbox=OutboxStore(db),
            items=ItemStore(db),
            membership=MembershipStore(db),
            privacy=PrivacyStore(db, ErasureJournal(erasures) if erasures else None),
            events=EventStore(db),
            registrations=RegistrationStore(db),
            links=LinkStore(db),
            report=ReportStore(db),
            bot_messages=BotMessageStore(db),
            surveys=SurveyStore(db),
            polls=PollStore(db),
        )
