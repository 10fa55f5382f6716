"""The in-page PDF viewer (pdf.js): whether it is installed, and the policy its page needs.

pdf.js is not Python: `npm ci --prefix frontend` copies it into `static/vendor/pdfjs/`
(git-ignored). A server installed without that step still opens PDF lessons, the old way:
the browser's own viewer in an `<object>` and the download link. So the lesson page asks
here, on each request, which of the two it draws; installing the viewer needs no restart.
"""

from __future__ import annotations

from pathlib import Path

from server.web.headers import CSP, Policy

VENDOR = "vendor/pdfjs"
# What the page loads itself; the rest (fonts, character maps) is asked for by pdf.js.
FILES = ("pdf.min.mjs", "pdf.worker.min.mjs", "text_layer.css")


def installed(static_dir: Path) -> bool:
    """True when every file the viewer loads is in the static folder."""
    return all((static_dir / VENDOR / name).is_file() for name in FILES)


def lesson_policy(static_dir: Path) -> Policy:
    """The page policy with pdf.js; with the `<object>` fallback, the one that allows it."""
    return CSP.PAGE if installed(static_dir) else CSP.PDF_LESSON
