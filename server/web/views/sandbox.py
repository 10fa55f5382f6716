"""The files of interactive lessons, on the sandbox's origin (see `server.web.sandbox`)."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from server.catalog.sync import content_store
from server.learning.access import app_file_for
from server.learning.visibility import lessons_of
from server.web import h5pplayer
from server.web.headers import sandbox_file_policy
from server.web.plumbing import Services, sandboxed
from server.web.sandbox import PREFIX, AppAddress, request_origin
from server.web.templating import STATIC_DIR

OURS = "__stepstone__/"  # files Stepstone adds to a lesson's address: runtimes, players
RUNTIME = OURS + "scorm-runtime.js"
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)


@sandboxed
def app_file(request: Request, services: Services) -> Response:
    address = AppAddress.loads(services.tokens.sandbox, request.path_params["token"])
    # Only on the origin the page named: never on the app's own, where cookies live.
    if address is None or request_origin(request) != address.sandbox:
        return not_found()
    path = request.path_params["path"]
    if path.startswith(OURS):
        own = _our_file(path.removeprefix(OURS))
        if own is None:
            return not_found()
        return _sandboxed(FileResponse(own), request, address)
    asset = app_file_for(
        services.database,
        services.settings,
        address.version_id,
        address.lesson_key,
        path,
        review=address.review,
    )
    store = content_store(services.settings)
    if asset is None or not store.has(asset["sha256"]):
        return not_found()
    prefix = f"{address.sandbox}{PREFIX}{request.path_params['token']}/"
    if path in sco_pages(services, address):
        # A SCO page gets the runtime API first of all: it looks for it as it loads.
        html = store.path_for(asset["sha256"]).read_bytes()
        response = Response(with_runtime(html, prefix + RUNTIME), media_type="text/html")
    else:
        response = FileResponse(store.path_for(asset["sha256"]), media_type=asset["media_type"])
    return _sandboxed(response, request, address)


def _sandboxed(response: Response, request: Request, address: AppAddress) -> Response:
    prefix = f"{address.sandbox}{PREFIX}{request.path_params['token']}/"
    sandbox_file_policy(prefix, address.page).apply(response)
    # The frame's origin is opaque, so its own files are "cross-origin" to it: scripts,
    # images and fonts need CORP to allow that, and fetch() needs CORS. Neither opens
    # anything to other sites: the address is the capability, and nothing here is private
    # to a learner.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _our_file(path: str) -> Path | None:
    if path == "scorm-runtime.js":
        return STATIC_DIR / "js" / "scorm-runtime.js"
    return h5pplayer.player_file(STATIC_DIR, path)


def sco_pages(services: Services, address: AppAddress) -> frozenset[str]:
    """The launch pages of a SCORM lesson's SCOs (none for other lessons)."""
    for lesson in lessons_of(services.database, address.version_id):
        if lesson.key == address.lesson_key and lesson.data.scorm is not None:
            return frozenset(sco.href for sco in lesson.data.scorm.scos)
    return frozenset()


def with_runtime(html: bytes, runtime_url: str) -> bytes:
    """The page with the runtime's script as the first thing in its <head>."""
    tag = f'<script src="{runtime_url}"></script>'.encode()
    match = _HEAD.search(html)
    at = match.end() if match else 0
    return html[:at] + tag + html[at:]


def not_found() -> Response:
    """A plain 404: the error page would read the session, which the sandbox never does."""
    return PlainTextResponse("Not found", status_code=404)
