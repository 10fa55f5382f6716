"""The files of interactive lessons, on the sandbox's origin (see `server.web.sandbox`)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from content.importing.store import ContentStore
from server.catalog.sync import content_store
from server.learning.access import app_file_for
from server.learning.visibility import lessons_of
from server.web.plumbing import Services, sandboxed
from server.web.sandbox import AppAddress, app_answer, file_asked, not_found, our_answer

log = logging.getLogger(__name__)


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
    if asset is None:
        return not_found()
    store = content_store(services.settings)
    sco_page = asked.path in sco_pages(services, address)
    if asset["pack_sha256"] is None:
        if not store.has(asset["sha256"]):
            return not_found()
        file = store.path_for(asset["sha256"])
        return app_answer(asked, file, asset["media_type"], sco_page)
    data = packed_file(store, asset)
    if data is None:
        return not_found()
    return app_answer(asked, data, asset["media_type"], sco_page, digest=asset["sha256"])


def packed_file(store: ContentStore, asset: dict[str, Any]) -> bytes | None:
    """The bytes of a small app file from its package's pack, checked against its own
    digest (a few KiB: cheap), or None when the pack is missing or those bytes changed
    (logged; `stepstone content verify` reports which)."""
    data = store.read_packed(
        asset["pack_sha256"], asset["pack_offset"], asset["size"], asset["sha256"]
    )
    if data is None:
        log.error("app file %s: missing or damaged in its pack", asset["path"])
    return data


def sco_pages(services: Services, address: AppAddress) -> frozenset[str]:
    """The launch pages of a SCORM lesson's SCOs (none for other lessons)."""
    for lesson in lessons_of(services.database, address.version_id):
        if lesson.key == address.lesson_key and lesson.data.scorm is not None:
            return frozenset(sco.href for sco in lesson.data.scorm.scos)
    return frozenset()
