"""The sandbox: where interactive lessons' code runs, apart from the learner's session.

An interactive lesson (html5) is code written by someone else. Its files are served from
a second origin (`sandbox_origin`: a host name of its own, or on loopback the other of
``localhost`` and ``127.0.0.1``), so the browser keeps it apart from the pages: it never
sees their cookies, storage or CSRF token, and cannot script them. On top of that:

* the page frames it with ``sandbox="allow-scripts"`` (an opaque origin: no cookies or
  storage at all, no forms, pop-ups, top navigation or same-origin access);
* every file answer carries a sandboxing policy (`web.headers.sandbox_file_policy`)
  that allows loading, connecting and fetching only under the lesson's own address
  prefix, no forms and no framing except by the page's origin;
* the address prefix is a signed token naming one lesson of one course version
  (`Tokens.sandbox`), and the path after it is checked against that lesson's own files
  (`server.learning.access.app_file_for`): another version, lesson or course, or the
  content store, is never reachable from it;
* on the sandbox host nothing else answers (`SandboxHostMiddleware`): no page, no sign-in,
  no cookie read or set; on the app's host the sandbox route answers nothing.

Progress comes back only through ``postMessage`` to the page (``static/js/app-bridge.js``),
which checks the sending frame and the message's shape and records ordinary events.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from server.core.settings import Settings
from server.people.tokens import InvalidToken, TokenService

PREFIX = "/sandbox/"
LOOPBACK_PAIRS = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}


def request_origin(connection: HTTPConnection) -> str:
    """The origin a request was sent to, as the browser names it."""
    host = connection.headers.get("host", "").lower()
    return f"{connection.url.scheme}://{host}"


def sandbox_origin(settings: Settings, connection: HTTPConnection) -> str | None:
    """The sandbox's origin for a page requested through `connection`, or None when there
    is none (no `sandbox_origin` set and the page is not on loopback)."""
    if settings.sandbox_origin:
        return settings.sandbox_origin.lower()
    host, _, port = connection.headers.get("host", "").lower().partition(":")
    other = LOOPBACK_PAIRS.get(host)
    if other is None:
        return None
    return f"{connection.url.scheme}://{other}{':' + port if port else ''}"


@dataclass(frozen=True)
class AppAddress:
    """What a sandbox token names: one lesson's app, for pages of one origin."""

    version_id: int
    lesson_key: str
    sandbox: str  # the origin its files are served from
    page: str  # the origin of the page allowed to frame it
    review: bool  # an admin's review of a version that may not be live

    def dumps(self, service: TokenService) -> str:
        return service.dumps(
            [self.version_id, self.lesson_key, self.sandbox, self.page, int(self.review)]
        )

    @classmethod
    def loads(cls, service: TokenService, token: str) -> AppAddress | None:
        try:
            data = service.loads(token)
        except InvalidToken:
            return None
        version_id, key, sandbox, page, review = data
        return cls(int(version_id), str(key), str(sandbox), str(page), bool(review))


def app_prefix(address: AppAddress, service: TokenService) -> str:
    """The address every file of the app lives under (ends with /)."""
    return f"{address.sandbox}{PREFIX}{address.dumps(service)}/"


def entry_url(prefix: str, entry: str = "index.html") -> str:
    return prefix + quote(entry)


def sco_url(prefix: str, href: str, query: str, version: str, cmi: dict[str, str]) -> str:
    """A SCO's launch address, with the learner's saved values after ``#stepstone=`` for
    the runtime in the frame (``static/js/scorm-runtime.js``) to start from."""
    state = json.dumps({"v": version, "cmi": cmi}, separators=(",", ":"), sort_keys=True)
    packed = base64.urlsafe_b64encode(state.encode()).decode().rstrip("=")
    return entry_url(prefix, href) + (f"?{query}" if query else "") + f"#stepstone={packed}"


class SandboxHostMiddleware:
    """On the configured sandbox host, only the sandbox route answers; everything else is
    a plain 404 that reads and sets no cookie."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        configured = settings.sandbox_origin.lower()
        self.host = configured.split("://", 1)[1] if configured else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.host and not scope["path"].startswith(PREFIX):
            host = HTTPConnection(scope).headers.get("host", "").lower()
            if host == self.host:
                response = PlainTextResponse("Not found", status_code=404)
                response.headers["Cache-Control"] = "no-store"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
