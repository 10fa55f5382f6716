"""Course files (images, video, audio, captions, PDFs) for signed-in people.

URLs are content-addressed (``/media/<sha256>/<name>``) so a tablet may keep a file for a
year; they are still checked on every request: the file must belong to a course version
the person may see now (`server.learning.media_for`), so a pulled course's video stops at
once and no guessed URL reaches a course a learner may not open. Range requests are
answered with 206 and Content-Range (Starlette's FileResponse), so seeking works.
"""

from __future__ import annotations

import re

from starlette.responses import FileResponse, Response

from server import learning
from server.errors import NotFound
from server.sync import content_store
from server.web import SIGNED_IN, Req, access

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@access(SIGNED_IN)
def media_file(req: Req) -> Response:
    sha256 = req.request.path_params["sha256"]
    if not _SHA256.match(sha256):
        raise NotFound()
    asset = learning.media_for(req.database, req.settings, req.user, sha256)
    store = content_store(req.settings)
    if asset is None or not store.has(sha256):
        raise NotFound()
    name = _SAFE_NAME.sub("_", req.request.path_params["name"])[:100] or "file"
    download = req.request.query_params.get("download") == "1"
    response = FileResponse(
        store.path_for(sha256),
        media_type=asset["media_type"],
        filename=name,
        content_disposition_type="attachment" if download else "inline",
    )
    # Private: only this browser may keep it (the URL needs a session anyway).
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    if asset["media_type"] == "application/pdf":
        # The PDF lesson shows the file inside the page.
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    else:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )
    return response
