"""Jinja2 templates with autoescape, translations and content-hashed static URLs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from server.learning import visibility
from server.web import dates, i18n, learnernav, pdfviewer
from server.web.icons import Icons
from server.web.lessonpage import media_url

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATE_DIR = PACKAGE_DIR / "templates"


class StaticFiles:
    """URLs for files under `static/` that change whenever the file's bytes change."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root
        self._hashes: dict[str, str] = {}

    def url(self, path: str) -> str:
        digest = self._hashes.get(path)
        if digest is None:
            file = (self.root / path).resolve()
            if not file.is_relative_to(self.root.resolve()) or not file.is_file():
                raise FileNotFoundError(path)
            digest = hashlib.sha256(file.read_bytes()).hexdigest()[:12]
            self._hashes[path] = digest
        return f"/static/{path}?v={digest}"


def _in_zone(format_: Callable[[Any, str], Any]) -> Callable[..., Any]:
    """A date filter that reads the facility's time zone from the page's settings (pages
    drawn without a request, such as the author's preview, show UTC)."""

    @jinja2.pass_context
    def apply(context: jinja2.runtime.Context, value: Any) -> Any:
        req = context.get("req")
        settings = getattr(req, "settings", None)
        return format_(value, getattr(settings, "time_zone", "UTC"))

    return apply


# Messages a page shows, as jinja's newstyle gettext would return them with no variables,
# per (language, autoescape, message): the same few hundred strings are drawn on every page.
_MAX_CACHED_MESSAGES = 10_000


def _marked(translated: str, autoescape: bool) -> str:
    """A translation as jinja's newstyle gettext takes it: safe where autoescaping is on,
    so that `%` escapes the variables put into it."""
    return Markup(translated) if autoescape else translated  # noqa: S704 - the catalog's text, as jinja2.ext marks it


class _PageGettext:
    """The `_()`, `gettext()` and `ngettext()` of templates: the same output as jinja2.ext's
    newstyle callables, for less work on every call.

    jinja's version goes through three `Context.call`s, wraps the translation in `Markup`
    when autoescaping and then always applies `%` to it, even with no variables (so `%%`
    reads as `%`, and a stray `%(name)s` fails). Here a message with no variables is
    looked up once per language and kept, already wrapped and formatted; with variables,
    the kept translation is formatted as jinja does: `Markup % variables`, which escapes
    each variable.
    """

    def __init__(self) -> None:
        self._plain: dict[tuple[str, bool, str], str] = {}

    def _translated(self, autoescape: bool, message: str) -> str:
        key = (i18n.current_language(), autoescape, message)
        found = self._plain.get(key)
        if found is None:
            found = _marked(i18n.gettext(message), autoescape) % {}
            if len(self._plain) >= _MAX_CACHED_MESSAGES:
                self._plain.clear()
            self._plain[key] = found
        return found

    def gettext(self, context: jinja2.runtime.Context, message: str, /, **variables: Any) -> str:
        autoescape = context.eval_ctx.autoescape
        if not variables:
            return self._translated(autoescape, message)
        return _marked(i18n.gettext(message), autoescape) % variables

    def ngettext(
        self,
        context: jinja2.runtime.Context,
        singular: str,
        plural: str,
        num: int,
        /,
        **variables: Any,
    ) -> str:
        variables.setdefault("num", num)
        translated = i18n.ngettext(singular, plural, num)
        return _marked(translated, context.eval_ctx.autoescape) % variables

    def install(self, env: jinja2.Environment) -> None:
        """Replace the callables `install_gettext_callables(newstyle=True)` put in place
        (`_` becomes the same function as `gettext`, without jinja's alias hop)."""

        kept = self._plain
        language = i18n.current_language

        @jinja2.pass_context
        def gettext(context: jinja2.runtime.Context, message: str, /, **variables: Any) -> str:
            if not variables:  # the common case, in as few calls as can be
                found = kept.get((language(), context.eval_ctx.autoescape, message))
                if found is not None:
                    return found
            return self.gettext(context, message, **variables)

        @jinja2.pass_context
        def ngettext(
            context: jinja2.runtime.Context,
            singular: str,
            plural: str,
            num: int,
            /,
            **variables: Any,
        ) -> str:
            return self.ngettext(context, singular, plural, num, **variables)

        env.globals["_"] = gettext
        env.globals["gettext"] = gettext
        env.globals["ngettext"] = ngettext


class Templates:
    def __init__(self) -> None:
        self.static = StaticFiles()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates ship with the release and never change under a running server:
            # without this, every page would stat each template it extends, includes
            # or imports to see whether it changed.
            auto_reload=False,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.gettext, i18n.ngettext, newstyle=True
        )
        _PageGettext().install(self.env)
        self.env.globals["static"] = self.static.url
        self.env.globals["icon"] = Icons(self.static.root / "icons")
        self.env.globals["learner_tabs"] = learnernav.TABS
        self.env.globals["current_tab"] = learnernav.current_tab
        self.env.globals["media_url"] = media_url
        self.env.globals["pdf_viewer_installed"] = lambda: pdfviewer.installed(self.static.root)
        self.env.globals["language_names"] = i18n.LANGUAGE_NAMES
        self.env.filters["zip"] = lambda first, second: zip(first, second, strict=False)
        self.env.filters["long_date"] = _in_zone(dates.long_date)
        self.env.filters["full_date"] = _in_zone(dates.full_date)
        self.env.filters["date_time"] = _in_zone(dates.date_time)
        self.env.filters["relative_day"] = _in_zone(dates.relative_day)
        self.env.filters["due_words"] = _in_zone(dates.due_words)
        self.env.globals["CATEGORY_LABELS"] = visibility.CATEGORY_LABELS
        self.env.globals["LEVEL_LABELS"] = visibility.LEVEL_LABELS
        self.env.globals["LANGUAGE_LABELS"] = visibility.LANGUAGE_LABELS
        self.env.globals["LANGUAGE_NAMES"] = visibility.LANGUAGE_NAMES
        self._starlette = Jinja2Templates(env=self.env)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render(context)

    def response(
        self, request: Request, name: str, context: Mapping[str, Any], status: int = 200
    ) -> HTMLResponse:
        return self._starlette.TemplateResponse(request, name, dict(context), status_code=status)
