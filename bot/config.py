"""Settings: TOML file, then `MITREDEN_<SECTION>_<KEY>` environment variables on top.

Secrets (tokens, passwords) are never read inline from the file: they come from the
environment (`MITREDEN_TELEGRAM_TOKEN`) or from a file named by `<key>_file`, so a config
file can be shared and committed without leaking them. Errors name the dotted key. The
dataclasses filled here are `bot.settings`; `Settings` is importable from here as well.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from bot.settings import SECTIONS, WEEKDAYS, FieldConfig, GroupConfig, Settings

ENV_PREFIX = "MITREDEN_"
SECRETS = {"telegram": ("token", "webhook_secret"), "matrix": ("password", "access_token")}


class ConfigError(ValueError):
    """A setting is missing, malformed or not allowed where it was given."""


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (may be None for defaults only) and apply the environment on top.

    Raises:
        ConfigError: naming the dotted key that is wrong.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigError(f"config file {path} does not exist") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: {error}") from error
    unknown = set(raw) - set(SECTIONS) - {"fields", "groups"}
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    sections = {
        name: _section(name, cls, dict(raw.get(name, {})), env) for name, cls in SECTIONS.items()
    }
    fields = tuple(
        _build(FieldConfig, entry, f"fields[{i}]") for i, entry in enumerate(raw.get("fields", []))
    )
    groups = tuple(
        _build(GroupConfig, entry, f"groups[{i}]") for i, entry in enumerate(raw.get("groups", []))
    )
    settings = Settings(**sections, fields=fields, groups=groups)
    _check(settings)
    return settings


def _section(name: str, cls: type, values: dict[str, Any], env: Mapping[str, str]) -> Any:
    for secret in SECRETS.get(name, ()):
        if values.get(secret):
            raise ConfigError(
                f"{name}.{secret}: secrets are not allowed inline; set "
                f"{ENV_PREFIX}{name.upper()}_{secret.upper()} or {name}.{secret}_file"
            )
        values.pop(secret, None)
        secret_file = values.pop(f"{secret}_file", "") or env.get(
            f"{ENV_PREFIX}{name.upper()}_{secret.upper()}_FILE", ""
        )
        if secret_file:
            values[secret] = _read_secret(f"{name}.{secret}_file", secret_file)
    hints = get_type_hints(cls)
    for fld in dataclasses.fields(cls):
        variable = f"{ENV_PREFIX}{name.upper()}_{fld.name.upper()}"
        if variable in env:
            values[fld.name] = _from_env(f"{name}.{fld.name}", env[variable], hints[fld.name])
    return _build(cls, values, name)


def _read_secret(key: str, path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path}: {error.strerror}") from error


def _from_env(key: str, value: str, hint: Any) -> Any:
    if hint is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        try:
            return int(value)
        except ValueError as error:
            raise ConfigError(f"{key}: expected a whole number, got {value!r}") from error
    if get_origin(hint) is tuple:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if get_args(hint)[0] is int:
            try:
                return [int(part) for part in parts]
            except ValueError as error:
                raise ConfigError(f"{key}: expected whole numbers, got {value!r}") from error
        return parts
    return value


def _build(cls: type, values: Any, prefix: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix}: expected a table")
    hints = get_type_hints(cls)
    known = {fld.name: fld for fld in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown setting")
    for name, fld in known.items():
        missing = fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING
        if name not in values:
            if missing:
                raise ConfigError(f"{prefix}.{name}: required")
            continue
        values[name] = _coerce(f"{prefix}.{name}", values[name], hints[name])
    return cls(**values)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
        origin = get_origin(hint)
    if origin is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list) or not all(
            isinstance(v, item) and not (item is int and isinstance(v, bool)) for v in value
        ):
            kind = "whole numbers" if item is int else "strings"
            raise ConfigError(f"{key}: expected a list of {kind}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{key}: expected a table of strings")
        return dict(value)
    expected = {bool: bool, int: int, str: str}.get(hint)
    if expected is not None and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{key}: expected {expected.__name__}, got {value!r}")
    return value


def _check(settings: Settings) -> None:
    """Cross-field rules that the types alone do not express."""
    if settings.bot.default_language not in settings.bot.languages:
        raise ConfigError("bot.default_language: must be one of bot.languages")
    if settings.coordination.digest_weekday not in WEEKDAYS:
        raise ConfigError(f"coordination.digest_weekday: one of {', '.join(WEEKDAYS)}")
    if not 0 <= settings.coordination.digest_hour <= 23:
        raise ConfigError("coordination.digest_hour: a whole hour from 0 to 23")
    report = settings.report
    if report.draft_format not in ("pdf", "html", "md"):
        raise ConfigError("report.draft_format: expected 'pdf', 'html' or 'md'")
    if report.language and report.language not in settings.bot.languages:
        raise ConfigError("report.language: must be empty or one of bot.languages")
    if any(days < 1 for days in (report.due_days_before_round_table,
                                 *report.reminder_days_before_due)):  # fmt: skip
        raise ConfigError("report: days must be 1 or more")
    if settings.telegram.mode not in ("polling", "webhook"):
        raise ConfigError("telegram.mode: expected 'polling' or 'webhook'")
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
