"""The settings: every section, its keys, their types and defaults, in one place.

An administrator sets them in the TOML file (`config.example.toml` shows every one) or in
`MITREDEN_<SECTION>_<KEY>` variables; `bot.config` reads both once at start and returns the
`Settings` below, checked. Everything that needs a setting then reads it from that object:
handlers through `Deps.settings` (`deps.settings.bot.max_text_length`), the delivery loop
from `settings.delivery`, each channel from its own section. A new setting is one line here
and its entry in `config.example.toml` (a test holds the two together).

Why here, in handlers/: the handlers read most sections, and imports point inwards
(bot → handlers → storage), so the types they read cannot live in bot/. They are plain data,
with no reading of files or the environment: that stays in `bot.config`, the only module that
loads settings. The runtime's own sections (data, database, telegram, matrix, delivery,
console, ops) live here too, so that the shape of the settings reads as one file and
`Settings` is one type on both sides of the layer boundary, instead of a second class with
copies of its fields.

The models are frozen pydantic dataclasses: `dataclasses.replace` works on them (tests change
a setting that way) and validates what it is given. Scalars are strict (`StrictInt`,
`StrictBool`, `StrictStr`): TOML has types, so `max_text_length = "many"` or `echo = "no"` in
the file is refused rather than guessed at; `bot.config` turns environment variables, which are
only ever text, into these types before they arrive here.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal, get_args

from pydantic import ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic.dataclasses import dataclass

from handlers.messages import Platform

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


@dataclass(frozen=True)
class _IsSecret:
    """Marks a secret: never written in the file, but set in `MITREDEN_<SECTION>_<KEY>` or read
    from the file named by `<key>_file` (`bot.config` refuses it inline)."""


SECRET = _IsSecret()
Secret = Annotated[StrictStr, SECRET]

# Unknown keys are errors (a typo must not silently keep a default).
_STRICT_KEYS = ConfigDict(extra="forbid")


@dataclass(frozen=True, config=_STRICT_KEYS)
class BotSettings:
    timezone: StrictStr = "Europe/Berlin"
    languages: tuple[StrictStr, ...] = ("de", "de_simple", "en", "tr", "ar", "uk", "ru")
    default_language: StrictStr = "de"
    max_text_length: StrictInt = 4000
    flood_messages_per_minute: StrictInt = 20
    max_attachments_per_item: StrictInt = 10
    log_level: StrictStr = "INFO"
    log_format: StrictStr = "text"
    administrators: tuple[StrictStr, ...] = ()  # "platform:user_id"


@dataclass(frozen=True, config=_STRICT_KEYS)
class DataSettings:
    """Where the bot keeps its state: the SQLite database and the Matrix store, unless
    `database.url` and `matrix.store_dir` name places of their own. Empty: `bot.config`
    chooses an absolute default (`data_directory`); `mitreden --data-dir` and
    `MITREDEN_DATA_DIR` set it too. Absolute once the settings are loaded."""

    dir: StrictStr = ""


@dataclass(frozen=True, config=_STRICT_KEYS)
class DatabaseSettings:
    url: StrictStr = ""  # empty: SQLite in the data directory (`bot.config`), absolute
    echo: StrictBool = False
    pool_size: StrictInt = 10


@dataclass(frozen=True, config=_STRICT_KEYS)
class TelegramSettings:
    token: Secret = ""
    base_url: StrictStr = "https://api.telegram.org/bot"
    base_file_url: StrictStr = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: StrictStr = ""
    webhook_listen: StrictStr = "127.0.0.1"
    webhook_port: StrictInt = 8443
    webhook_secret: Secret = ""
    max_download_bytes: StrictInt = 20_000_000
    broadcast_per_second: StrictInt = 30
    private_chat_per_second: StrictInt = 1
    group_per_minute: StrictInt = 20
    proxy_url: StrictStr = ""  # empty: HTTPS_PROXY / ALL_PROXY from the environment (bot.config)


@dataclass(frozen=True, config=_STRICT_KEYS)
class DeliverySettings:
    """The outbox loop (`bot.delivery.loop.Delivery`). Durations are seconds; tests use
    fractions (`DeliverySettings(workers=2, poll_interval_seconds=0.02)`)."""

    workers: StrictInt = 8
    max_attempts: StrictInt = 8
    backoff_start_seconds: StrictFloat = 5
    backoff_cap_seconds: StrictFloat = 900
    claim_lease_seconds: StrictFloat = 60
    poll_interval_seconds: StrictFloat = 1
    plan_interval_seconds: StrictFloat = 60


@dataclass(frozen=True, config=_STRICT_KEYS)
class CoordinationSettings:
    digest_weekday: Weekday = "monday"
    digest_hour: StrictInt = 8
    name_coordinators: StrictBool = False
    page_size: StrictInt = 10

    @property
    def digest_day(self) -> int:
        """`digest_weekday` as `datetime.weekday()` counts it (Monday is 0)."""
        return WEEKDAYS.index(self.digest_weekday)


@dataclass(frozen=True, config=_STRICT_KEYS)
class PrivacySettings:
    inactive_contact_days: StrictInt = 730
    finished_item_days: StrictInt = 365


@dataclass(frozen=True, config=_STRICT_KEYS)
class ReportSettings:
    due_days_before_round_table: StrictInt = 21
    reminder_days_before_due: tuple[StrictInt, ...] = (28, 7)
    draft_format: Literal["pdf", "html", "md"] = "pdf"
    language: StrictStr = ""  # empty: bot.default_language


@dataclass(frozen=True, config=_STRICT_KEYS)
class SurveySettings:
    """The survey after an event (`handlers.asking.surveys`), in days counted in city time."""

    days_after: StrictInt = 1  # sent this many days after the event's end ...
    hour: StrictInt = 10  # ... at this hour
    reminder_days: StrictInt = 3  # one reminder this many days after it, to who has not answered
    open_days: StrictInt = 7  # closed this many days after it was sent; results then go out


@dataclass(frozen=True, config=_STRICT_KEYS)
class MatrixSettings:
    homeserver: StrictStr = ""
    user_id: StrictStr = ""
    password: Secret = ""
    access_token: Secret = ""
    device_id: StrictStr = "MITREDEN"
    store_dir: StrictStr = ""  # empty: matrix/ in the data directory (`bot.config`)
    max_download_bytes: StrictInt = 20_000_000
    broadcast_per_second: StrictInt = 10
    room_per_minute: StrictInt = 30
    proxy_url: StrictStr = ""  # empty: HTTPS_PROXY / ALL_PROXY from the environment (bot.config)


@dataclass(frozen=True, config=_STRICT_KEYS)
class ConsoleSettings:
    user: StrictStr = "console"


@dataclass(frozen=True, config=_STRICT_KEYS)
class OpsSettings:
    """Health and metrics (`bot.ops.server`), served by `mitreden run`."""

    listen: StrictStr = "127.0.0.1:9180"  # host:port; empty: off


@dataclass(frozen=True, config=_STRICT_KEYS)
class WebSettings:
    """The staff web view (`bot.web`), served by `mitreden run`; off unless `listen` is set.

    `base_url` is the address people open, as the city's reverse proxy publishes it (a path
    prefix included, `https://stadt.example/mitreden`): the sign-in links `/web` sends start
    with it, every link and the session cookie's path carry its path, and an `https` base URL
    makes the cookie `Secure`."""

    listen: StrictStr = ""  # host:port; empty: off
    base_url: StrictStr = ""  # empty: http://<listen>
    session_idle_minutes: StrictInt = 60  # signed out after this long without a request
    session_max_hours: StrictInt = 12  # and after this long in any case
    sign_in_attempts_per_minute: StrictInt = 10  # sign-in link uses per client address


@dataclass(frozen=True, config=_STRICT_KEYS)
class FieldConfig:
    key: StrictStr
    name: StrictStr
    names: dict[StrictStr, StrictStr] = field(default_factory=dict)


@dataclass(frozen=True, config=_STRICT_KEYS)
class GroupConfig:
    key: StrictStr
    name: StrictStr
    names: dict[StrictStr, StrictStr] = field(default_factory=dict)
    fields: tuple[StrictStr, ...] = ()
    default: StrictBool = False
    answer_days: StrictInt = 14
    coordinators: tuple[StrictStr, ...] = ()  # "platform:user_id"
    chats: tuple[StrictStr, ...] = ()  # "platform:chat_id"


@dataclass(frozen=True, config=_STRICT_KEYS)
class Settings:
    bot: BotSettings = field(default_factory=BotSettings)
    data: DataSettings = field(default_factory=DataSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    coordination: CoordinationSettings = field(default_factory=CoordinationSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    surveys: SurveySettings = field(default_factory=SurveySettings)
    matrix: MatrixSettings = field(default_factory=MatrixSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    web: WebSettings = field(default_factory=WebSettings)
    fields: tuple[FieldConfig, ...] = ()
    groups: tuple[GroupConfig, ...] = ()

    def max_file_bytes_on(self, platform: str) -> int:
        """The largest file a resident can send on `platform`: the channel's download limit
        (Telegram's for a channel without one of its own, such as the console)."""
        if platform == Platform.MATRIX:
            return self.matrix.max_download_bytes
        return self.telegram.max_download_bytes
