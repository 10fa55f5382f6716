"""Course files (images, video, audio, captions, PDFs) for signed-in people.

URLs are content-addressed (``/media/<sha256>/<name>``) so a tablet may keep a file for a
year; they are still checked on every request: the file must belong to a course version
the person may see now (`server.learning.access.media_for`), so a pulled course's video stops at
once and no guessed URL reaches a course a learner may not open. Range requests are
answered with 206 and Content-Range (Starlette's FileResponse), so seeking works.

Behind nginx (setting ``media_accel_prefix``), the check stays here but the bytes do not:
the answer is an empty response with ``X-Accel-Redirect: <prefix>ab/abcdef…`` and nginx
sends the file from an ``internal`` location with sendfile and its own Range handling, so
a video streaming to a tablet never holds a Python worker. See deploy/nginx/stepstone.conf.
"""

from __future__ import annotations

import re

from starlette.responses import FileResponse, Response

from content.importing.store import ContentStore
from server.catalog.sync import content_store
from server.core.errors import NotFound
from server.learning.access import media_for
from server.web.headers import CSP
from server.web.plumbing import SIGNED_IN, Req, access

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@access(SIGNED_IN, inline=True)
def media_file(req: Req) -> Response:
    sha256 = req.request.path_params["sha256"]
    if not _SHA256.match(sha256):
        raise NotFound()
    asset = media_for(req.database, req.settings, req.user, sha256)
    if asset is None:
        raise NotFound()
    return send_blob(req, sha256, asset["media_type"], req.request.path_params["name"])


def send_blob(req: Req, sha256: str, media_type: str, name: str) -> Response:
    """A blob of the content store, once the caller has checked that this person may
    have it: the store's file (ranges for seeking), or nginx's X-Accel-Redirect to it;
    ``?download=1`` asks for an attachment. The headers every course file gets: private
    caching, nosniff (every response), and the media policy (a PDF may be framed by
    this server's own pages, for the viewer)."""
    store = content_store(req.settings)
    if not store.has(sha256):
        raise NotFound()
    name = _SAFE_NAME.sub("_", name)[:100] or "file"
    download = req.request.query_params.get("download") == "1"
    disposition = "attachment" if download else "inline"
    response: Response
    if req.settings.media_accel_prefix:
        response = _accel_redirect(
            req.settings.media_accel_prefix,
            store,
            sha256,
            media_type,
            f'{disposition}; filename="{name}"',
        )
    else:
        response = FileResponse(
            store.path_for(sha256),
            media_type=media_type,
            filename=name,
            content_disposition_type=disposition,
        )
    # Private: only this browser may keep it (the URL needs a session anyway).
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    if media_type == "application/pdf":
        # The PDF lesson shows the file inside the page.
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        CSP.PDF_MEDIA.apply(response)
    else:
        CSP.MEDIA.apply(response)
    return response


def _accel_redirect(
    prefix: str, store: ContentStore, sha256: str, media_type: str, disposition: str
) -> Response:
    """An empty answer that names the blob for nginx (its path relative to the store).

    nginx keeps this answer's Content-Type, Content-Disposition, Cache-Control and
    Set-Cookie when it sends the file; the shipped site copies the security headers too.
    """
    blob = f"{sha256[:2]}/{sha256}"  # the store's layout (ContentStore.path_for)
    headers = {"X-Accel-Redirect": prefix + blob, "Content-Disposition": disposition}
    return Response(media_type=media_type, headers=headers)
