"""A real browser for the web view's tests: Debian's `chromium`, headless, driven by Selenium
through Debian's `chromium-driver`, with axe-core for the accessibility checks.

axe-core comes from the PyPI package `selenium-axe-python` (a dev dependency), which vendors
`axe.min.js`; the tests read that file and run it themselves, so no npm and no download at
test time. `AXE_VERSION` pins what the checks were written against.

Selenium blocks; the bot under test runs in the test's event loop. Every browser call
therefore runs in a worker thread (`Chrome.call`), so the loop keeps serving the pages.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE_VERSION = "4.9.1"


def axe_source() -> str:
    source = (
        importlib.resources.files("selenium_axe_python") / "axe-core" / "axe.min.js"
    ).read_text(encoding="utf-8")
    assert f"axe v{AXE_VERSION}" in source[:200], source[:200]
    return source


def need_chromium() -> None:
    """Skip without Chromium and its driver, except in CI (.ci/system-packages installs
    them there), where a missing browser must fail."""
    if all(shutil.which(p) or os.path.exists(p) for p in (CHROMIUM, CHROMEDRIVER)):
        return
    if os.environ.get("CI"):
        pytest.fail("chromium and chromium-driver are missing (.ci/system-packages)")
    pytest.skip("needs Debian's chromium and chromium-driver")


class Chrome:
    """One headless Chromium window."""

    def __init__(self, downloads: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--lang=de-DE",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
        ):
            options.add_argument(argument)
        options.add_experimental_option("prefs", {"intl.accept_languages": "de-DE,de"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.execute_cdp_cmd(
            "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        self._axe = axe_source()

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(work, *args)

    async def open(self, url: str) -> None:
        await self.call(self.driver.get, url)

    async def run(self, script: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_script, script, *args)

    async def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations of the page as it is now (every rule axe runs by default:
        WCAG 2.0, 2.1 and 2.2 A and AA, and best practices)."""

        def check() -> list[dict[str, Any]]:
            self.driver.execute_script(self._axe)
            self.driver.set_script_timeout(60)
            result = self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "axe.run(document, {resultTypes: ['violations']})"
                ".then(r => done(JSON.stringify(r.violations)))"
                ".catch(e => done(JSON.stringify([{id: 'axe-error', help: String(e)}])));"
            )
            return list(json.loads(result))

        return await self.call(check)

    async def no_violations(self, page: str) -> None:
        violations = await self.axe()
        assert not violations, f"{page}: " + "; ".join(
            f"{v['id']}: {v.get('help')} ({[n.get('target') for n in v.get('nodes', [])][:3]})"
            for v in violations
        )

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self.call(self.driver.save_screenshot, str(path))

    async def quit(self) -> None:
        await self.call(self.driver.quit)
