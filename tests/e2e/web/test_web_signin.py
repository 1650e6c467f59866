"""Signing in to the web view through the chat: `/web` gives coordinators and
administrators a one-time link valid 10 minutes; everyone else is refused; a link used twice
or late gets a clear page; sessions end by signing out, everywhere, or by inactivity; every
sign-in and sign-out is audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from yarl import URL

from bot.app import App
from bot.config import Settings
from handlers.messages import Platform
from storage.web_models import WebAudit, WebSession, WebSignIn
from testkit.support import Resident, rows
from tests.e2e.conftest import RunningBot
from tests.e2e.web.conftest import ADMIN_ID, PREFIX, Browser

pytestmark = pytest.mark.e2e


async def test_a_coordinator_signs_in_with_the_link_from_the_chat(
    bot: RunningBot, browser: Browser
) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))

    link = await browser.ask_link(cora)

    assert link.startswith(f"{browser.base}/signin/")
    token = link.rsplit("/", 1)[1]
    (stored,) = await rows(bot.app.db, WebSignIn)
    assert token not in stored.token_hash and len(stored.token_hash) == 64  # only its digest
    # Opening the link (as a chat's link preview does) uses nothing; the button does.
    status, page = await browser.get(link)
    assert status == 200 and "Anmelden" in page
    assert (await rows(bot.app.db, WebSignIn))[0].used_at is None
    status, page = await browser.open_link(link)
    assert status == 200
    assert "<h1>Übersicht</h1>" in page and "Cora" in page

    audit = [a.action for a in await rows(bot.app.db, WebAudit)]
    assert audit == ["link_issued", "signed_in"]


async def test_everyone_else_is_told_only_coordinators(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa")
    bot.api.inject_text(rosa.id, "/web")
    await bot.message_with(rosa.id, "Diesen Befehl können nur Koordinator:innen")
    assert await rows(bot.app.db, WebSignIn) == []


async def test_in_a_group_chat_the_link_is_not_given(bot: RunningBot) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    group = bot.api.add_group("UAG Bildung", [cora.id])
    bot.api.inject_text(cora.id, "/web", group.id)
    await bot.message_with(group.id, "Das geht nur im privaten Chat")
    assert await rows(bot.app.db, WebSignIn) == []


async def test_a_link_used_twice_or_late_gets_a_clear_page(
    bot: RunningBot, browser: Browser, second_browser: Browser
) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    link = await browser.ask_link(cora)
    assert (await browser.open_link(link))[0] == 200

    status, page = await second_browser.open_link(link)
    assert status == 403
    assert "Dieser Anmeldelink wurde schon benutzt" in page
    assert (await second_browser.get("/items"))[0] == 401

    late = await second_browser.ask_link(cora)
    bot.app.clock.advance(timedelta(minutes=10, seconds=1))  # type: ignore[attr-defined]
    status, page = await second_browser.open_link(late)
    assert status == 403 and "Dieser Anmeldelink ist abgelaufen" in page

    status, page = await second_browser.open_link(f"{browser.base}/signin/made-up-token")
    assert status == 403 and "Diesen Anmeldelink kenne ich nicht" in page
    refused = [a.detail for a in await rows(bot.app.db, WebAudit) if a.action == "sign_in_refused"]
    assert refused == ["used", "expired", "unknown"]


async def test_the_cookie_is_httponly_lax_on_the_prefix_and_rotated(
    bot: RunningBot, browser: Browser
) -> None:
    admin = bot.api.add_user("Ada", user_id=ADMIN_ID)  # an administrator needs no group
    await browser.sign_in(admin)
    first = browser.session.cookie_jar.filter_cookies(URL(browser.base))["mitreden_session"].value

    token = (await browser.ask_link(admin)).rsplit("/", 1)[1]
    async with browser.session.post(
        f"{browser.base}/signin", data={"token": token}, allow_redirects=False
    ) as response:
        assert response.status == 303 and response.headers["Location"] == f"{PREFIX}/"
        cookie = response.headers["Set-Cookie"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes and "SameSite=Lax" in attributes
    assert f"Path={PREFIX}" in attributes
    assert "Secure" not in attributes  # http here; an https base URL: test_web_security
    second = browser.session.cookie_jar.filter_cookies(URL(browser.base))["mitreden_session"].value
    assert second != first  # a new session id at every sign-in; the old session ended
    sessions = await rows(bot.app.db, WebSession)
    assert [s.end_reason for s in sessions] == ["rotated", None]
    assert first not in {s.session_hash for s in sessions}  # only digests are kept


async def test_sign_out_and_sign_out_everywhere(
    bot: RunningBot, browser: Browser, second_browser: Browser
) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await browser.sign_in(cora)
    await second_browser.sign_in(cora)

    status, page = await browser.post("/signout", {})
    assert status == 200 and "Sie sind abgemeldet." in page
    assert (await browser.get("/"))[0] == 401
    assert (await second_browser.get("/"))[0] == 200

    await browser.sign_in(cora)
    status, page = await second_browser.post("/signout/all", {})
    assert status == 200 and "auf allen Geräten abgemeldet" in page
    assert (await browser.get("/"))[0] == 401
    assert (await second_browser.get("/"))[0] == 401
    actions = [a.action for a in await rows(bot.app.db, WebAudit)]
    assert actions.count("signed_out") == 1 and actions.count("signed_out_everywhere") == 1


async def test_a_session_ends_after_an_hour_without_a_request(
    bot: RunningBot, browser: Browser
) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await browser.sign_in(cora)
    bot.app.clock.advance(timedelta(minutes=59))  # type: ignore[attr-defined]
    assert (await browser.get("/items"))[0] == 200  # a request: the hour starts again
    bot.app.clock.advance(timedelta(minutes=59))  # type: ignore[attr-defined]
    assert (await browser.get("/items"))[0] == 200
    bot.app.clock.advance(timedelta(minutes=61))  # type: ignore[attr-defined]
    status, page = await browser.get("/items")
    assert status == 401 and "Bitte melden Sie sich an" in page
    (session,) = await rows(bot.app.db, WebSession)
    assert session.end_reason == "idle"


async def test_a_session_ends_after_twelve_hours_however_busy(
    bot: RunningBot, browser: Browser
) -> None:
    cora = bot.resident("Cora")
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await browser.sign_in(cora)
    for _ in range(12):
        bot.app.clock.advance(timedelta(minutes=59))  # type: ignore[attr-defined]
        assert (await browser.get("/items"))[0] == 200
    bot.app.clock.advance(timedelta(minutes=13))  # type: ignore[attr-defined]
    assert (await browser.get("/items"))[0] == 401
    (session,) = await rows(bot.app.db, WebSession)
    assert session.end_reason == "age"


async def test_on_matrix_too(make_app: Callable[..., Awaitable[App]], settings: Settings) -> None:
    """The same command in a Matrix direct chat (the router is the channels' common one)."""
    app = await make_app(settings)
    await app.store.membership.add_coordinator("uag-bildung", "matrix", "u-cora")
    cora = Resident(app.handle, "cora", platform=Platform.MATRIX)
    mallory = Resident(app.handle, "mallory", platform=Platform.MATRIX)

    await cora.command("/web")
    assert f"{settings.web.base_url}/signin/" in cora.last_text
    await mallory.command("/web")
    assert "nur Koordinator:innen" in mallory.last_text
    (link,) = await rows(app.db, WebSignIn)
    assert link.actor == "matrix:u-cora"
