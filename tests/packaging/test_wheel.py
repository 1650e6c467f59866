"""The wheel a city's IT installs (issue 16, item 1): built from a clean copy of the checkout
(no compiled catalogues in it, as in a fresh clone), installed into a fresh virtualenv outside
the checkout, and used from another directory as the README says: `mitreden --version`,
`mitreden config example > config.toml` and the README's scripted console conversation.

Slow (a wheel build and a virtualenv, about 15 s), so marked `packaging`. To stay fast and work
offline the new virtualenv reaches the dependencies already installed in the environment
running the tests (a `.pth` file, which Python reads without running the `.pth` files of the
directory it names, so the checkout's editable install stays out); mitreden itself comes from
the wheel alone, which the first test proves.
"""

from __future__ import annotations

import gettext
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli.main import main
from testkit.support import ROOT

pytestmark = pytest.mark.packaging

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PROJECT["version"]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # where the operator runs commands: neither the checkout nor the virtualenv
    env: dict[str, str]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """`mitreden ARGS` from the virtualenv, run in `workdir`."""
        return subprocess.run(
            [str(self.venv / "bin" / "mitreden"), *args],
            input=stdin,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            encoding="utf-8",
            timeout=120,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    _copy_checkout(source)
    dist = base / "dist"
    _check_call(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source)
    (wheel,) = dist.glob("mitreden-*.whl")

    venv = base / "venv"
    _check_call(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site_packages = Path(
        _output(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    )
    dependencies = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    (site_packages / "mitreden-test-dependencies.pth").write_text("\n".join(dependencies) + "\n")
    _check_call(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel
    )

    workdir = base / "operator"
    workdir.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MITREDEN_", "XDG_")) and name not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    # Whatever the defaults, nothing the bot writes lands outside the test's directory.
    env["HOME"] = str(workdir)
    env["MITREDEN_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'mitreden.db'}"
    return Installed(wheel, venv, workdir, env)


def test_mitreden_comes_from_the_wheel_alone(installed: Installed) -> None:
    where = _output(
        installed.venv / "bin" / "python",
        "-c",
        "import bot, handlers, storage, importlib.metadata as m; "
        "print(bot.__file__, handlers.__file__, storage.__file__, "
        "m.distribution('mitreden').locate_file(''))",
        cwd=installed.workdir,
        env=installed.env,
    ).split()

    assert all(Path(path).is_relative_to(installed.venv) for path in where), where


def test_the_wheel_holds_catalogues_migrations_example_config_and_license(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        catalogues = {
            name: gettext.GNUTranslations(io.BytesIO(wheel.read(name)))
            for name in names
            if name.endswith(".mo")
        }
        example = wheel.read("bot/config.example.toml")
        metadata = wheel.read(f"mitreden-{VERSION}.dist-info/METADATA").decode()

    languages = sorted(po.parent.parent.name for po in ROOT.glob("handlers/locales/*/*/*.po"))
    assert sorted(catalogues) == [
        f"handlers/locales/{language}/LC_MESSAGES/mitreden.mo" for language in languages
    ]
    assert all(catalogue.info()["language"] for catalogue in catalogues.values())
    migrations = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "storage" / "migrations").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "storage/migrations/versions/0001_initial.py" in migrations
    assert migrations <= names
    assert example == (ROOT / "config.example.toml").read_bytes()
    assert f"mitreden-{VERSION}.dist-info/licenses/LICENSE" in names
    assert f"License-Expression: {PROJECT['license']}" in metadata


def test_version_and_example_config_from_the_installed_command(installed: Installed) -> None:
    version = installed.run("--version")
    example = installed.run("config", "example")

    assert (version.returncode, version.stdout.strip()) == (0, f"mitreden {VERSION}")
    assert example.returncode == 0, example.stderr
    assert example.stdout == (ROOT / "config.example.toml").read_text(encoding="utf-8")


def test_example_config_in_the_checkout(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no build step copied it (an editable install, `make run`): the root file itself."""
    for name in [name for name in os.environ if name.startswith("MITREDEN_")]:
        monkeypatch.delenv(name)

    code = main(["--config", str(ROOT / "config.example.toml"), "config", "example"])

    assert (code, capsysbinary.readouterr().out) == (
        0,
        (ROOT / "config.example.toml").read_bytes(),
    )


def test_the_readme_conversation_with_the_installed_bot(installed: Installed) -> None:
    """What the README shows a resident, with the configuration the installed bot printed."""
    (installed.workdir / "config.toml").write_text(
        installed.run("config", "example").stdout, encoding="utf-8"
    )
    script = _readme_conversation()

    alice = installed.run("--config", "config.toml", "shell", "--as", "alice", stdin=script)
    # The same bot in English: the compiled catalogues are the ones in use, not only present.
    bob = installed.run(
        "--config", "config.toml", "shell", "--as", "bob", "--language", "en", stdin="/start\n"
    )

    assert alice.returncode == 0, alice.stderr
    assert "Traceback" not in alice.stderr
    assert "Willkommen bei mitreden!" in alice.stdout
    assert "Was für eine Rückmeldung ist das?" in alice.stdout
    assert "Vielen Dank! Ihre Rückmeldung ist eingegangen." in alice.stdout
    reference = re.search(r"Ihre Referenz: (F-\d{4}-0001)\b", alice.stdout)
    assert reference is not None, alice.stdout
    assert f"{reference[1]} · Vorschlag · eingegangen" in alice.stdout  # the answer to /status
    assert bob.returncode == 0, bob.stderr
    assert "Welcome to mitreden!" in bob.stdout
    assert (installed.workdir / "mitreden.db").is_file()


def _readme_conversation() -> str:
    """The input the README's scripted console conversation pipes into `mitreden shell`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"printf '([^']*)' \\\n\s*\| \S*mitreden .*shell --as alice", readme)
    assert found is not None, "README.md: the scripted console conversation is gone"
    return found[1].replace("\\n", "\n")


def _copy_checkout(target: Path) -> None:
    """The files git would hold after a commit of this working tree: no build products such
    as the compiled catalogues, no virtualenvs."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not a file deleted in the working tree
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def _check_call(*command: str | Path) -> None:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"


def _output(
    *command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()
