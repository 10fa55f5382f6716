"""A course's cover picture and its editions in other languages: what lint says, what the
manifest carries, and what a facility refuses in a package that lies about them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from content.errors import PackageError, Severity
from content.format.limits import Limits
from content.format.lint import lint_course
from content.package.build import build_package
from content.package.manifest import dumps
from content.package.reader import read_manifest, read_package
from tests.content.conftest import PNG, WriteCourse, lesson

COVER = {"src": "media/cover.png", "alt": "A calculator on a desk"}


def _errors(src: Path, limits: Limits | None = None) -> list[tuple[str, int | None, str]]:
    problems = lint_course(src, limits=limits) if limits else lint_course(src)
    return [(p.file, p.line, p.message) for p in problems if p.severity is Severity.ERROR]


def test_a_cover_is_packaged_with_its_alt_text(make_course: WriteCourse, tmp_path: Path) -> None:
    src = make_course(course={"cover": COVER}, files={"media/cover.png": PNG})
    assert _errors(src) == []
    manifest = read_package(build_package(src, tmp_path / "dist")).manifest
    assert manifest["course"]["cover"] == COVER
    assert "media/cover.png" in {f["path"] for f in manifest["files"]}


@pytest.mark.parametrize(
    ("cover", "files", "message"),
    [
        ({"src": "media/gone.png", "alt": "x"}, {}, "'media/gone.png' not found"),
        ({"src": "media/v.webm", "alt": "x"}, {}, "must be a .png, .jpg, .gif, .webp or .svg"),
        ({"src": "../outside.png", "alt": "x"}, {}, "points outside the course folder"),
        ({"src": "media/cover.png"}, {"media/cover.png": PNG}, "missing required field 'alt'"),
    ],
)
def test_a_bad_cover_is_an_error_on_its_line(
    make_course: WriteCourse, cover: dict[str, str], files: dict[str, bytes], message: str
) -> None:
    src = make_course(course={"cover": cover}, files=files)
    errors = _errors(src)
    assert any(f == "course.yaml" and message in m for f, _line, m in errors), errors
    line = next(line for f, line, m in errors if message in m)
    text = (src / "course.yaml").read_text().splitlines()
    assert line is not None and ("cover" in text[line - 1] or "src" in text[line - 1])


def test_a_cover_too_big_for_a_catalog_page(make_course: WriteCourse) -> None:
    src = make_course(course={"cover": COVER}, files={"media/cover.png": PNG})
    errors = _errors(src, Limits(max_cover_bytes=20))
    assert any("at most 20 are allowed" in m for _f, _l, m in errors), errors


def test_editions_are_carried_and_checked(make_course: WriteCourse, tmp_path: Path) -> None:
    editions = {"es": "org.example.test-es", "fr": "org.example.test-fr"}
    src = make_course(course={"editions": editions})
    assert _errors(src) == []
    manifest = read_package(build_package(src, tmp_path / "dist")).manifest
    assert manifest["course"]["editions"] == editions
    # Without editions the manifest has no such field: older packages stay byte-identical.
    plain = read_package(build_package(make_course(), tmp_path / "plain")).manifest
    assert "editions" not in plain["course"] and "cover" not in plain["course"]


@pytest.mark.parametrize(
    ("editions", "message"),
    [
        ({"en": "org.example.test-en"}, "names the course's own language 'en'"),
        ({"es": "org.example.test"}, "the 'es' edition is this course itself"),
        ({"es": "Not An Id"}, "editions.es: 'Not An Id' has the wrong form"),
        ({"spanish!": "org.example.test-es"}, "'spanish!' has the wrong form"),
    ],
)
def test_bad_editions(make_course: WriteCourse, editions: dict[str, str], message: str) -> None:
    errors = _errors(make_course(course={"editions": editions}))
    assert any(f == "course.yaml" and message in m for f, _l, m in errors), errors


def _read(manifest: dict[str, Any], limits: Limits | None = None) -> dict[str, Any]:
    data = dumps(manifest)
    stream = io.BytesIO(data)
    return read_manifest(stream, len(data), limits) if limits else read_manifest(stream, len(data))


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("media/elsewhere.png", "is not in the package"),
        ("media/v.en.vtt", "is not an image"),
    ],
)
def test_a_facility_refuses_a_package_whose_cover_lies(
    make_course: WriteCourse, tmp_path: Path, src: str, message: str
) -> None:
    video = lesson(
        "key: video\ntitle: V\nkind: video\nmedia: ../media/v.webm\n"
        "captions: [{src: ../media/v.en.vtt, language: en, label: English}]"
    )
    course = make_course(
        course={"cover": COVER},
        files={"media/cover.png": PNG},
        lessons={"lessons/02-video.md": video},
    )
    manifest = read_package(build_package(course, tmp_path / "dist")).manifest
    assert _read(manifest)["course"]["cover"] == COVER
    manifest["course"]["cover"]["src"] = src
    with pytest.raises(PackageError, match=message):
        _read(manifest)


def test_a_facility_refuses_a_cover_too_big(make_course: WriteCourse, tmp_path: Path) -> None:
    course = make_course(course={"cover": COVER}, files={"media/cover.png": PNG})
    manifest = read_package(build_package(course, tmp_path / "dist")).manifest
    with pytest.raises(PackageError, match="the limit is 20"):
        _read(manifest, Limits(max_cover_bytes=20))
    assert json.loads(dumps(manifest))["course"]["cover"]["alt"] == COVER["alt"]
