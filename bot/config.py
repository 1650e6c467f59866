"""Settings: the TOML file, then `MITREDEN_<SECTION>_<KEY>` environment variables on top.

Read once at start, into the frozen `handlers.settings.Settings` (the models and why they live
in handlers/ are described there; they are importable from here as well). This module is the
only place that reads settings: the file, the environment, the secret files.

- pydantic-settings reads the environment: `MITREDEN_TELEGRAM_WEBHOOK_PORT` is
  `telegram.webhook_port` (split at the first `_` after the prefix; no section name has one).
  Variables are text, so each is turned into its setting's type here, with pydantic's usual
  reading (`"yes"` is true, `"en, de"` or `'["en", "de"]'` a list); the file's values must
  already have the right TOML type. A variable wins over the file.
- Secrets (tokens, passwords: `Secret` in the models) are never read inline from the file:
  they come from the environment (`MITREDEN_TELEGRAM_TOKEN`) or from a file named by
  `<key>_file` (in the file or `MITREDEN_TELEGRAM_TOKEN_FILE`), so a config file can be
  shared and committed without leaking them. The secret's own variable wins over any file.
  Under systemd, a secret also comes from `$CREDENTIALS_DIRECTORY/<section>_<key>`
  (`LoadCredential=telegram_token` in `deploy/mitreden.service`), read when neither the
  variable nor a `<key>_file` gives it.
- Unknown sections and keys are refused, from the file and the environment alike, and every
  error names the dotted key (`telegram.webhook_port: expected int, got 'x'`); `_check` adds
  the rules between settings that types cannot express.
- Paths come out absolute: `data.dir` (`--data-dir`, `MITREDEN_DATA_DIR`, else a default
  from the environment, `data_directory`), and the database and Matrix store inside it
  unless `database.url` and `matrix.store_dir` are set (`with_data_directory`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from pydantic import Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError

from handlers.settings import SECRET, Settings
from handlers.settings import FieldConfig as FieldConfig  # importable from here, as before
from handlers.settings import GroupConfig as GroupConfig

ENV_PREFIX = "MITREDEN_"
# Every section by name ("bot": BotSettings, ...), and the secrets each holds.
SECTIONS: dict[str, type[Any]] = {
    name: hint
    for name, hint in get_type_hints(Settings).items()
    if isinstance(hint, type) and dataclasses.is_dataclass(hint)
}
SECRETS: dict[str, tuple[str, ...]] = {
    name: secrets
    for name, cls in SECTIONS.items()
    if (
        secrets := tuple(
            key
            for key, hint in get_type_hints(cls, include_extras=True).items()
            if SECRET in getattr(hint, "__metadata__", ())
        )
    )
}


class ConfigError(ValueError):
    """A setting is missing, malformed or not allowed where it was given."""


def load_settings(
    path: Path | None,
    environ: Mapping[str, str] | None = None,
    *,
    data_dir: Path | None = None,
) -> Settings:
    """Read `path` (may be None for defaults only) and apply the environment on top.

    Args:
        path: the TOML file.
        environ: the environment to read (`os.environ` when None; tests pass their own).
        data_dir: `mitreden --data-dir`, which wins over `data.dir` from the file or the
            environment (see `with_data_directory`).

    Raises:
        ConfigError: naming the dotted key that is wrong.
    """
    env = os.environ if environ is None else environ
    values = _read_file(path)
    try:
        variables = _Environment(env)()
    except SettingsError as error:  # a section given as one variable, and not as JSON
        raise ConfigError(str(error)) from error
    for name, section in variables.items():
        in_file = values.setdefault(name, {})
        if isinstance(in_file, dict):  # otherwise the file's error is the one to report
            in_file.update(section)
    _read_secret_files(values, env.get("CREDENTIALS_DIRECTORY", ""))
    try:
        settings = Settings(**values)
    except ValidationError as error:
        problems = dict.fromkeys(_problem(e) for e in error.errors())  # in order, once each
        raise ConfigError("\n".join(problems)) from None
    _check(settings)
    settings = with_data_directory(settings, env, data_dir)
    settings = _with_environment_proxies(settings, env)
    scheme = urlsplit(settings.telegram.proxy_url).scheme.lower()
    if settings.telegram.proxy_url and scheme not in ("http", "https"):
        # The URL itself is not quoted: it may hold the proxy's password.
        raise ConfigError(
            "telegram.proxy_url (or HTTPS_PROXY/ALL_PROXY when it is empty): an http:// or "
            f"https:// proxy is needed, not {scheme or 'a URL without a scheme'}"
        )
    return settings


DATABASE_FILE = "mitreden.db"  # in the data directory, unless database.url names another
MATRIX_STORE = "matrix"


def data_directory(configured: str | Path, env: Mapping[str, str]) -> Path:
    """The data directory, absolute: `configured` (`--data-dir`, `MITREDEN_DATA_DIR` or
    `data.dir`; relative to the current directory) when given, else the place the
    environment's conventions name for a service's state: `$STATE_DIRECTORY` (set by
    systemd for a unit with `StateDirectory=`), `$XDG_STATE_HOME/mitreden`, or
    `~/.local/state/mitreden`. Never the current directory by default: an administrator's
    command run from elsewhere must find the bot's database, not make a new one there."""
    if str(configured):
        chosen = Path(configured).expanduser()
    elif env.get("STATE_DIRECTORY"):
        # systemd joins several StateDirectory= entries with ":"; the first is the unit's.
        chosen = Path(env["STATE_DIRECTORY"].split(":")[0])
    elif env.get("XDG_STATE_HOME", "").startswith("/"):  # the spec ignores relative ones
        chosen = Path(env["XDG_STATE_HOME"]) / "mitreden"
    else:
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
        chosen = home / ".local" / "state" / "mitreden"
    return chosen.absolute()


def with_data_directory(
    settings: Settings, env: Mapping[str, str], given: Path | None = None
) -> Settings:
    """`data.dir` made absolute (`given` wins over the settings), and the places derived from
    it where the settings leave them empty: `database.url` (SQLite, `mitreden.db`) and
    `matrix.store_dir` (`matrix/`). Places set explicitly stay as they are."""
    directory = data_directory(given if given is not None else settings.data.dir, env)
    database, matrix = settings.database, settings.matrix
    if not database.url:
        database = dataclasses.replace(
            database, url=f"sqlite+aiosqlite:///{directory / DATABASE_FILE}"
        )
    if not matrix.store_dir:
        matrix = dataclasses.replace(matrix, store_dir=str(directory / MATRIX_STORE))
    return dataclasses.replace(
        settings,
        data=dataclasses.replace(settings.data, dir=str(directory)),
        database=database,
        matrix=matrix,
    )


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def environment_proxy(env: Mapping[str, str], url: str) -> str:
    """The outbound proxy the standard variables name for `url`, or "".

    HTTPS_PROXY, then ALL_PROXY (either case), unless NO_PROXY (either case) names the
    host of `url` (a name, a domain suffix, or `*`), as curl and most HTTP clients read them.
    """
    proxy = next((env[name] for name in PROXY_VARIABLES if env.get(name)), "")
    host = (urlsplit(url).hostname or "").lower()
    exempt = env.get("NO_PROXY") or env.get("no_proxy") or ""
    for entry in (e.strip().lower() for e in exempt.split(",")):
        domain = entry.partition(":")[0].lstrip(".")
        if entry == "*" or (domain and (host == domain or host.endswith(f".{domain}"))):
            return ""
    return proxy


def _with_environment_proxies(settings: Settings, env: Mapping[str, str]) -> Settings:
    """`telegram.proxy_url` and `matrix.proxy_url` left empty take the environment's proxy,
    resolved here once, so the channels get one explicit URL (or none)."""
    telegram, matrix = settings.telegram, settings.matrix
    if not telegram.proxy_url:
        telegram = dataclasses.replace(
            telegram, proxy_url=environment_proxy(env, telegram.base_url)
        )
    if not matrix.proxy_url:
        matrix = dataclasses.replace(matrix, proxy_url=environment_proxy(env, matrix.homeserver))
    return dataclasses.replace(settings, telegram=telegram, matrix=matrix)


def _read_file(path: Path | None) -> dict[str, Any]:
    """The file's tables, with its inline secrets and unknown sections refused."""
    if path is None:
        return {}
    try:
        values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error
    unknown = set(values) - set(SECTIONS) - {"fields", "groups"}
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    for name, secrets in SECRETS.items():
        section = values.get(name)
        if not isinstance(section, dict):
            continue  # an error for Settings to report
        for secret in secrets:
            if section.get(secret):
                raise ConfigError(
                    f"{name}.{secret}: secrets are not allowed inline; set "
                    f"{ENV_PREFIX}{name.upper()}_{secret.upper()} or {name}.{secret}_file"
                )
            section.pop(secret, None)
    return values


class _Variables(BaseSettings):
    """What pydantic-settings looks for in the environment; one field per section below."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1
    )


_SECTION_FIELDS: dict[str, Any] = {
    name: (cls, Field(default_factory=cls)) for name, cls in SECTIONS.items()
}
_VARIABLES = create_model("_SectionVariables", __base__=_Variables, **_SECTION_FIELDS)


class _Environment(EnvSettingsSource):
    """The `MITREDEN_<SECTION>_<KEY>` variables of `environ` as {section: {key: value}}, each
    value in its setting's type where it reads as one (else as given, for the error)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(_VARIABLES)
        # `environ` instead of os.environ; names compared without case, as pydantic-settings does.
        self.env_vars = {name.lower(): value for name, value in environ.items()}

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        """A list is written as "en, de" (or as JSON)."""
        if (
            isinstance(field, FieldInfo)  # None for a key no section has
            and get_origin(field.annotation) is tuple
            and not str(value).lstrip().startswith("[")
        ):
            return [part.strip() for part in str(value).split(",") if part.strip()]
        return super().decode_complex_value(field_name, field, value)

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        section = super().prepare_field_value(field_name, field, value, value_is_complex)
        if not isinstance(section, dict) or field.annotation is None:
            return section
        hints = get_type_hints(field.annotation, include_extras=True)
        return {
            key: _typed(hints[key], raw) if key in hints else raw for key, raw in section.items()
        }


def _typed(hint: Any, raw: Any) -> Any:
    """`raw` (a variable's text, or a list of texts) in the type `hint`, read laxly."""
    if get_origin(hint) is tuple and raw == "":
        return ()
    try:
        return TypeAdapter(hint).validate_python(raw, strict=False)
    except ValidationError:
        return raw


def _read_secret_files(values: dict[str, Any], credentials: str) -> None:
    """Replace each `<secret>_file` by the secret read from it, unless the secret is set;
    then take a secret still unset from systemd's credentials directory, `credentials`
    (`$CREDENTIALS_DIRECTORY`, "" outside systemd), where an empty file counts as unset."""
    for name, secrets in SECRETS.items():
        section = values.setdefault(name, {})  # a credential may be all there is of it
        if not isinstance(section, dict):
            continue
        for secret in secrets:
            key = f"{name}.{secret}_file"
            secret_file = section.pop(f"{secret}_file", "")
            if not isinstance(secret_file, str):
                raise ConfigError(f"{key}: expected str, got {secret_file!r}")
            if secret_file and secret not in section:
                section[secret] = _read_secret(key, secret_file)
            credential = Path(credentials, credential_name(name, secret))
            if not credentials or secret in section or not credential.is_file():
                continue
            if value := _read_secret(f"{name}.{secret}", str(credential)):
                section[secret] = value


def credential_name(section: str, key: str) -> str:
    """The systemd credential that holds the secret `section.key` (`telegram_token`)."""
    return f"{section}_{key}"


def _read_secret(key: str, path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path}: {error.strerror}") from error


def _problem(error: ErrorDetails) -> str:
    """One validation error as `dotted.key: what is wrong`."""
    key, inside = "", False
    hint: Any = Settings
    for part in error["loc"]:
        if isinstance(part, int) and get_origin(hint) is tuple:
            item = get_args(hint)[0]
            if not dataclasses.is_dataclass(item):
                inside = True  # an item of a list of values: name the list
                break
            key, hint = f"{key}[{part}]", item
        elif isinstance(part, str) and dataclasses.is_dataclass(hint):
            key = f"{key}.{part}" if key else part
            hint = get_type_hints(hint).get(part)
        else:
            inside = True  # a value in a table (`names.en`): name the table
            break
    if error["type"] in ("missing", "missing_argument"):
        return f"{key}: required"
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument") or hint is None:
        return f"{key}: unknown setting"
    got = "" if inside else f", got {error['input']!r}"
    return f"{key}: expected {_describe(hint)}{got}"


def _describe(hint: Any) -> str:
    """What a setting of type `hint` must be, in the words of the TOML file."""
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        return "a list of " + {int: "whole numbers", str: "strings"}.get(item, "tables")
    if get_origin(hint) is dict:
        return "a table of strings"
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(option) for option in get_args(hint))
    if dataclasses.is_dataclass(hint):
        return "a table"
    return {bool: "bool (true or false)", float: "a number"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def _check(settings: Settings) -> None:
    """Rules the types alone do not express (which values a setting takes, such as
    `telegram.mode`, is its type: `Literal` in the models)."""
    if settings.bot.default_language not in settings.bot.languages:
        raise ConfigError("bot.default_language: must be one of bot.languages")
    if not 0 <= settings.coordination.digest_hour <= 23:
        raise ConfigError("coordination.digest_hour: a whole hour from 0 to 23")
    report = settings.report
    if report.language and report.language not in settings.bot.languages:
        raise ConfigError("report.language: must be empty or one of bot.languages")
    if any(days < 1 for days in (report.due_days_before_round_table,
                                 *report.reminder_days_before_due)):  # fmt: skip
        raise ConfigError("report: days must be 1 or more")
    surveys = settings.surveys
    if not 0 <= surveys.hour <= 23 or surveys.days_after < 0:
        raise ConfigError("surveys: hour from 0 to 23, days_after 0 or more")
    if not 1 <= surveys.reminder_days < surveys.open_days:
        raise ConfigError("surveys: reminder_days must be 1 or more and less than open_days")
    listen = settings.ops.listen
    if listen and not listen.rpartition(":")[2].isdigit():
        raise ConfigError(f"ops.listen: {listen!r} must look like 'host:port' (or be empty)")
    web = settings.web
    if web.listen and not web.listen.rpartition(":")[2].isdigit():
        raise ConfigError(f"web.listen: {web.listen!r} must look like 'host:port' (or be empty)")
    if web.base_url and not web.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"web.base_url: {web.base_url!r} must start with https:// or http://")
    if min(web.session_idle_minutes, web.session_max_hours, web.sign_in_attempts_per_minute) < 1:
        raise ConfigError("web: session times and sign-in attempts must be 1 or more")
    for admin in settings.bot.administrators:
        if ":" not in admin:
            raise ConfigError(f"bot.administrators: {admin!r} must look like 'platform:id'")
    field_keys = {f.key for f in settings.fields}
    if len(field_keys) != len(settings.fields):
        raise ConfigError("fields: every key must be unique")
    owners: dict[str, str] = {}
    for index, group in enumerate(settings.groups):
        for key in group.fields:
            if key not in field_keys:
                raise ConfigError(f"groups[{index}].fields: unknown field of action {key!r}")
            if key in owners:
                raise ConfigError(
                    f"groups[{index}].fields: {key!r} is already owned by {owners[key]!r}"
                )
            owners[key] = group.key
        for member in (*group.coordinators, *group.chats):
            if ":" not in member:
                raise ConfigError(f"groups[{index}]: {member!r} must look like 'platform:id'")
    if settings.fields and sum(g.default for g in settings.groups) != 1:
        raise ConfigError("groups: exactly one group must have default = true")
