"""deploy/: the systemd units an operator installs. `systemd-analyze verify` accepts them,
`systemd-analyze security` rates the bot's sandbox "OK" or better, they carry the hardening
and restart policy the README promises, and the environment and credentials they hand the
bot give the settings they are meant to: the database and Matrix store in the state
directory, each secret from `$CREDENTIALS_DIRECTORY`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from bot.config import SECRETS, credential_name, load_settings
from testkit.support import EXAMPLE_CONFIG, ROOT

DEPLOY = ROOT / "deploy"
UNITS = ("mitreden.service", "mitreden-backup.service", "mitreden-backup.timer")
INSTALLED = "/opt/mitreden/bin/mitreden"  # where the units expect the wheel's command
# What systemd's specifiers in the units stand for in a system unit.
SPECIFIERS = {"%S": "/var/lib", "%C": "/var/cache", "%%": "%"}
NEWEST_SANDBOX_EXPOSURE = 2.0  # `systemd-analyze security`: up to 2.0 is "OK" or "SAFE"


def settings_of(unit: str) -> dict[str, list[str]]:
    """`Key=Value` lines of `unit`, every value of a key in order (`Environment` and
    `LoadCredential` come several times), specifiers resolved."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / unit).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            for specifier, meaning in SPECIFIERS.items():
                value = value.replace(specifier, meaning)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def environment_of(unit: str) -> dict[str, str]:
    """The variables `Environment=` sets (several assignments a line, separated by spaces)."""
    return dict(
        assignment.split("=", 1)
        for line in settings_of(unit).get("Environment", [])
        for assignment in line.split()
    )


def require(condition: bool, reason: str) -> None:
    """Skip without `condition` on a developer's machine; under CI=true, fail instead."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/system-packages installs it)")
    pytest.skip(reason)


@pytest.fixture
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    require(os.access(found, os.X_OK), "systemd-analyze is not installed (Debian: systemd)")
    shown = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    version = int(re.match(r"systemd (\d+)", shown.stdout).group(1))  # type: ignore[union-attr]
    # LoadCredential=ID without a path (the credential store) needs systemd 251.
    require(version >= 251, f"the units need systemd 251 or newer, found {version}")
    return found


@pytest.fixture
def installed_units(tmp_path: Path) -> Path:
    """The units as installed, with ExecStart pointing at this virtualenv's `mitreden`
    (verify checks that the command exists and is executable)."""
    command = Path(sysconfig.get_path("scripts")) / "mitreden"
    assert command.exists(), command
    for unit in UNITS:
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace(INSTALLED, str(command)), encoding="utf-8")
    return tmp_path


def test_systemd_accepts_the_units(systemd_analyze: str, installed_units: Path) -> None:
    verified = subprocess.run(
        [systemd_analyze, "verify", *(str(installed_units / unit) for unit in UNITS)],
        capture_output=True,
        text=True,
        cwd=installed_units,
    )

    # verify exits 0 on an unknown key or a value it cannot parse, and only warns: every
    # line about our units counts.
    about_ours = [line for line in verified.stderr.splitlines() if "mitreden" in line]
    assert (verified.returncode, about_ours) == (0, []), verified.stderr


@pytest.mark.parametrize("unit", ["mitreden.service", "mitreden-backup.service"])
def test_the_sandbox_is_rated_ok_by_systemd(
    systemd_analyze: str, installed_units: Path, unit: str
) -> None:
    rated = subprocess.run(
        [
            systemd_analyze, "security", "--offline=yes",
            f"--threshold={int(NEWEST_SANDBOX_EXPOSURE * 10)}", str(installed_units / unit),
        ],
        capture_output=True, text=True, cwd=installed_units,
    )  # fmt: skip

    assert rated.returncode == 0, rated.stdout[-2000:] + rated.stderr


def test_the_bot_runs_hardened_and_is_restarted_on_failure() -> None:
    unit = settings_of("mitreden.service")
    one = {key: values[-1] for key, values in unit.items()}

    assert one["ExecStart"] == f"{INSTALLED} run"
    assert unit["ExecStartPre"] == [f"{INSTALLED} db upgrade", f"{INSTALLED} privacy reapply"]
    assert (one["Restart"], one["RestartPreventExitStatus"]) == ("on-failure", "2")
    assert {
        key: one.get(key)
        for key in (
            "DynamicUser", "StateDirectory", "ProtectSystem", "ProtectHome", "PrivateTmp",
            "PrivateDevices", "NoNewPrivileges", "CapabilityBoundingSet", "RestrictNamespaces",
            "RestrictAddressFamilies", "LockPersonality", "UMask",
        )
    } == {
        "DynamicUser": "yes", "StateDirectory": "mitreden", "ProtectSystem": "strict",
        "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
        "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "RestrictNamespaces": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "LockPersonality": "yes",
        "UMask": "0077",
    }  # fmt: skip
    assert unit["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]


def test_the_credentials_are_the_secrets_the_configuration_knows() -> None:
    secrets = {credential_name(section, key) for section, keys in SECRETS.items() for key in keys}

    credentials = settings_of("mitreden.service")["LoadCredential"]

    assert sorted(credentials) == sorted(secrets)
    assert "telegram_token" in secrets


def test_the_units_environment_and_credentials_give_the_settings(tmp_path: Path) -> None:
    """What the bot reads under systemd: the unit's variables, and a credentials directory
    as systemd fills it (a Telegram-only bot: no Matrix password)."""
    (tmp_path / "telegram_token").write_text("123456:ABC-credential\n", encoding="utf-8")
    (tmp_path / "matrix_password").write_text("", encoding="utf-8")  # empty: not set
    environ = {**environment_of("mitreden.service"), "CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert environ["MITREDEN_DATA_DIR"] == "/var/lib/mitreden"

    settings = load_settings(EXAMPLE_CONFIG, environ)

    assert settings.database.url == "sqlite+aiosqlite:////var/lib/mitreden/mitreden.db"
    assert settings.matrix.store_dir == "/var/lib/mitreden/matrix"
    assert settings.telegram.token == "123456:ABC-credential"
    assert (settings.matrix.password, settings.telegram.webhook_secret) == ("", "")
    # A variable holding the secret itself still wins, as it does over a `*_file`.
    chosen = load_settings(EXAMPLE_CONFIG, {**environ, "MITREDEN_TELEGRAM_TOKEN": "from-env"})
    assert chosen.telegram.token == "from-env"


def test_the_backup_runs_on_the_bots_places_as_the_bots_user() -> None:
    bot, backup = settings_of("mitreden.service"), settings_of("mitreden-backup.service")
    ours = {k: v for k, v in environment_of("mitreden.service").items() if "MITREDEN" in k}

    assert environment_of("mitreden-backup.service") == ours
    assert backup["User"] == ["mitreden"]  # the bot's dynamic user, named after its unit
    assert backup["StateDirectory"] == [f"{bot['StateDirectory'][0]} mitreden-backup"]
    assert backup["ExecStart"][0].startswith(f"/bin/sh -c 'exec {INSTALLED} backup ")
    assert settings_of("mitreden-backup.timer")["OnCalendar"]
