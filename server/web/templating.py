"""Jinja2 templates with autoescape, translations and content-hashed static URLs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from server.learning import visibility
from server.web import i18n, pdfviewer

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
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            i18n.gettext, i18n.ngettext, newstyle=True
        )
        self.env.globals["static"] = self.static.url
        self.env.globals["pdf_viewer_installed"] = lambda: pdfviewer.installed(self.static.root)
        self.env.globals["language_names"] = i18n.LANGUAGE_NAMES
        self.env.filters["zip"] = lambda first, second: zip(first, second, strict=False)
        self.env.globals["CATEGORY_LABELS"] = visibility.CATEGORY_LABELS
        self.env.globals["LEVEL_LABELS"] = visibility.LEVEL_LABELS
        self.env.globals["LANGUAGE_LABELS"] = visibility.LANGUAGE_LABELS
        self._starlette = Jinja2Templates(env=self.env)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render(context)

    def response(
        self, request: Request, name: str, context: Mapping[str, Any], status: int = 200
    ) -> HTMLResponse:
        return self._starlette.TemplateResponse(request, name, dict(context), status_code=status)
