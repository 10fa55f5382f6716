"""Request plumbing: who is asking, may they, and is the form genuine.

Every endpoint is declared with `@access(...)`, which names who may use it. The wrapper
parses the form (async), then runs the rest on Starlette's thread pool: it loads the
session, picks the language, checks CSRF on every unsafe method, checks the role, and
calls the view with a `Req`. An endpoint without `@access` fails the route test.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from search_index import SearchService
from server import i18n, sessions
from server.accounts import Role, User
from server.catalog import CatalogHooks
from server.db import Database
from server.errors import CSRFError, Forbidden, NotSignedIn, PayloadTooLarge
from server.settings import SUPPORTED_LANGUAGES, Settings
from server.templating import Templates
from server.tokens import InvalidToken, Tokens

PUBLIC = "public"
SIGNED_IN = "signed-in"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANON_CSRF_COOKIE = "stepstone_csrf"
MAX_JSON_BODY = 512 * 1024
LANGUAGE_COOKIE = "stepstone_lang"


class VerifiedCookies:
    """A small, thread-safe memory of cookie value → session id."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cookie: str) -> str | None:
        with self._lock:
            found = self._items.get(cookie)
            if found is not None:
                self._items.move_to_end(cookie)
            return found

    def put(self, cookie: str, session_id: str) -> None:
        with self._lock:
            self._items[cookie] = session_id
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class Services:
    """What every request can reach; built once by `create_app`."""

    settings: Settings
    database: Database
    tokens: Tokens
    templates: Templates
    hooks: CatalogHooks = field(default_factory=CatalogHooks)
    # Session cookies whose signature was already checked (each check costs an HMAC key
    # derivation). Only the signature is remembered: expiry, idle time and sign-out are
    # decided by the database on every request (`sessions.load`).
    verified_cookies: VerifiedCookies = field(default_factory=lambda: VerifiedCookies())
    search: SearchService | None = None  # set by create_app; None only in bare tests

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix needs Secure, which browsers only keep over HTTPS.
        return "__Host-stepstone" if self.settings.https else "stepstone_session"


@dataclass
class Req:
    """One request, as a view sees it."""

    request: Request
    services: Services
    form: FormData
    body: bytes = b""
    session: sessions.Session | None = None
    language: str = "en"
    anon_csrf_seed: str = ""
    set_anon_csrf: bool = False
    extra_cookies: dict[str, str] = field(default_factory=dict)
    _csrf: str | None = None

    @property
    def user(self) -> User:
        if self.session is None:
            raise NotSignedIn()
        return self.session.user

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def database(self) -> Database:
        return self.services.database

    @property
    def client_address(self) -> str:
        return client_address(self.request, self.settings)

    def field(self, name: str, limit: int = 1000) -> str:
        value = self.form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    def csrf_token(self) -> str:
        """One token per request (a page has several forms; signing costs ~0.1 ms each)."""
        if self._csrf is None:
            seed = self.session.csrf_secret if self.session else self.anon_csrf_seed
            self._csrf = self.services.tokens.csrf.dumps(seed)
        return self._csrf

    def render(
        self, template: str, context: Mapping[str, Any] | None = None, status: int = 200
    ) -> Response:
        base = {
            "req": self,
            "user": self.session.user if self.session else None,
            "language": self.language,
            "csrf_token": self.csrf_token,
            "facility_name": self.settings.facility_name,
            "notice": self.request.query_params.get("notice", ""),
        }
        return self.services.templates.response(
            self.request, template, base | dict(context or {}), status
        )


def redirect(path: str, notice: str = "", **params: str) -> RedirectResponse:
    """A 303 to a path on this server, with an optional notice key for the next page."""
    if notice:
        params["notice"] = notice
    query = f"?{urlencode(params)}" if params else ""
    return RedirectResponse(path + query, status_code=303)


def client_address(request: Request, settings: Settings) -> str:
    """The tablet's address; X-Forwarded-For is believed only from a trusted proxy."""
    peer = request.client.host if request.client else ""
    if peer in settings.trusted_proxies:
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
        for address in reversed(forwarded):
            if address and address not in settings.trusted_proxies:
                return address
    return peer


def _check_origin(request: Request) -> None:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        raise CSRFError()
    origin = request.headers.get("origin")
    # A browser sends "null" from sandboxed or privacy-sensitive contexts; Sec-Fetch-Site
    # and the token still guard those.
    if origin not in (None, "null") and urlsplit(origin).netloc != request.headers.get("host"):
        raise CSRFError()


def _check_csrf(req: Req) -> None:
    _check_origin(req.request)
    token = req.field("csrf_token") or req.request.headers.get("x-csrf-token", "")
    expected = req.session.csrf_secret if req.session else req.anon_csrf_seed
    if not token or not expected:
        raise CSRFError()
    try:
        seed = req.services.tokens.csrf.loads(token)
    except InvalidToken:
        raise CSRFError() from None
    if not isinstance(seed, str) or not hmac.compare_digest(seed, expected):
        raise CSRFError()


def _load_session(req: Req) -> None:
    cookie = req.request.cookies.get(req.services.session_cookie)
    if not cookie:
        return
    session_id = req.services.verified_cookies.get(cookie)
    if session_id is None:
        try:
            session_id = req.services.tokens.session.loads(cookie)
        except InvalidToken:
            return
        if isinstance(session_id, str):
            req.services.verified_cookies.put(cookie, session_id)
    if isinstance(session_id, str):
        req.session = sessions.load(req.database, req.settings, session_id)


def _pick_language(req: Req) -> None:
    if req.session is not None:
        req.language = req.session.user.language
    else:
        req.language = anonymous_language(req.request, req.settings)
    # The error handler runs outside this thread's context: it reads the language here.
    req.request.state.language = req.language


def anonymous_language(request: Request, settings: Settings) -> str:
    """The language of someone not signed in: their choice (cookie), else the browser's."""
    cookie = request.cookies.get(LANGUAGE_COOKIE, "")
    negotiated = i18n.negotiate(request.headers.get("accept-language", ""))
    return cookie if cookie in SUPPORTED_LANGUAGES else negotiated or settings.default_language


def _anon_csrf(req: Req) -> None:
    seed = req.request.cookies.get(ANON_CSRF_COOKIE, "")
    if len(seed) < 32:
        seed, req.set_anon_csrf = secrets.token_urlsafe(32), True
    req.anon_csrf_seed = seed


View = Callable[[Req], Response]


def access(
    *who: Role | str, allow_pending_change: bool = False, inline: bool = False
) -> Callable[[View], Any]:
    """Declare who may use an endpoint: PUBLIC, SIGNED_IN, or one or more roles.

    `inline` runs the view on the event loop instead of the thread pool: only for GET
    views whose work is a few indexed reads (the media check answers nginx in ~0.1 ms;
    the hop to a thread would cost ten times that).
    """
    allowed = frozenset(who)

    def decorate(view: View) -> Any:
        @functools.wraps(view)
        async def endpoint(request: Request) -> Response:
            body = b""
            if request.method in SAFE_METHODS:
                form = FormData()
            elif request.headers.get("content-type", "").startswith("application/json"):
                form, body = FormData(), await _bounded_body(request)
            else:
                form = await request.form()
            services: Services = request.app.state.services
            req = Req(request, services, form, body)
            try:
                if inline and request.method in SAFE_METHODS:
                    return _handle(req, view, allowed, allow_pending_change)
                return await run_in_threadpool(_handle, req, view, allowed, allow_pending_change)
            finally:
                await form.close()

        endpoint.access = allowed  # type: ignore[attr-defined]
        return endpoint

    return decorate


async def _bounded_body(request: Request) -> bytes:
    """A JSON body, refused beyond MAX_JSON_BODY (the progress endpoint's batches are
    small; this stops a client from making the server hold a huge body)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BODY:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _handle(req: Req, view: View, allowed: frozenset[Role | str], pending_ok: bool) -> Response:
    _load_session(req)
    if req.session is not None:
        req.request.state.user_id = req.session.user.id  # for the request's log line
    _pick_language(req)
    i18n.set_language(req.language)
    if req.session is None:
        _anon_csrf(req)
    if req.request.method not in SAFE_METHODS:
        _check_csrf(req)
    if PUBLIC not in allowed:
        if req.session is None:
            raise NotSignedIn()
        user = req.session.user
        if SIGNED_IN not in allowed and user.role not in allowed:
            raise Forbidden()
        if user.must_change_secret and not pending_ok:
            return redirect("/account/secret")
    response = view(req)
    _set_cookies(req, response)
    return response


def _set_cookies(req: Req, response: Response) -> None:
    secure = req.settings.https
    if req.set_anon_csrf:
        response.set_cookie(
            ANON_CSRF_COOKIE, req.anon_csrf_seed, httponly=True, samesite="strict", secure=secure
        )
    for name, value in req.extra_cookies.items():
        if value:
            response.set_cookie(
                name, value, max_age=365 * 86400, httponly=True, samesite="strict", secure=secure
            )
        else:
            response.delete_cookie(name, httponly=True, samesite="strict", secure=secure)
