"""Templates are read once per worker: a page does no file-system work to render."""

from __future__ import annotations

import os

import pytest

from server.web import i18n
from server.web.templating import Templates


def test_a_second_render_does_not_look_at_the_template_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates = Templates()
    i18n.set_language("en")
    first = templates.render("_notice.html", _context())

    def no_stat(path: object) -> float:
        raise AssertionError(f"looked at {path} again")

    # Jinja's reload check asks each template file's modification time on every use.
    monkeypatch.setattr(os.path, "getmtime", no_stat)
    assert templates.render("_notice.html", _context()) == first
    assert "Saved." in first


def _context() -> dict[str, object]:
    return {"notice": "saved"}
