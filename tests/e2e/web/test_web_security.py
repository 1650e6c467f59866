"""The web view's protections, each as a person or an attacker would meet it: the role is
asked again on every request (a coordinator of one group gets 404 for another group's item,
by link or by a guessed address, for its page, its files and its actions); every form needs
the session's CSRF token; a resident's text is shown as text; the security headers are on
every response; sign-in links can be tried only so often; an anonymous resident is named
nowhere."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from handlers.settings import WebSettings
from storage.models import Attachment
from tests.e2e.conftest import RunningBot, StartBot
from tests.e2e.web.conftest import ADMIN_ID, Browser, free_port, submit

pytestmark = pytest.mark.e2e


async def coordinators(bot: RunningBot) -> tuple[int, int]:
    """Cora coordinates uag-bildung, Otto uag-arbeit; returns their ids."""
    cora, otto = bot.resident("Cora"), bot.resident("Otto")
    membership = bot.app.store.membership
    await membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await membership.add_coordinator("uag-arbeit", "telegram", str(otto.id))
    return cora.id, otto.id


async def test_another_groups_item_is_not_found_by_link_or_guess(
    bot: RunningBot, browser: Browser
) -> None:
    _, otto = await coordinators(bot)
    rosa = bot.resident("Rosa")
    reference = await submit(bot, rosa.id, "Mehr Deutschkurse am Abend.")  # uag-bildung
    (item,) = await bot.items()
    await bot.app.db.run(
        lambda session: session.add(
            Attachment(
                item_id=item.id,
                kind="document",
                file_name="plan.pdf",
                mime_type="application/pdf",
                size=3,
                sha256="x",
                data=b"pdf",
                created_at=item.created_at,
            )
        )
    )
    await browser.sign_in(bot.api.users[otto])

    for path in (
        f"/items/{reference}",
        f"/items/{reference.lower()}",
        f"/items/{reference}/files/1",
    ):
        status, page = await browser.get(path)
        assert status == 404, path
        assert "Mehr Deutschkurse" not in page
    status, page = await browser.get("/items")
    assert reference not in page
    status, page = await browser.get("/items?group=uag-bildung")
    assert reference not in page
    csv = await browser.response("/items.csv")
    assert reference not in (await csv.read()).decode()

    for action in ("take", "note", "reply", "state"):
        status, _ = await browser.post(
            f"/items/{reference}", {"action": action, "text": "x", "state": "closed"}
        )
        assert status == 404
    (unchanged,) = await bot.items()
    assert (unchanged.state, unchanged.assignee) == ("received", None)
    assert [e.action for e in await bot.app.store.items.list_history(item.id or 0)] == ["created"]


async def test_a_removed_coordinator_loses_the_web_view_at_the_next_click(
    bot: RunningBot, browser: Browser
) -> None:
    cora, _ = await coordinators(bot)
    await browser.sign_in(bot.api.users[cora])
    assert (await browser.get("/items"))[0] == 200
    await bot.app.store.membership.remove_coordinator("uag-bildung", "telegram", str(cora))
    status, page = await browser.get("/items")
    assert status == 401 and "Bitte melden Sie sich an" in page


async def test_every_form_needs_the_sessions_csrf_token(bot: RunningBot, browser: Browser) -> None:
    cora, _ = await coordinators(bot)
    rosa = bot.resident("Rosa")
    reference = await submit(bot, rosa.id, "Mehr Deutschkurse am Abend.")
    await browser.sign_in(bot.api.users[cora])
    status, page = await browser.get(f"/items/{reference}")
    assert status == 200
    forms = re.findall(r'<form method="post".*?</form>', page, re.S)
    assert forms and all('name="csrf"' in form for form in forms)

    for token in ("", "wrong"):
        status, _ = await browser.post(
            f"/items/{reference}", {"action": "take", "csrf": token}, csrf=False
        )
        assert status == 403
    assert (await browser.post("/signout", {"csrf": "wrong"}, csrf=False))[0] == 403
    (item,) = await bot.items()
    assert item.assignee is None
    assert (await browser.get("/items"))[0] == 200  # still signed in

    status, _ = await browser.post(f"/items/{reference}", {"action": "take"})
    assert status == 200
    (item,) = await bot.items()
    assert item.assignee == f"telegram:{cora}"


async def test_a_residents_script_is_shown_as_text(bot: RunningBot, browser: Browser) -> None:
    cora, _ = await coordinators(bot)
    rosa = bot.resident("Rosa")
    text = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    reference = await submit(bot, rosa.id, text)
    await browser.sign_in(bot.api.users[cora])

    for path in (f"/items/{reference}", "/items"):
        status, page = await browser.get(path)
        assert status == 200
        assert "<script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img" in page


async def test_security_headers_on_pages_errors_and_files(
    bot: RunningBot, browser: Browser
) -> None:
    cora, _ = await coordinators(bot)
    await browser.sign_in(bot.api.users[cora])
    for path in ("/", "/items", "/items/F-2026-9999", "/static/style.css", "/signin/x"):
        response = await browser.response(path)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
    page = await browser.response("/items")
    assert page.headers["Cache-Control"] == "no-store"
    unsigned = await Browser(bot).session.get(browser.base + "/")
    assert (
        unsigned.status == 401
        and "frame-ancestors 'none'" in unsigned.headers["Content-Security-Policy"]
    )
    await unsigned.release()


async def test_sign_in_links_can_be_tried_ten_times_a_minute(
    bot: RunningBot, browser: Browser
) -> None:
    cora, _ = await coordinators(bot)
    for _ in range(10):
        status, _ = await browser.post("/signin", {"token": "guess"}, csrf=False)
        assert status == 403
    link = await browser.ask_link(bot.api.users[cora])
    status, page = await browser.open_link(link)
    assert status == 429 and "Zu viele Anmeldeversuche" in page

    bot.app.clock.advance(timedelta(seconds=59))  # type: ignore[attr-defined]
    status, page = await browser.open_link(link)  # still within the minute
    assert status == 429
    bot.app.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    status, page = await browser.open_link(link)
    assert status == 200 and "<h1>Übersicht</h1>" in page


async def test_an_anonymous_resident_is_named_on_no_page_and_in_no_download(
    bot: RunningBot, browser: Browser
) -> None:
    cora, _ = await coordinators(bot)
    rosa = bot.resident("Rosalind")
    anonymous = await submit(bot, rosa.id, "Bitte mehr Bänke am Markt.")
    named = await submit(bot, rosa.id, "Danke für den Kurs.", anonymity="Mit meinem Namen")
    await browser.sign_in(bot.api.users[cora])
    admin = Browser(bot)
    try:
        await admin.sign_in(bot.api.add_user("Ada", user_id=ADMIN_ID))
        pages = [
            (await browser.get(f"/items/{anonymous}"))[1],
            (await browser.get("/items"))[1],
            (await browser.get("/"))[1],
            (await admin.get("/items"))[1],
            (await admin.get(f"/items/{anonymous}"))[1],
            (await (await browser.response("/items.csv")).read()).decode(),
            (await (await admin.response("/report/2026.csv")).read()).decode(),
            (await (await admin.response("/report/2026.html")).read()).decode(),
        ]
    finally:
        await admin.close()
    for page in pages:
        assert "Rosalind" not in page and str(rosa.id) not in page
    assert "anonym" in pages[0]
    named_page = (await browser.get(f"/items/{named}"))[1]
    assert "Rosalind" in named_page and str(rosa.id) not in named_page


async def test_the_cookie_is_secure_when_the_base_url_is_https(
    start_bot: StartBot,
) -> None:
    port = free_port()
    web = WebSettings(listen=f"127.0.0.1:{port}", base_url="https://stadt.example/mitreden")
    bot = await start_bot(ops="127.0.0.1:0")
    # The fixture's settings serve another port; this bot's web view is re-wired below.
    assert bot.settings.web.listen != web.listen
    from bot.web.server import WebServer

    server = WebServer(web, bot.app.deps)
    await server.start()
    try:
        cora = bot.resident("Cora")
        await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
        browser = Browser(bot)
        browser.origin = server.url
        browser.base = server.url + "/mitreden"
        try:
            link = await browser.ask_link(cora)
            # The link names the configured base URL; behind the proxy it is this server.
            token = link.rsplit("/", 1)[1]
            assert link.startswith(f"http://{bot.settings.web.listen}/mitreden/signin/")
            async with browser.session.post(
                browser.base + "/signin", data={"token": token}, allow_redirects=False
            ) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/mitreden/"
                cookie = response.headers["Set-Cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
            assert "Path=/mitreden" in cookie
        finally:
            await browser.close()
    finally:
        await server.stop()
