"""Settings: the example config holds every default, the environment wins, errors name keys."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config import SECRETS, SECTIONS, ConfigError, Settings, load_settings
from testkit.support import EXAMPLE_CONFIG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def example_sections() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))


def test_example_config_loads_with_fields_and_groups() -> None:
    settings = load_settings(EXAMPLE_CONFIG, environ={})

    assert [f.key for f in settings.fields] == [
        "bildung",
        "arbeit",
        "wohnen",
        "gesundheit",
        "antirassismus",
        "teilhabe",
        "sonstiges",
    ]
    assert [g.key for g in settings.groups if g.default] == ["ag-integration"]
    owned = {key for g in settings.groups for key in g.fields}
    assert "sonstiges" not in owned  # goes to the default group


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_example_config_shows_every_setting_with_its_default(section: str) -> None:
    raw = example_sections().get(section, {})
    defaults = SECTIONS[section]()
    secrets = set(SECRETS.get(section, ()))

    shown = set(raw)
    settable = {f.name for f in dataclasses.fields(defaults)} - secrets
    assert shown == settable, "the example must show every setting, and only real ones"
    for key, value in raw.items():
        default = getattr(defaults, key)
        expected = list(default) if isinstance(default, tuple) else default
        assert value == expected, f"{section}.{key}: example {value!r}, default {default!r}"
    assert getattr(load_settings(EXAMPLE_CONFIG, environ={}), section) == defaults


def test_no_file_means_defaults() -> None:
    assert load_settings(None, environ={}) == Settings()


def test_environment_overrides_the_file() -> None:
    settings = load_settings(
        EXAMPLE_CONFIG,
        environ={
            "MITREDEN_DATABASE_URL": "postgresql+asyncpg://bot:pw@db/mitreden",
            "MITREDEN_BOT_MAX_TEXT_LENGTH": "500",
            "MITREDEN_DATABASE_ECHO": "yes",
        },
    )

    assert settings.database.url == "postgresql+asyncpg://bot:pw@db/mitreden"
    assert settings.bot.max_text_length == 500
    assert settings.database.echo is True


def test_environment_sets_a_list() -> None:
    settings = load_settings(EXAMPLE_CONFIG, environ={"MITREDEN_BOT_LANGUAGES": "en, de"})
    assert settings.bot.languages == ("en", "de")


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("MITREDEN_BOT_MAX_TEXT_LENGTH", "lots", "bot.max_text_length"),
        ("MITREDEN_DATABASE_ECHO", "perhaps", "database.echo"),
    ],
)
def test_bad_environment_values_name_the_key(variable: str, value: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        load_settings(EXAMPLE_CONFIG, environ={variable: value})


@pytest.mark.parametrize(("section", "secret"), [(s, k) for s, ks in SECRETS.items() for k in ks])
def test_inline_secrets_are_refused(tmp_path: Path, section: str, secret: str) -> None:
    path = write(tmp_path, f'[{section}]\n{secret} = "123:ABC"\n')

    with pytest.raises(ConfigError, match=rf"^{section}\.{secret}: secrets are not allowed"):
        load_settings(path, environ={})


def test_token_comes_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"MITREDEN_TELEGRAM_TOKEN": "123:FROM-ENV"})
    assert settings.telegram.token == "123:FROM-ENV"


def test_token_file_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "telegram_token"
    secret.write_text("123:FROM-FILE\n", encoding="utf-8")
    path = write(tmp_path, f'[telegram]\ntoken_file = "{secret}"\n')

    assert load_settings(path, environ={}).telegram.token == "123:FROM-FILE"
    from_env = load_settings(None, environ={"MITREDEN_TELEGRAM_TOKEN_FILE": str(secret)})
    assert from_env.telegram.token == "123:FROM-FILE"


def test_missing_token_file_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, f'[telegram]\ntoken_file = "{tmp_path / "absent"}"\n')

    with pytest.raises(ConfigError, match=r"^telegram\.token_file: cannot read"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[bot]\nmax_text_length = "many"', r"bot\.max_text_length: expected int"),
        ("[bot]\nmax_text_length = true", r"bot\.max_text_length: expected int"),
        ('[bot]\nlanguages = "de"', r"bot\.languages: expected a list of strings"),
        ('[database]\necho = "no"', r"database\.echo: expected bool"),
        ("[bot]\ncolour = 1", r"bot\.colour: unknown setting"),
        ("[robot]\nx = 1", r"unknown section\(s\): robot"),
        ('[[fields]]\nkey = "a"', r"fields\[0\]\.name: required"),
        ('[[fields]]\nkey = "a"\nname = "A"\nnames = { en = 1 }', r"fields\[0\]\.names: "),
        ('[bot]\ndefault_language = "fr"', r"bot\.default_language: must be one of"),
        ('[telegram]\nmode = "carrier-pigeon"', r"telegram\.mode: "),
    ],
)
def test_bad_values_name_the_dotted_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}"):
        load_settings(write(tmp_path, toml + "\n"), environ={})


GROUPS = """
[[fields]]
key = "bildung"
name = "Bildung"

[[groups]]
key = "ag"
name = "AG"
default = true
fields = ["bildung"]

[[groups]]
key = "uag"
name = "UAG"
fields = ["bildung"]
"""


def test_a_field_owned_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^groups\[1\]\.fields: 'bildung' is already owned"):
        load_settings(write(tmp_path, GROUPS), environ={})


def test_a_group_owning_an_unknown_field_is_refused(tmp_path: Path) -> None:
    toml = GROUPS.replace(
        'fields = ["bildung"]\n\n[[groups]]', 'fields = ["raumfahrt"]\n\n[[groups]]'
    )
    with pytest.raises(ConfigError, match=r"^groups\[0\]\.fields: unknown field of action"):
        load_settings(write(tmp_path, toml), environ={})


def test_exactly_one_default_group(tmp_path: Path) -> None:
    toml = GROUPS.replace("default = true\n", "").replace('fields = ["bildung"]\n', "", 1)
    with pytest.raises(ConfigError, match=r"^groups: exactly one group must have default"):
        load_settings(write(tmp_path, toml), environ={})


def test_members_must_name_their_platform(tmp_path: Path) -> None:
    toml = '[[fields]]\nkey = "a"\nname = "A"\n[[groups]]\nkey = "g"\nname = "G"\n'
    toml += 'default = true\ncoordinators = ["123456"]\n'
    with pytest.raises(ConfigError, match=r"^groups\[0\]: '123456' must look like"):
        load_settings(write(tmp_path, toml), environ={})


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
