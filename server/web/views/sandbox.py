"""The files of interactive lessons, on the sandbox's origin (see `server.web.sandbox`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from server.catalog.sync import content_store
from server.learning.access import app_file_for
from server.web.plumbing import Services, sandboxed
from server.web.sandbox import PREFIX, AppAddress, file_policy, request_origin


@sandboxed
def app_file(request: Request, services: Services) -> Response:
    address = AppAddress.loads(services.tokens.sandbox, request.path_params["token"])
    # Only on the origin the page named: never on the app's own, where cookies live.
    if address is None or request_origin(request) != address.sandbox:
        return not_found()
    asset = app_file_for(
        services.database,
        services.settings,
        address.version_id,
        address.lesson_key,
        request.path_params["path"],
        review=address.review,
    )
    store = content_store(services.settings)
    if asset is None or not store.has(asset["sha256"]):
        return not_found()
    response = FileResponse(store.path_for(asset["sha256"]), media_type=asset["media_type"])
    prefix = f"{address.sandbox}{PREFIX}{request.path_params['token']}/"
    file_policy(prefix, address.page).apply(response)
    # The frame's origin is opaque, so its own files are "cross-origin" to it: scripts,
    # images and fonts need CORP to allow that, and fetch() needs CORS. Neither opens
    # anything to other sites: the address is the capability, and nothing here is private
    # to a learner.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def not_found() -> Response:
    """A plain 404: the error page would read the session, which the sandbox never does."""
    return PlainTextResponse("Not found", status_code=404)
