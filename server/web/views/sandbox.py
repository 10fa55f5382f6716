"""The files of interactive lessons, on the sandbox's origin (see `server.web.sandbox`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from server.catalog.sync import content_store
from server.learning.access import app_file_for
from server.learning.visibility import lessons_of
from server.web.plumbing import Services, sandboxed
from server.web.sandbox import (
    OURS,
    PREFIX,
    RUNTIME,
    AppAddress,
    not_found,
    our_file,
    request_origin,
    with_runtime,
)
from server.web.sandbox import sandboxed as sandboxed_answer


@sandboxed
def app_file(request: Request, services: Services) -> Response:
    address = AppAddress.loads(services.tokens.sandbox, request.path_params["token"])
    # Only on the origin the page named: never on the app's own, where cookies live.
    if address is None or request_origin(request) != address.sandbox:
        return not_found()
    prefix = f"{address.sandbox}{PREFIX}{request.path_params['token']}/"
    path = request.path_params["path"]
    if path.startswith(OURS):
        own = our_file(path.removeprefix(OURS))
        if own is None:
            return not_found()
        return sandboxed_answer(FileResponse(own), prefix, address.page)
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
    if path in sco_pages(services, address):
        # A SCO page gets the runtime API first of all: it looks for it as it loads.
        html = store.path_for(asset["sha256"]).read_bytes()
        response = Response(with_runtime(html, prefix + RUNTIME), media_type="text/html")
    else:
        response = FileResponse(store.path_for(asset["sha256"]), media_type=asset["media_type"])
    return sandboxed_answer(response, prefix, address.page)


def sco_pages(services: Services, address: AppAddress) -> frozenset[str]:
    """The launch pages of a SCORM lesson's SCOs (none for other lessons)."""
    for lesson in lessons_of(services.database, address.version_id):
        if lesson.key == address.lesson_key and lesson.data.scorm is not None:
            return frozenset(sco.href for sco in lesson.data.scorm.scos)
    return frozenset()
