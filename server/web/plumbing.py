"""Request plumbing: who is asking, may they, and is the form genuine.

Every endpoint is declared with `@access(...)`, which names who may use it. The wrapper
decides everything it can from the headers first, on Starlette's thread pool: it loads
the session, picks the language, checks the origin and the role. Only then does it read
a body, and never more than a fixed cap (a form 1 MiB, JSON 512 KiB, an upload the
`max_upload_mb` setting), so a stranger cannot make the server hold or spool a big body.

CSRF (`server.web.csrf`): a JSON call or a file upload must bring its token outside the
body, and it is checked before a byte of the body is read. Only a plain form
(urlencoded, in memory, 1 MiB at most, read after the role check) may carry the token as
a field; it is checked before the view runs. Which objects a person may see on a page is
not decided here but by `server.learning.access`. An endpoint without `@access` fails
the route test.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Message

from search_index import SearchService
from server.catalog.library import CatalogHooks
from server.core import clock
from server.core.db import MAX_INTEGER, Database, row_id
from server.core.errors import N_, BadRequest, CSRFError, Forbidden, NotSignedIn, PayloadTooLarge
from server.core.settings import SUPPORTED_LANGUAGES, Settings
from server.people import access_gate, sessions
from server.people.accounts import Role, User
from server.people.tokens import InvalidToken, Tokens
from server.web import csrf, i18n
from server.web.templating import Templates

PUBLIC = "public"
SIGNED_IN = "signed-in"
SANDBOX = "sandbox"  # no session at all: the files of interactive lessons
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_JSON_BODY = 512 * 1024
MAX_FORM_BODY = 1024 * 1024  # a form without files (nginx's client_max_body_size is 1m)
MAX_FORM_FIELD = 256 * 1024  # one field of an upload form; the file itself is capped whole
MAX_UPLOAD_FILES = 2
MAX_FORM_FIELDS = 1000
MAX_PAGE = 100_000  # a page number times its size must still fit SQLite's integer
_DIGITS = re.compile(r"[0-9]{1,19}")
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
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
    csrf_checked: bool = False
    # A learner's tablet hours as of this request (None for staff and for nobody).
    access: access_gate.Verdict | None = None
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

    @property
    def closes_in(self) -> int | None:
        """For a learner whose tablet hours end: whole seconds left, at least 0."""
        if self.access is None or self.access.until is None:
            return None
        return max(0, int(self.access.until - clock.now()))

    def closes_at(self) -> str:
        """When this learner's tablet hours end, as the facility's clock says it: '14:00'."""
        if self.access is None or self.access.until is None:
            return ""
        local = datetime.fromtimestamp(self.access.until, ZoneInfo(self.settings.time_zone))
        return local.strftime("%H:%M")

    def field(self, name: str, limit: int = 1000) -> str:
        value = self.form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    def json(self) -> Any:
        """The JSON body. Whatever was sent, a body that is not JSON — invalid bytes, bad
        syntax, nesting too deep for the parser — is a BadRequest (400), never a 500."""
        try:
            return json.loads(self.body or b"null")
        except RecursionError:
            raise BadRequest(N_("The request is nested too deeply.")) from None
        except ValueError:  # also UnicodeDecodeError: the body is not UTF-8
            raise BadRequest(N_("The request is not valid JSON.")) from None

    def query_int(self, name: str, default: int, high: int = MAX_INTEGER) -> int:
        """A whole number from the query string (`?page=2`, `?group=7`): `default` when
        absent or empty; BadRequest (400) when it is not plain digits up to `high`."""
        text = self.request.query_params.get(name, "")
        return default if text == "" else parse_number(text, high)

    def form_int(self, name: str) -> int | None:
        """A row id from a form field (a group or learner picked from a list); None when
        the field is empty, BadRequest when it is not a row id."""
        text = self.field(name, 40)
        return None if text == "" else parse_number(text)

    def csrf_token(self) -> str:
        """One token per request (a page has several forms; signing costs ~0.1 ms each)."""
        if self._csrf is None:
            seed = self.session.csrf_secret if self.session else self.anon_csrf_seed
            self._csrf = csrf.make_token(self.services.tokens, seed)
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
    """A 303 to a path on this server, with an optional notice key for the next page.
    The query goes before a `#fragment` in `path`: after it, the browser would keep it
    as part of the fragment and the next page would never see the notice."""
    if notice:
        params["notice"] = notice
    where, hash_mark, fragment = path.partition("#")
    query = f"?{urlencode(params)}" if params else ""
    return RedirectResponse(where + query + hash_mark + fragment, status_code=303)


_NOT_IN_A_LOCAL_PATH = re.compile(r"[\\\x00-\x1f\x7f]")


def safe_next(wanted: str, under: str = "/", default: str = "/") -> str:
    """Where a form may send the person back to: `wanted` if it is a path on this
    server that starts with `under`, else `default`. Never another site: no scheme or
    host, no `//` (a protocol-relative URL), no backslash (browsers read it as `/`), no
    control character (browsers drop a tab or newline, turning `/<tab>/x` into `//x`).
    """
    local = wanted.startswith("/") and not wanted.startswith("//")
    if not local or _NOT_IN_A_LOCAL_PATH.search(wanted) or not wanted.startswith(under):
        return default
    return wanted


def client_address(request: Request, settings: Settings) -> str:
    """The tablet's address; X-Forwarded-For is believed only from a trusted proxy."""
    peer = request.client.host if request.client else ""
    if peer in settings.trusted_proxies:
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
        for address in reversed(forwarded):
            if address and address not in settings.trusted_proxies:
                return address
    return peer


def parse_number(text: str, high: int = MAX_INTEGER) -> int:
    """A whole number from a URL or a form: plain digits, at most `high` (by default
    anything SQLite can hold), else BadRequest (400) — never an overflow (500)."""
    value = row_id(text)
    if value is None or value > high:
        raise BadRequest(N_("A number in the address or the form is not valid."))
    return value


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _check_csrf(req: Req, token: str) -> None:
    expected = req.session.csrf_secret if req.session else req.anon_csrf_seed
    csrf.check_token(req.services.tokens, token, expected)


def _load_session(req: Req, touch: bool = True) -> None:
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
        req.session = sessions.load(req.database, req.settings, session_id, touch=touch)


def _check_access(req: Req, while_closing: bool) -> None:
    """A learner outside their tablet hours, on a holiday or in a lockdown is signed out
    here, on the first request after the end. Endpoints marked `while_closing` (saving
    work, asking whether tablets are open) still answer for a short grace after a sudden
    lockdown, so the page can save the learner's draft and place, then leave."""
    if req.session is None or req.session.user.role is not Role.LEARNER:
        return
    verdict = access_gate.verdict(req.database, req.settings, req.session.user.id)
    req.access = verdict
    if verdict.open or (while_closing and verdict.within_grace(clock.now())):
        return
    sessions.end_best_effort(req.database, req.session.id, f"closed-{verdict.reason}")
    req.request.state.signed_out_notice = f"closed-{verdict.reason}"
    req.session = None


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
    cookie = req.request.cookies.get(csrf.ANON_CSRF_COOKIE, "")
    req.anon_csrf_seed, req.set_anon_csrf = csrf.anonymous_seed(cookie)


View = Callable[[Req], Response]


def access(
    *who: Role | str,
    allow_pending_change: bool = False,
    inline: bool = False,
    while_closing: bool = False,
    touch: bool = True,
    upload_mb: Callable[[Settings], int] | None = None,
) -> Callable[[View], Any]:
    """Declare who may use an endpoint: PUBLIC, SIGNED_IN, or one or more roles.

    `inline` runs the view on the event loop instead of the thread pool: only for GET
    views whose work is a few indexed reads (the media check answers nginx in ~0.1 ms;
    the hop to a thread would cost ten times that). `while_closing`: a learner's page
    may still use it for a short grace once their tablet hours ended. Without `touch`,
    a request does not count as activity for the idle sign-out. `upload_mb` gives an
    upload endpoint its own cap in MiB, from a setting, instead of `max_upload_mb`.
    """
    allowed = frozenset(who)
    rules = _Rules(allow_pending_change, while_closing, touch, upload_mb)

    def decorate(view: View) -> Any:
        @functools.wraps(view)
        async def endpoint(request: Request) -> Response:
            services: Services = request.app.state.services
            req = Req(request, services, FormData())
            try:
                if request.method in SAFE_METHODS:
                    if inline:
                        return _handle(req, view, allowed, rules)
                    return await run_in_threadpool(_handle, req, view, allowed, rules)
                turned_away = await run_in_threadpool(_admit, req, allowed, rules)
                if turned_away is not None:
                    return turned_away
                await _read_body(req, rules)
                return await run_in_threadpool(_answer, req, view)
            finally:
                await req.form.close()

        endpoint.access = allowed  # type: ignore[attr-defined]
        return endpoint

    return decorate


def sandboxed(view: Callable[[Request, Services], Response]) -> Any:
    """Declare the one kind of endpoint that runs without any session: the files of an
    interactive lesson, served on the sandbox's origin (`server.web.sandbox`). It reads no
    cookie and sets none, and only answers GET; what it may serve is decided by the signed
    address it is given, and the path is checked against that lesson's own files."""

    @functools.wraps(view)
    async def endpoint(request: Request) -> Response:
        # A few indexed reads and a signature check, like the media check: on the loop.
        return view(request, request.app.state.services)

    endpoint.access = frozenset({SANDBOX})  # type: ignore[attr-defined]
    return endpoint


def _limited(request: Request, limit: int, message: str) -> Request:
    """The same request, whose body is refused (413) once it passes `limit` bytes: at
    once when Content-Length says so, else while it streams in."""
    declared = request.headers.get("content-length", "")
    if _DIGITS.fullmatch(declared) and int(declared) > limit:
        raise PayloadTooLarge(message)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message_in = await request.receive()
        received += len(message_in.get("body", b""))
        if received > limit:
            raise PayloadTooLarge(message)
        return message_in

    return Request(request.scope, receive)


async def _read_body(req: Req, rules: _Rules) -> None:
    """Read the body of an admitted request, within the cap for its kind. Any other kind
    of body is not read at all: the view sees an empty form."""
    request, kind = req.request, _media_type(req.request)
    if kind == "application/json":
        req.body = await _limited(request, MAX_JSON_BODY, PayloadTooLarge.default_message).body()
    elif kind == FORM:
        limited = _limited(request, MAX_FORM_BODY, PayloadTooLarge.default_message)
        req.form = await limited.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    elif kind == MULTIPART:
        if rules.upload_mb is None:
            too_big = N_("This file is too big. An admin can raise the limit (max_upload_mb).")
            cap = req.settings.max_upload_mb
        else:
            too_big = N_("This file is too big. An admin can raise the limit.")
            cap = rules.upload_mb(req.settings)
        limited = _limited(request, cap * 1024 * 1024, too_big)
        req.form = await limited.form(
            max_files=MAX_UPLOAD_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD
        )


@dataclass(frozen=True)
class _Rules:
    """What `access` says of an endpoint, besides who may use it."""

    pending_ok: bool
    while_closing: bool
    touch: bool
    upload_mb: Callable[[Settings], int] | None = None


def _admit(req: Req, allowed: frozenset[Role | str], rules: _Rules) -> RedirectResponse | None:
    """Everything decided from the headers, before any body is read: the session, the
    language, the origin and CSRF (when the token is outside the body), and the role."""
    _load_session(req, rules.touch)
    _check_access(req, rules.while_closing)
    if req.session is not None:
        req.request.state.user_id = req.session.user.id  # for the request's log line
    _pick_language(req)
    i18n.set_language(req.language)
    if req.session is None:
        _anon_csrf(req)
    if req.request.method not in SAFE_METHODS:
        csrf.check_origin(req.request)
        token = csrf.token_outside_body(req.request)
        if token:
            _check_csrf(req, token)
            req.csrf_checked = True
        elif _media_type(req.request) != FORM:
            # Only a plain form may carry its token inside the body: an upload or a JSON
            # call without one is turned away before a byte of it is read.
            raise CSRFError()
    if PUBLIC not in allowed:
        if req.session is None:
            raise NotSignedIn()
        user = req.session.user
        if SIGNED_IN not in allowed and user.role not in allowed:
            raise Forbidden()
        if user.must_change_secret and not rules.pending_ok:
            return redirect("/account/secret")
    return None


def _answer(req: Req, view: View) -> Response:
    """Run the view of an admitted request (its body read), after the CSRF field check."""
    i18n.set_language(req.language)  # this may be another thread than `_admit`'s
    if req.request.method not in SAFE_METHODS and not req.csrf_checked:
        _check_csrf(req, req.field(csrf.FIELD))
    response = view(req)
    _set_cookies(req, response)
    return response


def _handle(req: Req, view: View, allowed: frozenset[Role | str], rules: _Rules) -> Response:
    turned_away = _admit(req, allowed, rules)
    return turned_away if turned_away is not None else _answer(req, view)


def _set_cookies(req: Req, response: Response) -> None:
    secure = req.settings.https
    if req.set_anon_csrf:
        response.set_cookie(
            csrf.ANON_CSRF_COOKIE,
            req.anon_csrf_seed,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    for name, value in req.extra_cookies.items():
        if value:
            response.set_cookie(
                name, value, max_age=365 * 86400, httponly=True, samesite="strict", secure=secure
            )
        else:
            response.delete_cookie(name, httponly=True, samesite="strict", secure=secure)
