"""What every request of a preview reaches, and the frame its pages are drawn in.

The learner templates are used as they are; only `base.html` is swapped for
`preview/base.html` when a template is loaded, so every page, the error page too, gets
the banner ("nothing is saved"), lint's problems and the script that reloads the page
when the folder changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.core.settings import SUPPORTED_LANGUAGES
from server.learning import visibility, workbooks
from server.learning.visibility import Lesson
from server.people.tokens import TokenService
from server.web.preview.course import CourseWatcher, PreviewCourse
from server.web.preview.learner import PreviewLearner
from server.web.templating import TEMPLATE_DIR, Templates

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
    sandbox: TokenService  # signs each activity's address, with a key made for this run

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
