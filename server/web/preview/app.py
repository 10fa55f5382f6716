"""The preview app: one course folder served to one author as a learner's tablet shows it.

It has the learner's URLs, templates, sanitizer and `CSP` policies, and none of a
facility: no database, no keys, no trust, no sign-in. Only the page frame differs (a
banner saying nothing is saved, and lint's problems with file and line), by swapping
`base.html` for `preview/base.html` when the templates are loaded. The page script
asks `/preview/changes` every second and reloads the page when a file in the folder
changed. Forms still need a token (made per run) and a same-origin request: another web
page open in the author's browser must not post to the preview.
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server.core.errors import (
    N_,
    BadRequest,
    ConfigError,
    CSRFError,
    HTTPError,
    NotFound,
    ValidationError,
)
from server.core.settings import SUPPORTED_LANGUAGES
from server.learning import quizzes, visibility, workbooks
from server.learning.visibility import Lesson
from server.people.accounts import TEXT_SIZES
from server.web import csrf, i18n
from server.web.headers import CSP, SecurityHeadersMiddleware
from server.web.lessonpage import course_url, lesson_url, media_url
from server.web.plumbing import MAX_FORM_BODY, MAX_FORM_FIELDS, MAX_JSON_BODY, safe_next
from server.web.preview.course import CourseWatcher, PreviewCourse
from server.web.preview.learner import PreviewLearner, workbook_page
from server.web.templating import STATIC_DIR, TEMPLATE_DIR, Templates

CHANGES_URL = "/preview/changes"
FOLDER_VARIABLE = "STEPSTONE_PREVIEW_FOLDER"
_SWAPPED = {"base.html": "preview/base.html"}


class _PreviewLoader(jinja2.FileSystemLoader):
    """The learner templates, each drawn in the preview's frame instead of the server's."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        return super().get_source(environment, _SWAPPED.get(template, template))


@functools.cache
def preview_templates() -> Templates:
    """The learner templates in the preview's frame, compiled once per process."""
    templates = Templates()
    # Set before the first template is loaded; Jinja keys its cache by the loader.
    templates.env.loader = _PreviewLoader(TEMPLATE_DIR)
    return templates


@dataclass
class Preview:
    """What every request of one preview reaches."""

    watcher: CourseWatcher
    learner: PreviewLearner
    templates: Templates
    token: str

    def language(self, course: PreviewCourse) -> str:
        if self.learner.language is not None:
            return self.learner.language
        wanted = course.course.language.split("-")[0] if course.course else ""
        return wanted if wanted in SUPPORTED_LANGUAGES else "en"


@dataclass
class Page:
    """One request, as a preview view sees it."""

    request: Request
    preview: Preview
    course: PreviewCourse
    form: FormData

    def values(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, value in self.form.multi_items():
            if isinstance(value, str):
                found.setdefault(name, []).append(value[: workbooks.MAX_TEXT + 1])
        return found

    def lesson(self) -> tuple[list[Lesson], Lesson]:
        lessons = self.course.lessons
        return lessons, visibility.lesson_of(lessons, self.request.path_params["key"])

    def render(self, name: str, context: dict[str, Any], status: int = 200) -> Response:
        base = {
            "req": self,
            "user": self.preview.learner,
            "language": self.preview.language(self.course),
            "csrf_token": lambda: self.preview.token,
            "facility_name": "Stepstone",
            "notice": self.request.query_params.get("notice", ""),
            "preview": self.course,
            "changes_url": CHANGES_URL,
            "reload_url": self.request.url.path,
        }
        return self.preview.templates.response(self.request, name, base | context, status)


View = Callable[[Page], Response]


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
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(N_("What you sent is too big."))
    return body


def _form(body: bytes) -> FormData:
    """A urlencoded form body (the only kind the learner pages send)."""
    fields: list[tuple[str, str | UploadFile]] = []
    fields += parse_qsl(body.decode(errors="replace"), max_num_fields=MAX_FORM_FIELDS)
    return FormData(fields)


def _check_token(preview: Preview, token: Any) -> None:
    if not isinstance(token, str) or not hmac.compare_digest(token, preview.token):
        raise CSRFError()


def _course_page(page: Page) -> Response:
    course = page.course.course
    if course is None:
        return page.render("preview/unreadable.html", {})
    if page.request.path_params.get("course_id", course.course_id) != course.course_id:
        return RedirectResponse(course_url(course.course_id), 303)  # the id was edited
    lessons = page.course.lessons
    return page.render(
        "learn/course.html",
        {
            "course": course,
            "lessons": lessons,
            "state": page.preview.learner.course_progress(lessons),
            "certificate": None,
        },
    )


def _lesson_context(page: Page, lessons: list[Lesson], lesson: Lesson) -> dict[str, Any]:
    course, assets = page.course.course, page.course.assets
    assert course is not None
    index = lessons.index(lesson)
    context: dict[str, Any] = {
        "course": course,
        "lesson": lesson,
        "lessons": lessons,
        "index": index,
        "previous": lessons[index - 1] if index > 0 else None,
        "following": lessons[index + 1] if index + 1 < len(lessons) else None,
        "state": page.preview.learner.lesson_state(lesson),
        "html": page.course.html.get(lesson.key, ""),
        "event_id": secrets.token_urlsafe(12),
        "lesson_url": lesson_url(course.course_id, lesson.key),
        "course_url": course_url(course.course_id),
        "text_sizes": TEXT_SIZES,
        "reload_url": lesson_url(course.course_id, lesson.key),
    }
    if lesson.kind in {"video", "audio", "pdf"}:
        context["media"] = assets.get(lesson.data.media)
        context["media_src"] = media_url(assets.get(lesson.data.media))
        context["captions"] = [
            {"src": media_url(assets.get(c.src)), "language": c.language, "label": c.label}
            for c in lesson.data.captions
            if assets.get(c.src)
        ]
        context["poster"] = media_url(assets.get(lesson.data.poster))
    if lesson.kind == "quiz":
        context.update(_quiz_context(page, lesson))
    if lesson.kind == "workbook":
        context.update(
            prompts=workbooks.prompts_of(lesson),
            shown_visibility=workbooks.shown_visibility,
            draft=None,
            sent=[],
            writing=True,
        )
    return context


def _quiz_context(page: Page, lesson: Lesson) -> dict[str, Any]:
    quiz = quizzes.quiz_of(lesson)
    history = page.preview.learner.attempts(lesson.key)
    attempt = history[0] if history else None
    results = {}
    if attempt is not None:
        for q in quiz.questions:
            if attempt.submitted or q.key in attempt.checked:
                answer = attempt.answers.get(q.key)
                results[q.key] = {
                    "correct": quizzes.is_correct(q, answer),
                    "notes": quizzes.feedback_for(q, answer),
                }
    history = [a for a in history if a.submitted]
    return {"quiz": quiz, "attempt": attempt, "history": history, "results": results}


def _lesson_page(page: Page) -> Response:
    if page.course.course is None:
        return page.render("preview/unreadable.html", {})
    lessons, lesson = page.lesson()
    response = page.render("learn/lesson.html", _lesson_context(page, lessons, lesson))
    if lesson.kind == "pdf":
        CSP.PDF_LESSON.apply(response)
    return response


def _after(page: Page, lessons: list[Lesson], lesson: Lesson, notice: str) -> Response:
    assert page.course.course is not None  # `_posted_lesson` found the lesson in it
    course_id = page.course.course.course_id
    index = lessons.index(lesson)
    target = (
        lesson_url(course_id, lessons[index + 1].key)
        if index + 1 < len(lessons)
        else course_url(course_id)
    )
    return RedirectResponse(f"{target}?notice={notice}", 303)


def _lesson_done(page: Page) -> Response:
    lessons, lesson = _posted_lesson(page)
    page.preview.learner.finish(lesson.key)
    return _after(page, lessons, lesson, "lesson-done")


def _posted_lesson(page: Page, kind: str | None = None) -> tuple[list[Lesson], Lesson]:
    if page.course.course is None:
        raise NotFound()
    lessons, lesson = page.lesson()
    if kind is not None and lesson.kind != kind:
        raise NotFound()
    return lessons, lesson


def _quiz_action(page: Page) -> Response:
    lessons, lesson = _posted_lesson(page, "quiz")
    action = page.form.get("action", "")
    url = page.request.url.path.removesuffix("/quiz")
    learner = page.preview.learner
    try:
        if isinstance(action, str) and action.startswith("check:"):
            key = action.removeprefix("check:")
            learner.check(lesson, key, page.values())
            return RedirectResponse(f"{url}#question-{key}", 303)
        if action == "submit":
            learner.submit(lesson, page.values())
            return RedirectResponse(f"{url}#result", 303)
        if action == "retry":
            learner.retry(lesson)
            return RedirectResponse(f"{url}#quiz", 303)
    except ValidationError as exc:
        context = _lesson_context(page, lessons, lesson) | {"error": exc.message}
        return page.render("learn/lesson.html", context, 400)
    raise BadRequest()


def _workbook_action(page: Page) -> Response:
    lessons, lesson = _posted_lesson(page, "workbook")
    context = _lesson_context(page, lessons, lesson)
    send = page.form.get("action") == "submit"
    try:
        _, shown = workbook_page(lesson, page.values(), send)
    except ValidationError as exc:
        return page.render("learn/lesson.html", context | {"error": exc.message}, 400)
    notice = "preview-sent" if send else "preview-saved"
    return page.render("learn/lesson.html", context | shown | {"notice": notice})


def _to_lesson(page: Page) -> Response:
    """A form's address opened by GET (the language switch of a page drawn from a form
    goes back to that address): the lesson itself."""
    path = page.request.url.path
    return RedirectResponse(path.removesuffix("/quiz").removesuffix("/workbook"), 303)


def _choose_language(page: Page) -> Response:
    language = page.form.get("language")
    if isinstance(language, str) and language in SUPPORTED_LANGUAGES:
        page.preview.learner.language = language
    return _back(page, "/")


def _text_size(page: Page) -> Response:
    size = page.form.get("size")
    if not isinstance(size, str) or size not in TEXT_SIZES:
        raise BadRequest()
    page.preview.learner.text_size = size
    return _back(page, "/learn")


def _back(page: Page, under: str) -> Response:
    wanted = page.form.get("next")
    return RedirectResponse(safe_next(wanted if isinstance(wanted, str) else "", under=under), 303)


def _home(page: Page) -> Response:
    course = page.course.course
    if course is None:
        return page.render("preview/unreadable.html", {})
    return RedirectResponse(course_url(course.course_id), 303)


def _media(page: Page) -> Response:
    entry = page.course.media.get(page.request.path_params["token"])
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
    """A reading finished at its end counts, as on a tablet; the rest (time, media
    positions, workbook drafts) is taken and forgotten. Same answer as the server's."""
    course = preview.watcher.current()
    keys = {lesson.key for lesson in course.lessons}
    accepted, rejected, lessons = [], {}, {}
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            continue
        if event.get("lesson") not in keys:
            rejected[event["id"]] = "unknown lesson"
            continue
        accepted.append(event["id"])
        if event.get("type") == "completed":
            preview.learner.finish(event["lesson"])
            lessons[f"{event.get('course')}/{event['lesson']}"] = {"status": "done"}
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


def _error_page(request: Request, preview: Preview, exc: HTTPError) -> Response:
    course = preview.watcher.current()
    i18n.set_language(preview.language(course))
    page = Page(request, preview, course, FormData())
    return page.render("error.html", {"status": exc.status, "message": exc.message}, exc.status)


def routes() -> list[BaseRoute]:
    """The learner's URLs that a preview answers, and its own two."""
    lesson = "/learn/courses/{course_id}/lessons/{key}"
    get, post = ["GET"], ["POST"]
    return [
        Route("/", _view(_home), methods=get),
        Route("/learn", _view(_home), methods=get),
        Route("/learn/courses/{course_id}", _view(_course_page), methods=get),
        Route(lesson, _view(_lesson_page), methods=get),
        Route(f"{lesson}/done", _view(_lesson_done), methods=post),
        Route(f"{lesson}/quiz", _view(_quiz_action), methods=post),
        Route(f"{lesson}/workbook", _view(_workbook_action), methods=post),
        Route(f"{lesson}/quiz", _view(_to_lesson), methods=get),
        Route(f"{lesson}/workbook", _view(_to_lesson), methods=get),
        Route("/learn/text-size", _view(_text_size), methods=post),
        Route("/language", _view(_choose_language), methods=post),
        Route("/api/events", _events, methods=post),
        Route("/media/{token}/{name}", _view(_media), methods=get),
        Route(CHANGES_URL, _view(_changes), methods=get),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_preview_app(folder: Path) -> Starlette:
    """The preview of the course folder `folder`; reads it at each request that needs it."""
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeadersMiddleware, https=False)],
        exception_handlers={HTTPError: _error},
    )
    app.state.preview = Preview(
        CourseWatcher(folder), PreviewLearner(), preview_templates(), secrets.token_urlsafe(32)
    )
    return app


def preview_from_environment() -> Starlette:
    """Factory for uvicorn, which `stepstone package preview` runs: the folder comes in
    STEPSTONE_PREVIEW_FOLDER."""
    folder = os.environ.get(FOLDER_VARIABLE)
    if not folder:
        raise ConfigError(f"{FOLDER_VARIABLE} names no course folder.")
    return create_preview_app(Path(folder))
