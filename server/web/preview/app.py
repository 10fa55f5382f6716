"""The preview app: one course folder served to one author as a learner's tablet shows it.

It has the learner's URLs, templates, sanitizer and `CSP` policies, and none of a
facility: no database, no keys, no trust, no sign-in (the pages are in `pages`, their
frame in `frame`, activities' files in `sandbox`). Here: the route table, the plumbing
every request goes through, the course files, the page script's events and
`/preview/changes`, which the page asks every second to reload itself when a file in
the folder changed. Forms still need a token (made per run) and a same-origin request:
another web page open in the author's browser must not post to the preview.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server.core.errors import (
    N_,
    BadRequest,
    ConfigError,
    CSRFError,
    HTTPError,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from server.people.tokens import TokenService
from server.web import csrf, i18n
from server.web.headers import CSP, SecurityHeadersMiddleware
from server.web.plumbing import MAX_FORM_BODY, MAX_FORM_FIELDS, MAX_JSON_BODY
from server.web.preview import pages
from server.web.preview import sandbox as preview_sandbox
from server.web.preview.course import CourseWatcher
from server.web.preview.frame import (
    CHANGES_URL,
    FOLDER_VARIABLE,
    Page,
    Preview,
    View,
    preview_templates,
)
from server.web.preview.learner import PreviewLearner
from server.web.sandbox import PREFIX
from server.web.templating import STATIC_DIR

SANDBOX_MAX_AGE = 7 * 24 * 3600


def _view(view: View) -> Callable[[Request], Awaitable[Response]]:
    """Read and check a form (a capped body, this run's token, same origin), then run
    the view on the thread pool: reading the folder is blocking work."""

    async def endpoint(request: Request) -> Response:
        preview: Preview = request.app.state.preview
        form = FormData()
        if request.method == "POST":
            csrf.check_origin(request)
            form = _form(await _body(request, MAX_FORM_BODY))
            _check_token(preview, form.get(csrf.FIELD))
        return await run_in_threadpool(_run, view, request, preview, form)

    return endpoint


def _run(view: View, request: Request, preview: Preview, form: FormData) -> Response:
    course = preview.watcher.current()
    i18n.set_language(preview.language(course))
    return view(Page(request, preview, course, form))


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused (413) once it passes `limit` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _form(body: bytes) -> FormData:
    """A urlencoded form body (the only kind the learner pages send)."""
    fields: list[tuple[str, str | UploadFile]] = []
    fields += parse_qsl(body.decode(errors="replace"), max_num_fields=MAX_FORM_FIELDS)
    return FormData(fields)


def _check_token(preview: Preview, token: Any) -> None:
    if not isinstance(token, str) or not hmac.compare_digest(token, preview.token):
        raise CSRFError()


def _media(page: Page) -> Response:
    entry = page.course.media.get(page.request.path_params["token"])
    if entry is not None and entry.data is not None:  # a book's picture, read from its EPUB
        return Response(entry.data, media_type=entry.media_type)
    # The file passed lint's checks (inside the folder, no link) when the folder was
    # read; it may have been swapped for a link since.
    if entry is None or entry.path.is_symlink() or not entry.path.is_file():
        raise NotFound()
    download = page.request.query_params.get("download") == "1"
    response = FileResponse(
        entry.path,
        media_type=entry.media_type,
        filename=entry.path.name,
        content_disposition_type="attachment" if download else "inline",
    )
    if entry.media_type == "application/pdf":
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        CSP.PDF_MEDIA.apply(response)
    else:
        CSP.MEDIA.apply(response)
    return response


async def _events(request: Request) -> Response:
    """The learner page script's events (a JSON call: its token comes in a header)."""
    preview: Preview = request.app.state.preview
    csrf.check_origin(request)
    _check_token(preview, request.headers.get("x-csrf-token"))
    try:
        payload = json.loads(await _body(request, MAX_JSON_BODY) or b"null")
    except RecursionError:
        raise BadRequest(N_("The request is nested too deeply.")) from None
    except ValueError:
        raise BadRequest(N_("The request is not valid JSON.")) from None
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise BadRequest(N_("The request must be a JSON object with a list of events."))
    return await run_in_threadpool(_take_events, preview, events)


def _take_events(preview: Preview, events: list[Any]) -> Response:
    """A reading finished at its end counts, as on a tablet, and so does what an activity
    reports (its "done", SCORM values, an H5P result: checked by the server's rules and
    kept in memory); the rest (time, media positions, drafts) is taken and forgotten.
    Same answer as the server's."""
    course = preview.watcher.current()
    by_key = {lesson.key: lesson for lesson in course.lessons}
    learner = preview.learner
    accepted: list[str] = []
    rejected: dict[str, str] = {}
    lessons: dict[str, Any] = {}
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            continue
        key = event.get("lesson")
        lesson = by_key.get(key) if isinstance(key, str) else None
        if lesson is None:
            rejected[event["id"]] = "unknown lesson"
            continue
        kind, data = event.get("type"), event.get("data")
        data = data if isinstance(data, dict) else {}
        try:
            if kind == "completed":
                learner.finish(lesson.key)
            elif kind == "scorm":
                learner.take_scorm(lesson, data)
            elif kind == "h5p" and lesson.kind == "h5p":
                learner.take_h5p(lesson, data)
        except ValidationError as exc:
            rejected[event["id"]] = exc.message
            continue
        accepted.append(event["id"])
        if kind in {"completed", "scorm", "h5p"}:
            state = learner.lesson_state(lesson).as_json()
            lessons[f"{event.get('course')}/{lesson.key}"] = state
    return JSONResponse(
        {
            "accepted": accepted,
            "duplicates": [],
            "rejected": rejected,
            "lessons": lessons,
            "certificates": [],
        }
    )


def _changes(page: Page) -> Response:
    return JSONResponse({"stamp": page.preview.watcher.stamp()})


async def _error(request: Request, exc: Exception) -> Response:
    """Every refusal as the learner's error page (JSON for the page script)."""
    assert isinstance(exc, HTTPError)
    preview: Preview = request.app.state.preview
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.message, "status": exc.status}, exc.status)
    return await run_in_threadpool(_error_page, request, preview, exc)


async def _no_route(request: Request, exc: Exception) -> Response:
    """An address or a method the preview does not answer, as the learner's error page."""
    assert isinstance(exc, HTTPException)
    refusal = HTTPError(_ROUTE_MESSAGES.get(exc.status_code))
    refusal.status = exc.status_code
    return await _error(request, refusal)


_ROUTE_MESSAGES = {
    404: N_("We could not find this page."),
    405: N_("This page cannot be used that way."),
}


def _error_page(request: Request, preview: Preview, exc: HTTPError) -> Response:
    course = preview.watcher.current()
    i18n.set_language(preview.language(course))
    page = Page(request, preview, course, FormData())
    return page.render("error.html", {"status": exc.status, "message": exc.message}, exc.status)


def routes() -> list[BaseRoute]:
    """The learner's URLs that a preview answers, the sandbox's (activities' files, on
    the other loopback name), and its own two."""
    lesson = "/learn/courses/{course_id}/lessons/{key}"
    get, post = ["GET"], ["POST"]
    return [
        Route("/", _view(pages.home), methods=get),
        Route("/learn", _view(pages.home), methods=get),
        Route("/learn/courses/{course_id}", _view(pages.course_page), methods=get),
        Route(lesson, _view(pages.lesson_page), methods=get),
        Route(f"{lesson}/done", _view(pages.lesson_done), methods=post),
        Route(f"{lesson}/quiz", _view(pages.quiz_action), methods=post),
        Route(f"{lesson}/workbook", _view(pages.workbook_action), methods=post),
        Route(f"{lesson}/written", _view(pages.written_action), methods=post),
        Route(f"{lesson}/quiz", _view(pages.to_lesson), methods=get),
        Route(f"{lesson}/workbook", _view(pages.to_lesson), methods=get),
        Route(f"{lesson}/written", _view(pages.to_lesson), methods=get),
        Route("/learn/text-size", _view(pages.text_size), methods=post),
        Route("/language", _view(pages.choose_language), methods=post),
        Route("/api/events", _events, methods=post),
        Route("/media/{token}/{name}", _view(_media), methods=get),
        Route(CHANGES_URL, _view(_changes), methods=get),
        Route(PREFIX + "{token}/{path:path}", preview_sandbox.app_file, methods=get),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_preview_app(folder: Path) -> Starlette:
    """The preview of the course folder `folder`; reads it at each request that needs it."""
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeadersMiddleware, https=False)],
        exception_handlers={HTTPError: _error, HTTPException: _no_route},
    )
    app.state.preview = Preview(
        CourseWatcher(folder),
        PreviewLearner(),
        preview_templates(),
        secrets.token_urlsafe(32),
        # An activity's address lives as long as the preview runs.
        TokenService(secrets.token_urlsafe(32), "sandbox", SANDBOX_MAX_AGE),
    )
    return app


def preview_from_environment() -> Starlette:
    """Factory for uvicorn, which `stepstone package preview` runs: the folder comes in
    STEPSTONE_PREVIEW_FOLDER."""
    folder = os.environ.get(FOLDER_VARIABLE)
    if not folder:
        raise ConfigError(f"{FOLDER_VARIABLE} names no course folder.")
    return create_preview_app(Path(folder))
