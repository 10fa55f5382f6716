"""Loading course sources: YAML errors, keys, schema messages and path safety."""

from __future__ import annotations

from pathlib import Path

from content.errors import Problem, Severity
from content.format.lint import lint_course
from tests.content.conftest import COURSE, WriteCourse, lesson


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def only_error(problems: list[Problem]) -> Problem:
    found = errors(problems)
    assert len(found) == 1, found
    return found[0]


def test_valid_course_has_no_problems(course_dir: Path) -> None:
    assert lint_course(course_dir) == []


def test_missing_course_yaml(tmp_path: Path) -> None:
    (tmp_path / "lessons").mkdir()
    problem = only_error(lint_course(tmp_path))
    assert problem.file == "course.yaml"
    assert "missing course.yaml" in problem.message


def test_missing_course_folder(tmp_path: Path) -> None:
    problem = only_error(lint_course(tmp_path / "nope"))
    assert "course folder not found" in problem.message


def test_invalid_yaml_reports_line(make_course: WriteCourse) -> None:
    src = make_course(course_yaml="id: org.example.x\ntitle: [unclosed\nversion: 1\n")
    problem = only_error(lint_course(src))
    assert problem.file == "course.yaml"
    assert problem.line == 3
    assert problem.message.startswith("invalid YAML")


def test_invalid_front_matter_yaml_reports_line_in_lesson(make_course: WriteCourse) -> None:
    src = make_course(lessons={"lessons/01-intro.md": "---\nkey: intro\ntitle: : :\n  bad\n---\n"})
    problem = only_error(lint_course(src))
    assert problem.file == "lessons/01-intro.md"
    assert problem.line in (3, 4)


def test_missing_front_matter(make_course: WriteCourse) -> None:
    src = make_course(lessons={"lessons/01-intro.md": "# Just markdown\n"})
    problem = only_error(lint_course(src))
    assert (problem.file, problem.line) == ("lessons/01-intro.md", 1)
    assert "must start with front matter" in problem.message


def test_schema_errors_name_field_and_line(make_course: WriteCourse) -> None:
    src = make_course(course={"category": "cooking", "version": 0, "colour": "red"})
    found = errors(lint_course(src))
    messages = " | ".join(p.message for p in found)
    assert "'cooking' is not allowed; use one of: education" in messages
    assert "unknown field(s) 'colour'" in messages
    assert all(p.file == "course.yaml" and p.line for p in found)
    category = next(p for p in found if "cooking" in p.message)
    assert category.line is not None
    text = (src / "course.yaml").read_text().splitlines()
    assert text[category.line - 1].startswith("category:")


def test_duplicate_yaml_field(make_course: WriteCourse) -> None:
    src = make_course(course_yaml="title: A\ntitle: B\n")
    assert any(p.line == 2 and "written twice" in p.message for p in lint_course(src))


def test_yaml_aliases_are_refused(make_course: WriteCourse) -> None:
    text = "id: &a org.example.x\ntitle: *a\n"
    found = errors(lint_course(make_course(course_yaml=text)))
    assert any(p.line == 2 and "anchors and aliases" in p.message for p in found)


def test_lesson_key_used_twice(make_course: WriteCourse) -> None:
    twin = lesson("key: intro\ntitle: Twin\nkind: reading")
    src = make_course(
        course={"lessons": [*COURSE["lessons"], "lessons/03-twin.md"]},
        lessons={"lessons/03-twin.md": twin},
    )
    problem = only_error(lint_course(src))
    assert (problem.file, problem.line) == ("lessons/03-twin.md", 2)
    assert "lesson key 'intro' is already used by lessons/01-intro.md" in problem.message


def test_unknown_lesson_kind(make_course: WriteCourse) -> None:
    bad = lesson("key: intro\ntitle: X\nkind: podcast")
    problem = errors(lint_course(make_course(lessons={"lessons/01-intro.md": bad})))[0]
    assert problem.line == 4
    assert "'podcast' is not allowed; use one of: reading, video" in problem.message


def test_question_and_prompt_rules(make_course: WriteCourse) -> None:
    quiz = lesson(
        """
key: quiz
title: Quiz
kind: quiz
quiz:
  pass_mark: 70
  feedback: immediate
  questions:
    - key: q1
      type: single
      prompt: Pick one
      choices: [{text: a, correct: true}, {text: b, correct: true}]
    - key: q1
      type: short-answer
      prompt: Say it
"""
    )
    workbook = lesson(
        """
key: book
title: Book
kind: workbook
workbook:
  prompts:
    - {key: p1, type: text, prompt: "Why?", visibility: private}
    - {key: p1, type: checklist, prompt: "Which?", visibility: educator}
"""
    )
    src = make_course(
        course={"lessons": ["lessons/q.md", "lessons/w.md"]},
        lessons={"lessons/q.md": quiz, "lessons/w.md": workbook},
    )
    messages = [(p.file, p.line, p.message) for p in errors(lint_course(src))]
    assert (
        "lessons/q.md",
        12,  # the line of 'choices:', the field to change
        "question 'q1': a 'single' question needs exactly one choice "
        "with 'correct: true' (found 2)",
    ) in messages
    assert any(
        m[1] == 13 and "question key 'q1' is already used on line 9" in m[2] for m in messages
    )
    assert any("needs 'accepted:'" in m[2] for m in messages)
    assert any(
        m[0] == "lessons/w.md" and "prompt key 'p1' is already used" in m[2] for m in messages
    )
    assert any("a checklist needs 'options:'" in m[2] for m in messages)


def test_lesson_path_with_dotdot_escape(make_course: WriteCourse, tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text(lesson("key: x\ntitle: X\nkind: reading"))
    src = make_course(course={"lessons": ["../outside.md"]})
    problem = only_error(lint_course(src))
    assert problem.file == "course.yaml" and problem.line
    assert "points outside the course folder" in problem.message


def test_absolute_media_path(make_course: WriteCourse) -> None:
    bad = VIDEO_WITH_MEDIA.replace("../media/v.webm", "/etc/passwd")
    problem = only_error(lint_course(make_course(lessons={"lessons/02-video.md": bad})))
    assert (problem.file, problem.line) == ("lessons/02-video.md", 5)
    assert "is an absolute path" in problem.message


def test_symlink_pointing_out_is_refused(make_course: WriteCourse, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n")
    src = make_course()
    (src / "media" / "pic.png").unlink()
    (src / "media" / "pic.png").symlink_to(secret)
    found = errors(lint_course(src))
    assert any(
        p.file == "media/pic.png" and "symbolic links are not allowed" in p.message for p in found
    )
    assert any(p.file == "lessons/01-intro.md" and "symbolic link" in p.message for p in found)


def test_symlinked_folder_is_refused(make_course: WriteCourse, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    src = make_course()
    (src / "extra").symlink_to(elsewhere)
    assert any(
        p.file == "extra" and "symbolic links" in p.message for p in errors(lint_course(src))
    )


VIDEO_WITH_MEDIA = """---
key: video
title: A video
kind: video
media: ../media/v.webm
captions:
  - {src: ../media/v.en.vtt, language: en, label: English}
---
Transcript.
"""
