"""The staff web view, served by `mitreden run` on `web.listen` (README, Web).

Server-rendered HTML (Jinja2, autoescaped: a resident's `<script>` is shown as text), no
script, every asset served from here. The pages' rules live in `handlers.web`; this module
turns requests into their calls and their results into pages: it reads the session cookie,
checks the CSRF token of every form, re-asks the role on every request (through
`handlers.web.access`), and answers 404 for an item the reader may not see.

Behind the city's reverse proxy, `web.base_url` gives the path prefix: every link and the
cookie's path carry it, and the routes answer with and without it, so the proxy may pass
the prefix on or strip it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import zipfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.ops.site import OptionalSite
from bot.report import FORMATS, PdfUnavailable, build_report
from bot.web.charts import chart_svg
from bot.web.security import (
    COOKIE,
    AttemptLimit,
    client_address,
    is_https,
    same_token,
    security_headers,
)
from handlers.context import Deps
from handlers.i18n import Translator
from handlers.report.document import Chart, Paragraph, Table
from handlers.settings import WebSettings
from handlers.web.access import WebUser, web_user
from handlers.web.items import ACTIONS, WebItems, read_filters
from handlers.web.pages import WebPages
from handlers.web.signin import base_url
from storage.web_models import WebSession
from storage.web_sessions import SignInRefused, WebSessionStore

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
FORM_LIMIT = 64 * 1024  # a form's body; the longest answer is max_text_length characters

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]
Signed = tuple[WebUser, WebSession]


class Answered(Exception):
    """Raised with the page to answer instead (the sign-in page for a reader without a
    session); `answered` turns it into the response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


@web.middleware
async def answered(request: web.Request, handler: Page) -> web.StreamResponse:
    try:
        return await handler(request)
    except Answered as early:
        return early.response


class WebServer(OptionalSite):
    """The aiohttp server of the web view; `start` binds, `stop` closes."""

    def __init__(self, settings: WebSettings, deps: Deps) -> None:
        self.view = WebView(settings, deps)
        super().__init__(
            self.view.application(), settings.listen, name="web", what="the staff web view"
        )


class WebView:
    """The pages, on one app's handlers and stores."""

    def __init__(self, settings: WebSettings, deps: Deps) -> None:
        self.settings = settings
        self.deps = deps
        self.base = base_url(settings)
        self.prefix = urlsplit(self.base).path.rstrip("/")
        self.sessions = WebSessionStore(deps.store.db)
        self.items = WebItems(deps)
        self.pages = WebPages(deps)
        self.attempts = AttemptLimit(settings.sign_in_attempts_per_minute, deps.clock)
        self._flash: dict[int, list[str]] = {}  # session row id → messages for the next page
        self._reports = asyncio.Lock()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["chart_svg"] = chart_svg
        self.templates.tests["table"] = lambda block: isinstance(block, Table)
        self.templates.tests["chart"] = lambda block: isinstance(block, Chart)
        self.templates.tests["paragraph"] = lambda block: isinstance(block, Paragraph)

    def application(self) -> web.Application:
        app = web.Application(middlewares=[security_headers, answered], client_max_size=FORM_LIMIT)
        routes: list[tuple[str, str, Page]] = [
            ("GET", "/", self.overview),
            ("GET", "/signin/{token}", self.sign_in_page),
            ("POST", "/signin", self.sign_in),
            ("POST", "/signout", self.sign_out),
            ("POST", "/signout/all", self.sign_out_everywhere),
            ("GET", "/items", self.item_list),
            ("GET", "/items.csv", self.item_csv),
            ("GET", "/items/{reference}", self.item),
            ("POST", "/items/{reference}", self.item_action),
            ("GET", "/items/{reference}/files/{file}", self.item_file),
            ("GET", "/events", self.events),
            ("GET", "/events/{slug}/registrations.csv", self.registrations_csv),
            ("GET", "/events/{slug}/documents/{document}", self.event_document),
            ("GET", "/groups", self.groups),
            ("POST", "/groups/{key}", self.group_change),
            ("GET", "/report", self.report),
            ("GET", "/report/{year}.{format}", self.report_file),
        ]
        for base in dict.fromkeys(("", self.prefix)):
            for method, path, page in routes:
                app.router.add_route(method, f"{base}{path}", page)
            app.router.add_static(f"{base}/static", HERE / "static")
        return app

    # ---- pages -----------------------------------------------------------------------
    async def overview(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        periods = await self.pages.overview(user)
        return self._render(request, "overview.html", user, session, periods=periods)

    async def item_list(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        listing = await self.items.list_items(user, read_filters(request.query))
        return self._render(request, "items.html", user, session, listing=listing)

    async def item_csv(self, request: web.Request) -> web.StreamResponse:
        user, _ = await self._signed_in(request)
        data = await self.items.csv(user, read_filters(request.query))
        return _download(data, "mitreden-items.csv", "text/csv; charset=utf-8")

    async def item(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        view = await self.items.item_view(user, request.match_info["reference"])
        if view is None:
            return self._not_found(request, user, session)
        return self._render(request, "item.html", user, session, view=view)

    async def item_action(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        form = await self._form(request, session)
        reference = request.match_info["reference"]
        action = form.get("action", "")
        if action not in ACTIONS:
            return self._not_found(request, user, session)
        said = await self.items.act(user, reference, action, form)
        if said is None:
            return self._not_found(request, user, session)
        self._flash.setdefault(session.id or 0, []).append(said)
        if action == "assign":  # re-routed: most often no longer the reader's group's
            raise web.HTTPSeeOther(self.url("/items") + "#status")
        raise web.HTTPSeeOther(self.url(f"/items/{reference.upper()}") + "#status")

    async def item_file(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        try:
            file_id = int(request.match_info["file"])
        except ValueError:
            return self._not_found(request, user, session)
        found = await self.items.attachment(user, request.match_info["reference"], file_id)
        if found is None:
            return self._not_found(request, user, session)
        name, mime, data = found
        return _download(data, name, mime)

    async def events(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        events = await self.pages.events(user)
        return self._render(request, "events.html", user, session, events=events)

    async def registrations_csv(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        slug = request.match_info["slug"]
        data = await self.pages.registrations_csv(user, slug)
        if data is None:
            return self._not_found(request, user, session)
        return _download(data, f"{slug}-registrations.csv", "text/csv; charset=utf-8")

    async def event_document(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        try:
            document_id = int(request.match_info["document"])
        except ValueError:
            return self._not_found(request, user, session)
        document = await self.pages.document(request.match_info["slug"], document_id)
        if document is None:
            return self._not_found(request, user, session)
        return _download(document.data, document.file_name, document.mime_type)

    async def groups(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        groups = await self.pages.groups(user)
        return self._render(request, "groups.html", user, session, groups=groups)

    async def group_change(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        form = await self._form(request, session)
        said = await self.pages.change_group(
            user,
            request.match_info["key"],
            form.get("change", ""),
            form.get("value", ""),
            address=client_address(request),
        )
        if said is None:
            return self._not_found(request, user, session)
        self._flash.setdefault(session.id or 0, []).append(said)
        raise web.HTTPSeeOther(self.url("/groups") + "#status")

    async def report(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        years = self.pages.report_years(user)
        return self._render(request, "report.html", user, session, years=years, formats=FORMATS)

    async def report_file(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        fmt = request.match_info["format"]
        year_text = request.match_info["year"]
        if fmt not in FORMATS or not (year_text.isdigit() and len(year_text) == 4):
            return self._not_found(request, user, session)
        try:
            # One at a time: a large year's PDF takes minutes of CPU (bench/README.md).
            async with self._reports:
                report = await build_report(self.deps, int(year_text), fmt, language=user.language)
        except PdfUnavailable as error:
            logger.warning("web: no PDF here (%s)", error)
            return self._message(
                request,
                user._("Das PDF kann auf diesem Server nicht erzeugt werden."),
                status=503,
                user=user,
                session=session,
            )
        logger.info("web: report %s.%s for %s", year_text, fmt, user.role.actor)
        if report.images:  # Markdown with its charts: one zip
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(report.file_name, report.data)
                for name, png in report.images.items():
                    archive.writestr(name, png)
            stem = report.file_name.rpartition(".")[0]
            return _download(buffer.getvalue(), f"{stem}.zip", "application/zip")
        return _download(report.data, report.file_name, report.mime_type)

    # ---- signing in and out -----------------------------------------------------------
    async def sign_in_page(self, request: web.Request) -> web.StreamResponse:
        """The link from the chat: a page with a button; only the button uses the token."""
        token = request.match_info["token"]
        tr = self._anonymous_language(request)
        return self._page(request, "signin.html", tr, None, None, token=token, status=200)

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        """The button on the link's page: use the token once, start a session with a new
        id (ending the browser's previous one), or say why not; attempts are limited."""
        tr = self._anonymous_language(request)
        address = client_address(request)
        if not self.attempts.allow(address):
            logger.warning("web: sign-in attempts over the limit from %s", address)
            return self._message(
                request,
                tr.gettext(
                    "Zu viele Anmeldeversuche. Bitte warten Sie eine Minute und versuchen Sie "
                    "es dann noch einmal."
                ),
                status=429,
                tr=tr,
            )
        form = await request.post()
        token = str(form.get("token", ""))[:100]
        now = self.deps.clock.now()
        started = await self.sessions.use_sign_in(
            token,
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            now,
            address=address,
            replaces=request.cookies.get(COOKIE),
        )
        if isinstance(started, SignInRefused):
            logger.info("web: sign-in refused (%s) from %s", started, address)
            text = {
                SignInRefused.USED: tr.gettext(
                    "Dieser Anmeldelink wurde schon benutzt. Jeder Link gilt nur einmal: "
                    "Schicken Sie /web im privaten Chat mit dem Bot für einen neuen."
                ),
                SignInRefused.EXPIRED: tr.gettext(
                    "Dieser Anmeldelink ist abgelaufen (er gilt 10 Minuten). Schicken Sie /web "
                    "im privaten Chat mit dem Bot für einen neuen."
                ),
                SignInRefused.UNKNOWN: tr.gettext(
                    "Diesen Anmeldelink kenne ich nicht. Schicken Sie /web im privaten Chat mit "
                    "dem Bot für einen neuen."
                ),
            }[started]
            return self._message(request, text, status=403, tr=tr)
        logger.info("web: %s signed in", started.actor)
        response = web.HTTPSeeOther(self.url("/"))
        response.set_cookie(
            COOKIE,
            started.session_id,
            path=self.prefix or "/",
            httponly=True,
            secure=is_https(request, self.settings.base_url),
            samesite="Lax",
        )
        raise response

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        await self._form(request, session)
        cookie = request.cookies.get(COOKIE, "")
        await self.sessions.end_session(
            cookie, self.deps.clock.now(), address=client_address(request)
        )
        logger.info("web: %s signed out", user.role.actor)
        return self._signed_out(request, user._("Sie sind abgemeldet."), user.turn.tr)

    async def sign_out_everywhere(self, request: web.Request) -> web.StreamResponse:
        user, session = await self._signed_in(request)
        await self._form(request, session)
        ended = await self.sessions.end_sessions_of(
            user.role.actor, self.deps.clock.now(), address=client_address(request)
        )
        logger.info("web: %s signed out everywhere (%d session(s))", user.role.actor, ended)
        return self._signed_out(
            request, user._("Sie sind auf allen Geräten abgemeldet."), user.turn.tr
        )

    def _signed_out(self, request: web.Request, text: str, tr: Translator) -> web.Response:
        response = self._message(request, text, status=200, tr=tr)
        response.del_cookie(COOKIE, path=self.prefix or "/")
        return response

    # ---- what every page needs --------------------------------------------------------
    async def _signed_in(self, request: web.Request) -> Signed:
        """The reader and their session, or (raised) the page that asks them to sign in."""
        cookie = request.cookies.get(COOKIE)
        if cookie:
            now = self.deps.clock.now()
            session = await self.sessions.get_session(
                cookie,
                now,
                idle_after=now - timedelta(minutes=self.settings.session_idle_minutes),
                started_after=now - timedelta(hours=self.settings.session_max_hours),
            )
            if session is not None:
                user = await web_user(self.deps, session.contact_id, session.actor)
                if user is not None:
                    return user, session
                logger.warning("web: %s is no coordinator any more", session.actor)
        tr = self._anonymous_language(request)
        raise Answered(
            self._message(
                request,
                tr.gettext(
                    "Bitte melden Sie sich an: Schicken Sie /web im privaten Chat mit dem Bot und "
                    "öffnen Sie den Link, den er Ihnen schickt."
                ),
                status=401,
                tr=tr,
            )
        )

    async def _form(self, request: web.Request, session: WebSession) -> dict[str, str]:
        """The form's fields, once its CSRF token matched the session's; else (raised) 403."""
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not same_token(fields.get("csrf", ""), session.csrf_token):
            logger.warning("web: a form without the session's CSRF token (%s)", session.actor)
            raise web.HTTPForbidden(text="CSRF token missing or wrong", content_type="text/plain")
        return fields

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        """A link within the web view, with the reverse proxy's prefix."""
        return f"{self.prefix}{path}" + (f"?{urlencode(params)}" if params else "")

    def _anonymous_language(self, request: web.Request) -> Translator:
        """Before sign-in: the browser's first language the bot speaks, else the default."""
        catalogues = self.deps.catalogues
        for part in request.headers.get("Accept-Language", "").split(","):
            code = part.split(";")[0].strip()
            matched = catalogues.match(code)
            if matched is not None:
                return catalogues.get(matched)
        return catalogues.get(None)

    def _render(
        self,
        request: web.Request,
        template: str,
        user: WebUser,
        session: WebSession,
        **context: Any,
    ) -> web.Response:
        flash = self._flash.pop(session.id or 0, [])
        return self._page(request, template, user.turn.tr, user, session, flash=flash, **context)

    def _page(
        self,
        request: web.Request,
        template: str,
        tr: Translator,
        user: WebUser | None,
        session: WebSession | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        html = self.templates.get_template(template).render(
            _=tr.gettext,
            ngettext=tr.ngettext,
            lang=tr.language.replace("_", "-") if tr.language != "de_simple" else "de",
            rtl=tr.language in ("ar", "fa", "he"),
            url=self.url,
            user=user,
            csrf=session.csrf_token if session is not None else "",
            path=request.path.removeprefix(self.prefix) or "/",
            **context,
        )
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def _message(
        self,
        request: web.Request,
        text: str,
        *,
        status: int,
        tr: Translator | None = None,
        user: WebUser | None = None,
        session: WebSession | None = None,
    ) -> web.Response:
        translator = tr or (user.turn.tr if user is not None else self.deps.catalogues.get(None))
        return self._page(
            request, "message.html", translator, user, session, status=status, message=text
        )

    def _not_found(self, request: web.Request, user: WebUser, session: WebSession) -> web.Response:
        return self._message(
            request,
            user._("Diese Seite gibt es nicht, oder sie gehört nicht zu Ihren Arbeitsgruppen."),
            status=404,
            user=user,
            session=session,
        )


def _download(data: bytes, name: str, mime: str) -> web.Response:
    """A file to save, never to show in the page's origin (a resident's HTML file stays a
    file)."""
    name = name[:120] or "file"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    response = web.Response(
        body=data, content_type=mime.split(";")[0] or "application/octet-stream"
    )
    if "charset=" in mime:
        response.charset = mime.split("charset=")[1]
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:  # the name as it was, for browsers that read RFC 6266
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    response.headers["Content-Disposition"] = disposition
    return response
