"""The files of interactive lessons, on the sandbox's origin (see `server.web.sandbox`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.catalog.sync import content_store
from server.learning.access import app_file_for
from server.learning.visibility import lessons_of
from server.web.plumbing import Services, sandboxed
from server.web.sandbox import AppAddress, app_answer, file_asked, not_found, our_answer


@sandboxed
def app_file(request: Request, services: Services) -> Response:
    asked = file_asked(request, services.tokens.sandbox)
    if asked is None:
        return not_found()
    ours = our_answer(asked)
    if ours is not None:
        return ours
    address = asked.address
    asset = app_file_for(
        services.database,
        services.settings,
        address.version_id,
        address.lesson_key,
        asked.path,
        review=address.review,
    )
    store = content_store(services.settings)
    if asset is None or not store.has(asset["sha256"]):
        return not_found()
    file = store.path_for(asset["sha256"])
    return app_answer(asked, file, asset["media_type"], asked.path in sco_pages(services, address))


def sco_pages(services: Services, address: AppAddress) -> frozenset[str]:
    """The launch pages of a SCORM lesson's SCOs (none for other lessons)."""
    for lesson in lessons_of(services.database, address.version_id):
        if lesson.key == address.lesson_key and lesson.data.scorm is not None:
            return frozenset(sco.href for sco in lesson.data.scorm.scos)
    return frozenset()
