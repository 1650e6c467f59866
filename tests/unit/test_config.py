"""Settings: the example config holds every default, the environment wins, errors name keys."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import SECRETS, SECTIONS, ConfigError, Settings, load_settings
from handlers.settings import DatabaseSettings, DataSettings, DeliverySettings, MatrixSettings
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
    # Loaded, the example gives what no file gives (the places in the data directory made
    # absolute alike).
    assert getattr(load_settings(EXAMPLE_CONFIG, environ={}), section) == getattr(
        load_settings(None, environ={}), section
    )


def test_no_file_means_defaults_with_the_data_in_the_users_state_directory() -> None:
    state = "/home/ana/.local/state/mitreden"
    assert load_settings(None, environ={"HOME": "/home/ana"}) == dataclasses.replace(
        Settings(),
        data=DataSettings(dir=state),
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{state}/mitreden.db"),
        matrix=MatrixSettings(store_dir=f"{state}/matrix"),
    )


def test_the_data_directory_comes_from_the_option_the_variable_the_file_or_the_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    in_file = write(tmp_path, '[data]\ndir = "from-file"\n')
    variable = {"MITREDEN_DATA_DIR": "/srv/from-variable"}

    def database(path: Path | None, environ: dict[str, str], given: str | None = None) -> str:
        data_dir = Path(given) if given is not None else None
        return load_settings(path, environ=environ, data_dir=data_dir).database.url

    assert database(in_file, variable, "~/from-option") == (
        f"sqlite+aiosqlite:///{Path.home()}/from-option/mitreden.db"
    )
    assert database(in_file, variable) == "sqlite+aiosqlite:////srv/from-variable/mitreden.db"
    # A relative directory is taken from the current one, and shown absolute.
    assert database(in_file, {}) == f"sqlite+aiosqlite:///{tmp_path}/from-file/mitreden.db"
    # Without one: systemd's StateDirectory=, else the XDG state directory.
    systemd = {"STATE_DIRECTORY": "/var/lib/mitreden", "XDG_STATE_HOME": "/home/ana/.state"}
    assert database(None, systemd) == "sqlite+aiosqlite:////var/lib/mitreden/mitreden.db"
    xdg = {"XDG_STATE_HOME": "/home/ana/.state"}
    assert database(None, xdg) == "sqlite+aiosqlite:////home/ana/.state/mitreden/mitreden.db"


def test_a_database_and_matrix_store_set_explicitly_stay_where_they_are() -> None:
    settings = load_settings(
        None,
        environ={
            "MITREDEN_DATA_DIR": "/srv/mitreden",
            "MITREDEN_DATABASE_URL": "postgresql+asyncpg://bot@db/mitreden",
            "MITREDEN_MATRIX_STORE_DIR": "/srv/keys",
        },
    )
    assert (settings.data.dir, settings.database.url, settings.matrix.store_dir) == (
        "/srv/mitreden",
        "postgresql+asyncpg://bot@db/mitreden",
        "/srv/keys",
    )


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


def test_environment_sets_a_key_with_underscores_in_its_type() -> None:
    settings = load_settings(
        EXAMPLE_CONFIG,
        environ={
            "MITREDEN_TELEGRAM_WEBHOOK_PORT": "9443",
            "MITREDEN_REPORT_REMINDER_DAYS_BEFORE_DUE": "14, 3",
            "MITREDEN_DELIVERY_POLL_INTERVAL_SECONDS": "0.5",
            "MITREDEN_BOT_ADMINISTRATORS": "",
        },
    )

    assert settings.telegram.webhook_port == 9443
    assert settings.report.reminder_days_before_due == (14, 3)
    assert settings.delivery.poll_interval_seconds == 0.5
    assert settings.bot.administrators == ()


def test_variables_that_name_no_section_are_not_settings() -> None:
    """MITREDEN_CONFIG names the file, MITREDEN_PG_BIN is the tests' own."""
    environ = {"MITREDEN_CONFIG": "elsewhere.toml", "MITREDEN_PG_BIN": "/usr/lib/postgresql"}
    assert load_settings(None, environ=environ) == load_settings(None, environ={})


def test_an_unknown_key_in_the_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^bot\.colour: unknown setting"):
        load_settings(EXAMPLE_CONFIG, environ={"MITREDEN_BOT_COLOUR": "blue"})


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


def test_a_secret_file_from_the_environment_wins_and_the_secret_itself_wins_over_both(
    tmp_path: Path,
) -> None:
    in_file, in_env = tmp_path / "password_in_file", tmp_path / "password_in_env"
    in_file.write_text("from-the-file\n", encoding="utf-8")
    in_env.write_text("from-the-environment\n", encoding="utf-8")
    path = write(tmp_path, f'[matrix]\npassword_file = "{in_file}"\n')
    by_variable = {"MITREDEN_MATRIX_PASSWORD_FILE": str(in_env)}

    assert load_settings(path, environ={}).matrix.password == "from-the-file"
    assert load_settings(path, environ=by_variable).matrix.password == "from-the-environment"
    itself = {**by_variable, "MITREDEN_MATRIX_PASSWORD": "given"}
    assert load_settings(path, environ=itself).matrix.password == "given"


def test_an_empty_inline_secret_is_no_secret(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\nwebhook_secret = ""\n')
    assert load_settings(path, environ={}).telegram.webhook_secret == ""


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
        ('[telegram]\nwebhook_port = "8443"', r"telegram\.webhook_port: expected int, got '8443'"),
        ("[delivery]\nworkers = 2.5", r"delivery\.workers: expected int, got 2\.5"),
        ("[report]\nreminder_days_before_due = [7, true]", r"report\.reminder_days_before_due: "),
        ('[coordination]\ndigest_weekday = "someday"', r"coordination\.digest_weekday: "),
        ("bot = 1", r"bot: expected a table"),
        ('[[groups]]\nkey = "g"\nname = "G"\nanswer_days = "14"', r"groups\[0\]\.answer_days: "),
        (
            '[[groups]]\nkey = "g"\nname = "G"\nowner = "me"',
            r"groups\[0\]\.owner: unknown setting",
        ),
    ],
)
def test_bad_values_name_the_dotted_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}"):
        load_settings(write(tmp_path, toml + "\n"), environ={})


def test_durations_take_fractions_of_a_second(tmp_path: Path) -> None:
    path = write(tmp_path, "[delivery]\npoll_interval_seconds = 0.25\n")
    assert load_settings(path, environ={}).delivery.poll_interval_seconds == 0.25
    assert DeliverySettings(workers=2, poll_interval_seconds=0.02).poll_interval_seconds == 0.02


def test_a_changed_setting_is_checked_as_well() -> None:
    with pytest.raises(ValidationError):
        dataclasses.replace(Settings().bot, max_text_length="many")


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


def test_an_ops_address_without_a_port_is_refused() -> None:
    assert load_settings(None, environ={"MITREDEN_OPS_LISTEN": ""}).ops.listen == ""
    with pytest.raises(ConfigError, match=r"^ops\.listen: 'localhost' must look like"):
        load_settings(None, environ={"MITREDEN_OPS_LISTEN": "localhost"})
