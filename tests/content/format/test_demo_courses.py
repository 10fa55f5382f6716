"""Every demo course in courses/ lints without errors and builds reproducibly."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.errors import Severity
from content.format.lint import lint_course
from content.package.build import build_package
from content.package.reader import inspect_package

COURSES = Path(__file__).resolve().parents[3] / "courses"
DEMO = sorted(p.parent for p in COURSES.glob("*/course.yaml"))


def test_demo_courses_exist() -> None:
    # Guard: the parametrized test below would silently pass with zero courses.
    assert DEMO, f"no course.yaml found under {COURSES}"


@pytest.mark.parametrize("src", DEMO, ids=[p.name for p in DEMO])
def test_demo_course_lints_and_builds_reproducibly(src: Path, tmp_path: Path) -> None:
    errors = [str(p) for p in lint_course(src) if p.severity is Severity.ERROR]
    assert errors == []
    first = build_package(src, tmp_path / "a")
    second = build_package(src, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert inspect_package(first).verified
