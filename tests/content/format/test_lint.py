"""lint_course on whole folders: file types, limits, captions, versions — all at once."""

from __future__ import annotations

from pathlib import Path

from content.errors import Severity
from content.format.limits import Limits
from content.format.lint import lint_course
from tests.content.conftest import WEBM, WriteCourse, lesson


def test_disallowed_files_anywhere(make_course: WriteCourse) -> None:
    src = make_course(
        files={
            "media/tool.exe": b"MZ\x90\x00",
            "extra/deep/run.sh": b"#!/bin/sh",
            "notes.zip": b"PK\x03\x04",
            "media/page.html": b"<html></html>",
            ".hidden/elf": b"\x7fELF",
            "readme.txt": b"hello",
        }
    )
    found = {p.file: p for p in lint_course(src)}
    assert "Windows executable" in found["media/tool.exe"].message
    assert "script" in found["extra/deep/run.sh"].message
    assert "zip archive" in found["notes.zip"].message
    assert "HTML document" in found["media/page.html"].message
    assert "ELF" in found[".hidden/elf"].message
    assert "not allowed" in found["readme.txt"].message
    assert all(p.severity is Severity.ERROR for p in found.values())


def test_html_disguised_as_png(make_course: WriteCourse) -> None:
    src = make_course(files={"media/pic.png": b"<!DOCTYPE html><script>x</script>"})
    problem = next(p for p in lint_course(src) if p.file == "media/pic.png")
    assert problem.severity is Severity.ERROR
    assert "HTML document" in problem.message


def test_media_type_mismatch(make_course: WriteCourse) -> None:
    src = make_course(files={"media/pic.png": b"GIF89a...."})
    problem = next(p for p in lint_course(src) if p.file == "media/pic.png")
    assert "the name says a PNG image but the content is a GIF image" in problem.message


def test_video_without_captions_is_a_warning(make_course: WriteCourse) -> None:
    video = lesson("key: video\ntitle: V\nkind: video\nmedia: ../media/v.webm")
    problems = lint_course(make_course(lessons={"lessons/02-video.md": video}))
    captions = [p for p in problems if "no captions" in p.message]
    assert [(p.file, p.line, p.severity) for p in captions] == [
        ("lessons/02-video.md", 5, Severity.WARNING)
    ]
    assert not any(p.severity is Severity.ERROR for p in problems)


def test_video_lesson_needs_video_file(make_course: WriteCourse) -> None:
    video = lesson(
        "key: video\ntitle: V\nkind: video\nmedia: ../media/pic.png\n"
        "captions: [{src: ../media/v.en.vtt, language: en, label: English}]"
    )
    problems = lint_course(make_course(lessons={"lessons/02-video.md": video}))
    assert any(p.line == 5 and "must be a .webm or .mp4 video" in p.message for p in problems)


def test_missing_media_file(make_course: WriteCourse) -> None:
    video = lesson("key: video\ntitle: V\nkind: video\nmedia: ../media/gone.webm")
    problems = lint_course(make_course(lessons={"lessons/02-video.md": video}))
    assert any(p.line == 5 and "'media/gone.webm' not found" in p.message for p in problems)


def test_every_problem_is_reported_at_once(make_course: WriteCourse) -> None:
    broken = lesson("key: intro\ntitle: I\nkind: reading", "[x](nope.md)\n")
    src = make_course(
        lessons={"lessons/01-intro.md": broken},
        files={"bad.exe": b"\x7fELF", "media/v.webm": b"<html>"},
        course={"level": "expert"},
    )
    errors = [p for p in lint_course(src) if p.severity is Severity.ERROR]
    files = {p.file for p in errors}
    assert {"course.yaml", "lessons/01-intro.md", "bad.exe", "media/v.webm"} <= files


def test_size_and_shape_limits(make_course: WriteCourse) -> None:
    src = make_course(
        files={
            "media/a/b/c/d/e/f/g/h/i.png": b"\x89PNG\r\n\x1a\n",
            "media/" + "n" * 40 + ".png": b"\x89PNG\r\n\x1a\n",
        }
    )
    limits = Limits(max_file_bytes=30, max_files=5, max_name_bytes=40)
    problems = lint_course(src, limits=limits)
    messages = " | ".join(f"{p.file}: {p.message}" for p in problems)
    assert "the limit is 30" in messages  # the webm is 56 bytes
    assert "more than 5 files" in messages
    assert "nested at most 8 deep" in messages
    assert "file name longer than 40 bytes" in messages


def test_too_many_lessons(make_course: WriteCourse) -> None:
    problems = lint_course(make_course(), limits=Limits(max_lessons=1))
    assert any(p.file == "course.yaml" and "at most 1 are allowed" in p.message for p in problems)


def test_unused_files_are_warnings(make_course: WriteCourse) -> None:
    src = make_course(files={"media/spare.webm": WEBM}, lessons={"lessons/99-draft.md": "draft"})
    found = {p.file: p for p in lint_course(src)}
    assert found["media/spare.webm"].severity is Severity.WARNING
    assert "not listed in course.yaml" in found["lessons/99-draft.md"].message


def test_version_must_grow_past_dist(course_dir: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "org.example.test-v3.tar").write_bytes(b"")
    (dist / "org.example.other-v9.tar").write_bytes(b"")
    problem = next(p for p in lint_course(course_dir, dist))
    assert problem.severity is Severity.WARNING
    assert "version 1 is not greater than the newest package" in problem.message
    assert "set version: 4" in problem.message


LINED = "lessons/09-lined.md"


def problems_at(make_course: WriteCourse, front: str) -> list[tuple[int | None, str]]:
    """(line, message) of each error lint finds in one added lesson with this front matter."""
    src = make_course(
        course={"lessons": ["lessons/01-intro.md", "lessons/02-video.md", LINED]},
        lessons={LINED: lesson(front)},
    )
    return [(p.line, p.message) for p in lint_course(src) if p.file == LINED]


def test_an_unknown_field_is_reported_at_its_own_line(make_course: WriteCourse) -> None:
    found = problems_at(make_course, "key: a\ntitle: A\nkind: reading\ncolour: red")
    assert [(line, "'colour'" in message) for line, message in found] == [(5, True)]


def test_a_field_that_kind_needs_is_reported_at_kind(make_course: WriteCourse) -> None:
    found = problems_at(make_course, "key: a\ntitle: A\nsummary: S\nkind: video")
    assert (5, "top level: missing required field 'media'") in found


def test_a_nested_mapping_is_reported_at_its_key(make_course: WriteCourse) -> None:
    front = "key: a\ntitle: A\nkind: quiz\nquiz:\n  pass_mark: 80\n  questions:\n"
    front += "    - {key: q1, type: true-false, prompt: P, answer: true}"
    assert problems_at(make_course, front) == [(5, "quiz: missing required field 'feedback'")]


def test_a_question_problem_is_reported_at_the_field_to_change(
    make_course: WriteCourse,
) -> None:
    front = (
        "key: a\ntitle: A\nkind: quiz\nquiz:\n  pass_mark: 80\n  feedback: on-submit\n"
        "  questions:\n    - key: q1\n      type: single\n      prompt: P\n"
        "      choices:\n        - text: a\n        - text: b\n"
    )
    [(line, message)] = problems_at(make_course, front)
    assert line == 12 and "exactly one choice with 'correct: true'" in message


def test_an_unknown_field_in_a_list_item_is_reported_at_its_line(
    make_course: WriteCourse,
) -> None:
    front = (
        "key: a\ntitle: A\nkind: video\nmedia: ../media/v.webm\ncaptions:\n"
        "  - src: ../media/v.en.vtt\n    language: en\n    lable: English"
    )
    lines = {line for line, message in problems_at(make_course, front) if "'lable'" in message}
    assert lines == {9}
