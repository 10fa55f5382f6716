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
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.core.settings import Settings
from server.people.tokens import InvalidToken, TokenService
from server.web import h5pplayer
from server.web.headers import sandbox_file_policy
from server.web.templating import STATIC_DIR

PREFIX = "/sandbox/"
OURS = "__stepstone__/"  # files Stepstone adds to a lesson's address: runtimes, players
RUNTIME = OURS + "scorm-runtime.js"
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
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
    return loopback_origin(connection)


def loopback_origin(connection: HTTPConnection) -> str | None:
    """The other loopback name of a page on ``localhost`` or ``127.0.0.1``, same scheme and
    port (the sandbox of the demo and of the author's preview), or None off loopback."""
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


def our_file(path: str) -> Path | None:
    """A file Stepstone adds under a lesson's address (``__stepstone__/<path>``): the
    SCORM runtime, the H5P player's page and files; None for any other path."""
    if path == "scorm-runtime.js":
        return STATIC_DIR / "js" / "scorm-runtime.js"
    return h5pplayer.player_file(STATIC_DIR, path)


def with_runtime(html: bytes, runtime_url: str) -> bytes:
    """The page with the runtime's script as the first thing in its <head>."""
    tag = f'<script src="{runtime_url}"></script>'.encode()
    match = _HEAD.search(html)
    at = match.end() if match else 0
    return html[:at] + tag + html[at:]


def sandboxed(response: Response, prefix: str, page_origin: str) -> Response:
    """A file answer of the sandbox, held by its policy: only the lesson's own `prefix`,
    framed only by `page_origin`."""
    sandbox_file_policy(prefix, page_origin).apply(response)
    # The frame's origin is opaque, so its own files are "cross-origin" to it: scripts,
    # images and fonts need CORP to allow that, and fetch() needs CORS. Neither opens
    # anything to other sites: the address is the capability, and nothing here is private
    # to a learner.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@dataclass(frozen=True)
class FileAsked:
    """A request for one file under a lesson's address, on the origin its token names."""

    address: AppAddress
    prefix: str  # the lesson's address on the sandbox's origin, ending in "/"
    path: str  # the file asked for, below it


def file_asked(connection: HTTPConnection, service: TokenService) -> FileAsked | None:
    """What `/sandbox/{token}/{path}` asks for, or None when the token is not one of ours
    or the request came to another origin than the one it names (never the page's own,
    where cookies live)."""
    token = connection.path_params["token"]
    address = AppAddress.loads(service, token)
    if address is None or request_origin(connection) != address.sandbox:
        return None
    return FileAsked(address, f"{address.sandbox}{PREFIX}{token}/", connection.path_params["path"])


def our_answer(asked: FileAsked) -> Response | None:
    """The answer for a file Stepstone adds under the address (`our_file`; a 404 for an
    unknown one), or None when the path is one of the app's own."""
    if not asked.path.startswith(OURS):
        return None
    own = our_file(asked.path.removeprefix(OURS))
    if own is None:
        return not_found()
    return sandboxed(FileResponse(own), asked.prefix, asked.address.page)


def app_answer(
    asked: FileAsked,
    file: Path | bytes,
    media_type: str,
    sco_page: bool,
    *,
    digest: str = "",
) -> Response:
    """One of the app's own files: a blob of the store (a path), or the bytes of a small
    file from its package's pack, with its digest as the ETag. A SCO's page gets the
    runtime API first of all (it looks for it as it loads)."""
    if sco_page:
        page = file.read_bytes() if isinstance(file, Path) else file
        response: Response = Response(
            with_runtime(page, asked.prefix + RUNTIME), media_type="text/html"
        )
    elif isinstance(file, Path):
        response = FileResponse(file, media_type=media_type)
    else:
        response = Response(file, media_type=media_type, headers={"ETag": f'"{digest}"'})
    return sandboxed(response, asked.prefix, asked.address.page)


def not_found() -> Response:
    """A plain 404: the error page would read the session, which the sandbox never does."""
    return PlainTextResponse("Not found", status_code=404)


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
