"""Credentials the homeserver refuses end `mitreden run` at once, as a service manager sees
it: exit code 2 and one line naming the setting (never the secret), instead of a bot that
tries again forever with credentials no retry can mend (issue 16, item 5)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from testkit.support import EXAMPLE_CONFIG, ROOT
from tests.e2e.matrix.conftest import Lab

pytestmark = pytest.mark.e2e

WITHIN = 60.0


async def run_with(env: dict[str, str]) -> tuple[int, str]:
    """`python -m bot run` with standard input /dev/null; its exit code and its log."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(EXAMPLE_CONFIG),
        "run",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), WITHIN)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


def matrix_env(lab: Lab, tmp_path: Path, user_id: str, **secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITREDEN_")}
    env |= {
        "MITREDEN_DATA_DIR": str(tmp_path / "data"),
        "MITREDEN_OPS_LISTEN": "",
        "MITREDEN_MATRIX_HOMESERVER": lab.synapse.url,
        "MITREDEN_MATRIX_USER_ID": user_id,
        **{f"MITREDEN_MATRIX_{key.upper()}": value for key, value in secret.items()},
    }
    return env


async def test_a_wrong_password_stops_the_bot_with_one_line_and_code_2(
    lab: Lab, tmp_path: Path
) -> None:
    account = lab.register("bot")
    wrong = "not-the-password-" + account.password[:6]
    code, log = await run_with(matrix_env(lab, tmp_path, account.user_id, password=wrong))

    assert code == 2, log
    assert log.splitlines()[-1].endswith(
        f"CRITICAL mitreden: the Matrix homeserver {lab.synapse.url} rejected the password "
        f"(MITREDEN_MATRIX_PASSWORD or matrix.password_file) of {account.user_id} (M_FORBIDDEN)"
    )
    assert "Traceback" not in log
    assert wrong not in log


async def test_an_unknown_access_token_stops_the_bot_with_one_line_and_code_2(
    lab: Lab, tmp_path: Path
) -> None:
    account = lab.register("bot")
    token = "syt_not_a_token_the_homeserver_issued"
    code, log = await run_with(matrix_env(lab, tmp_path, account.user_id, access_token=token))

    assert code == 2, log
    assert log.splitlines()[-1].endswith(
        f"CRITICAL mitreden: the Matrix homeserver {lab.synapse.url} rejected the access token "
        f"(MITREDEN_MATRIX_ACCESS_TOKEN or matrix.access_token_file) of {account.user_id} "
        "(M_UNKNOWN_TOKEN)"
    )
    assert "Traceback" not in log
    assert token not in log
