"""An activity's files in the preview, on the sandbox's origin, as a facility serves them.

The lesson page frames the app from the other loopback name of the preview (``localhost``
for a page on ``127.0.0.1`` and back, same port), under an address signed with this run's
key that names one lesson (`server.web.sandbox.AppAddress`). Here the same rules as the
server's (`server.web.views.sandbox`) decide what answers: only on the origin the page
named, only paths inside that lesson's own app folder (`access.app_asset_path`), only
files lint took into the package, each with the sandbox's file policy; a SCO's page
gets the SCORM runtime first, and the H5P player's files come from under the same
address. Anything else is a plain 404 that reads and sets nothing.
"""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from content.format.model import INTERACTIVE_KINDS
from server.learning.access import app_asset_path
from server.web.preview.course import PreviewCourse
from server.web.preview.frame import Preview
from server.web.sandbox import app_answer, file_asked, not_found, our_answer


async def app_file(request: Request) -> Response:
    """GET /sandbox/{token}/{path}: one file of one activity of the folder."""
    preview: Preview = request.app.state.preview
    return await run_in_threadpool(_app_file, request, preview)


def _app_file(request: Request, preview: Preview) -> Response:
    asked = file_asked(request, preview.sandbox)
    if asked is None:
        return not_found()
    ours = our_answer(asked)
    if ours is not None:
        return ours
    course = preview.watcher.current()
    file = _lesson_file(course, asked.address.lesson_key, asked.path)
    if file is None:
        return not_found()
    file_path, media_type = file
    sco_page = asked.path in _sco_pages(course, asked.address.lesson_key)
    return app_answer(asked, file_path, media_type, sco_page)


def _lesson_file(course: PreviewCourse, lesson_key: str, path: str) -> tuple[Path, str] | None:
    """The file at `path` of the lesson's app, as lint read it into the package, or None
    (a path out of the app folder, a file lint left out, a lesson that is not an
    activity, a file replaced by a link since the folder was read)."""
    lesson = next((x for x in course.lessons if x.key == lesson_key), None)
    package_path = app_asset_path(lesson_key, path)
    if lesson is None or lesson.kind not in INTERACTIVE_KINDS or package_path is None:
        return None
    asset = course.assets.get(package_path)
    entry = course.media.get(asset["sha256"]) if asset is not None else None
    if entry is None or entry.data is not None:
        return None
    if entry.path.is_symlink() or not entry.path.is_file():
        return None
    return entry.path, entry.media_type


def _sco_pages(course: PreviewCourse, lesson_key: str) -> frozenset[str]:
    for lesson in course.lessons:
        if lesson.key == lesson_key and lesson.data.scorm is not None:
            return frozenset(sco.href for sco in lesson.data.scorm.scos)
    return frozenset()
