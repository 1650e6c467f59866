"""The web view in a real browser (headless Chromium, tests/e2e/web/browser.py), the whole
path as the integration office uses it: a coordinator signs in through `/web` on the fake
Bot API, filters the items, opens one, answers the resident with the keyboard alone (the
resident receives the answer on Telegram), changes its state, and signs out; an
administrator downloads the year report. axe-core finds no violation on any page; the pages
are usable 320 px wide; the items list prints without navigation and forms. The same test
saves the README's screenshots (docs/web-*.png), so they show what the code shows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from testkit.support import ROOT
from tests.e2e.conftest import RunningBot
from tests.e2e.web.browser import Chrome, need_chromium
from tests.e2e.web.conftest import ADMIN_ID, PREFIX, Browser, submit

pytestmark = pytest.mark.e2e
DOCS = ROOT / "docs"


@pytest.fixture
async def chrome(tmp_path: Path) -> Chrome:
    need_chromium()
    opened = await asyncio.to_thread(Chrome, tmp_path)
    try:
        yield opened  # type: ignore[misc]
    finally:
        await opened.quit()


async def tab_to(chrome: Chrome, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element with `element_id` has the focus (keyboard only)."""
    driver = chrome.driver

    def tab() -> None:
        body = driver.switch_to.active_element
        for _ in range(limit):
            if driver.switch_to.active_element.get_attribute("id") == element_id:
                return
            body.send_keys(Keys.TAB)
            body = driver.switch_to.active_element
        raise AssertionError(f"Tab never reached #{element_id}")

    await chrome.call(tab)


async def keys(chrome: Chrome, *typed: str) -> None:
    await chrome.call(lambda: chrome.driver.switch_to.active_element.send_keys(*typed))


async def sign_in(chrome: Chrome, bot: RunningBot, user_id: int) -> None:
    """Ask for the link in the chat, open it, press the button with the keyboard."""
    asker = Browser(bot)
    try:
        link = await asker.ask_link(bot.api.users[user_id])
    finally:
        await asker.close()
    await chrome.open(link)
    await chrome.no_violations("sign-in page")
    await tab_to(chrome, "signin")
    await keys(chrome, Keys.ENTER)
    await wait_for(chrome, "h1", "Übersicht")


async def wait_for(chrome: Chrome, selector: str, text: str, within: float = 10.0) -> WebElement:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await chrome.call(chrome.driver.find_elements, By.CSS_SELECTOR, selector)
        for element in found:
            try:
                if text in await chrome.call(lambda e=element: e.text):
                    return element
            except StaleElementReferenceException:  # the page was replaced meanwhile
                break
        if loop.time() > deadline:
            page = await chrome.call(lambda: chrome.driver.page_source[:2000])
            raise AssertionError(f"no {selector} with {text!r}: {page}")
        await asyncio.sleep(0.05)


async def page_width(chrome: Chrome) -> int:
    return int(await chrome.run("return document.documentElement.scrollWidth"))


async def test_a_working_groups_morning_in_the_browser(
    bot: RunningBot, chrome: Chrome, tmp_path: Path
) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    rosa = bot.resident("Rosa")
    first = await submit(bot, rosa.id, "Mehr Deutschkurse am Abend, bitte – nach der Arbeit.")
    await submit(bot, rosa.id, "Die Bibliothek sollte samstags länger offen sein.")
    await submit(
        bot,
        rosa.id,
        "Lob für das Sprachcafé im Stadtteilzentrum!",
        kind="Lob",
        field="Arbeit und Ausbildung",
    )
    base = f"http://{bot.settings.web.listen}{PREFIX}"

    # Cora signs in through the chat; the overview shows the month and the year.
    await sign_in(chrome, bot, cora.id)
    await chrome.no_violations("overview")
    await chrome.screenshot(DOCS / "web-overview.png")

    # She filters the list to what is still waiting ("eingegangen") and searches a word.
    await chrome.open(f"{base}/items")
    await chrome.no_violations("items")
    await chrome.call(
        lambda: chrome.driver.find_element(
            By.CSS_SELECTOR, "#state option[value=received]"
        ).click()
    )
    await chrome.call(lambda: chrome.driver.find_element(By.ID, "q").send_keys("Abend"))
    await chrome.call(
        lambda: chrome.driver.find_element(By.CSS_SELECTOR, ".filters button").click()
    )
    await wait_for(chrome, "#count", "1 Rückmeldung")
    rows = await chrome.call(chrome.driver.find_elements, By.CSS_SELECTOR, "table.items tbody tr")
    assert len(rows) == 1
    await chrome.no_violations("items, filtered")
    await chrome.open(f"{base}/items")
    await chrome.screenshot(DOCS / "web-items.png")

    # Printed for the meeting: no navigation, no filters, the table whole.
    await chrome.call(
        lambda: chrome.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    )
    hidden = await chrome.run(
        "return ['nav', '.filters', '.account'].map("
        "s => getComputedStyle(document.querySelector(s)).display)"
    )
    assert hidden == ["none", "none", "none"]
    assert (
        await chrome.run("return getComputedStyle(document.querySelector('table')).display")
        == "table"
    )
    await chrome.call(
        lambda: chrome.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    )

    # She opens the item and answers with the keyboard alone.
    await chrome.call(lambda: chrome.driver.find_element(By.LINK_TEXT, first).click())
    await wait_for(chrome, "h1", first)
    await chrome.no_violations("item")
    await tab_to(chrome, "reply-text")
    await keys(chrome, "Ab September gibt es einen Abendkurs in der VHS.")
    await keys(chrome, Keys.TAB)
    await keys(chrome, Keys.ENTER)
    await wait_for(chrome, "#status", f"Ihre Antwort auf {first} ist unterwegs.")
    answer = await bot.message_with(rosa.id, "Ab September gibt es einen Abendkurs in der VHS.")
    assert answer.text is not None and "Cora" not in answer.text
    await chrome.no_violations("item after the answer")

    # Then she sets "umgesetzt" with a note, again with the keyboard.
    await tab_to(chrome, "state-new")
    await keys(chrome, "u")  # the first state starting with "u": umgesetzt
    assert await chrome.run("return document.getElementById('state-new').value") == "implemented"
    await keys(chrome, Keys.TAB)
    await keys(chrome, "Der Kurs steht im Herbstprogramm.")
    await keys(chrome, Keys.TAB)
    await keys(chrome, Keys.ENTER)
    await wait_for(chrome, "#status", "ist jetzt umgesetzt")
    told = await bot.message_with(rosa.id, f"Neuer Stand Ihrer Rückmeldung {first}: umgesetzt.")
    assert told.text is not None and "Der Kurs steht im Herbstprogramm." in told.text
    history = await chrome.call(
        lambda: (
            chrome.driver.find_element(By.CSS_SELECTOR, "#history-caption + thead + tbody").text
        )
    )
    assert "Antwort von Cora an die Bürger:in" in history
    assert "Cora hat den Status geändert: umgesetzt" in history
    await chrome.run("window.scrollTo(0, 0)")
    await chrome.screenshot(DOCS / "web-item.png")

    # 320 px wide: nothing sticks out of the page (wide tables scroll in their own box).
    await chrome.call(chrome.driver.set_window_size, 320, 900)
    for path in ("/", "/items", f"/items/{first}", "/events", "/groups", "/report"):
        await chrome.open(base + path)
        assert await page_width(chrome) <= 320, path
        await chrome.no_violations(f"{path} at 320 px")
    await chrome.call(chrome.driver.set_window_size, 1280, 900)

    # She signs out; the pages ask her to sign in again.
    await chrome.open(f"{base}/events")
    await chrome.no_violations("events")
    await chrome.open(f"{base}/groups")
    await chrome.no_violations("groups, read only")
    await chrome.call(
        lambda: chrome.driver.find_element(By.CSS_SELECTOR, ".account button").click()
    )
    await wait_for(chrome, ".message", "Sie sind abgemeldet.")
    await chrome.no_violations("signed out")
    await chrome.open(f"{base}/items")
    await wait_for(chrome, ".message", "Bitte melden Sie sich an")
    await chrome.no_violations("sign-in needed")

    # The administrator downloads the year report as PDF.
    bot.api.add_user("Ada", user_id=ADMIN_ID)
    await sign_in(chrome, bot, ADMIN_ID)
    await chrome.open(f"{base}/groups")
    await chrome.no_violations("groups, administrator")
    await chrome.open(f"{base}/report")
    await chrome.no_violations("report")
    await chrome.call(
        lambda: chrome.driver.find_element(By.CSS_SELECTOR, 'a[href$="/report/2026.pdf"]').click()
    )
    report = tmp_path / "mitreden-report-2026.pdf"
    for _ in range(600):
        if report.exists() and report.stat().st_size:
            break
        await asyncio.sleep(0.1)
    assert report.read_bytes().startswith(b"%PDF")
