"""A course's optional list of topics learners may ask its publisher for: carried into the
manifest as written, checked by lint, absent when not given."""

from __future__ import annotations

from pathlib import Path

from content.errors import Severity
from content.format.lint import lint_course
from content.package.build import build_package
from content.package.reader import read_package
from tests.content.conftest import WriteCourse


def test_topics_are_carried_into_the_manifest(make_course: WriteCourse, tmp_path: Path) -> None:
    topics = ["Welding basics", "Forklift  safety"]
    src = make_course(course={"requestable_topics": topics})
    assert [p for p in lint_course(src) if p.severity is Severity.ERROR] == []
    manifest = read_package(build_package(src, tmp_path / "dist")).manifest
    assert manifest["course"]["requestable_topics"] == ["Welding basics", "Forklift safety"]
    plain = read_package(build_package(make_course(), tmp_path / "plain")).manifest
    assert "requestable_topics" not in plain["course"]


def test_a_bad_topic_list_is_an_error(make_course: WriteCourse) -> None:
    src = make_course(course={"requestable_topics": ["x" * 81]})
    errors = [p.message for p in lint_course(src) if p.severity is Severity.ERROR]
    assert any("requestable_topics" in m for m in errors), errors
