"""The frozen settings dataclasses: every section, its keys and their defaults.

They are what the rest of the bot receives; `bot.config` fills them from the TOML file and
the environment and checks them. Kept apart so that the shape of the settings reads on its
own, without the loading around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class BotSettings:
    timezone: str = "Europe/Berlin"
    languages: tuple[str, ...] = ("de", "de_simple", "en", "tr", "ar", "uk", "ru")
    default_language: str = "de"
    max_text_length: int = 4000
    flood_messages_per_minute: int = 20
    max_attachments_per_item: int = 10
    log_level: str = "INFO"
    log_format: str = "text"
    administrators: tuple[str, ...] = ()  # "platform:user_id"


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///var/mitreden.db"
    echo: bool = False
    pool_size: int = 10


@dataclass(frozen=True)
class TelegramSettings:
    token: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""
    max_download_bytes: int = 20_000_000
    broadcast_per_second: int = 30
    private_chat_per_second: int = 1
    group_per_minute: int = 20


@dataclass(frozen=True)
class DeliverySettings:
    workers: int = 8
    max_attempts: int = 8
    backoff_start_seconds: int = 5
    backoff_cap_seconds: int = 900
    claim_lease_seconds: int = 60
    poll_interval_seconds: int = 1
    plan_interval_seconds: int = 60


@dataclass(frozen=True)
class CoordinationSettings:
    digest_weekday: str = "monday"
    digest_hour: int = 8
    name_coordinators: bool = False
    page_size: int = 10


@dataclass(frozen=True)
class PrivacySettings:
    inactive_contact_days: int = 730
    finished_item_days: int = 365


@dataclass(frozen=True)
class ReportSettings:
    due_days_before_round_table: int = 21
    reminder_days_before_due: tuple[int, ...] = (28, 7)
    draft_format: str = "pdf"
    language: str = ""  # empty: bot.default_language


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str = ""
    user_id: str = ""
    password: str = ""
    access_token: str = ""
    device_id: str = "MITREDEN"
    store_dir: str = "var/matrix"
    max_download_bytes: int = 20_000_000
    broadcast_per_second: int = 10
    room_per_minute: int = 30


@dataclass(frozen=True)
class ConsoleSettings:
    user: str = "console"


@dataclass(frozen=True)
class FieldConfig:
    key: str
    name: str
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupConfig:
    key: str
    name: str
    names: dict[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    default: bool = False
    answer_days: int = 14
    coordinators: tuple[str, ...] = ()  # "platform:user_id"
    chats: tuple[str, ...] = ()  # "platform:chat_id"


@dataclass(frozen=True)
class Settings:
    bot: BotSettings = field(default_factory=BotSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    coordination: CoordinationSettings = field(default_factory=CoordinationSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    matrix: MatrixSettings = field(default_factory=MatrixSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    fields: tuple[FieldConfig, ...] = ()
    groups: tuple[GroupConfig, ...] = ()


SECTIONS: dict[str, type] = {
    "bot": BotSettings,
    "database": DatabaseSettings,
    "telegram": TelegramSettings,
    "delivery": DeliverySettings,
    "coordination": CoordinationSettings,
    "privacy": PrivacySettings,
    "report": ReportSettings,
    "matrix": MatrixSettings,
    "console": ConsoleSettings,
}
