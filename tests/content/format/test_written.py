"""The written task in the course format: lint's errors name the file and line, the
manifest carries the task, and the import refuses a manifest whose task cannot work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from content.errors import LintFailed
from content.format import lessondata
from content.format.analyse import analyse_course
from content.format.limits import DEFAULT_LIMITS
from content.format.rules import manifest_lesson_problems
from content.package.build import build_package
from content.package.reader import inspect_package
from tests.content.conftest import write_course

TASK = """---
key: letter
title: A letter
kind: written
written:
  prompt: Write a letter.
  length: short
  words: {min: 20, max: 80}
  pass_mark: 3
  required: true
  rubric:
    - key: content
      criterion: Says what and why
      levels:
        - {label: Not yet, points: 0}
        - {label: Clear, points: 2, description: Names the job}
    - key: tone
      criterion: Polite
      levels:
        - {label: Not yet, points: 0}
        - {label: Polite, points: 2}
---
Body.
"""


def course(tmp_path: Path, lesson: str) -> Path:
    return write_course(
        tmp_path / "src",
        course={"lessons": ["lessons/01-intro.md", "lessons/02-video.md", "lessons/03-w.md"]},
        lessons={"lessons/03-w.md": lesson},
    )


def errors(tmp_path: Path, lesson: str) -> list[str]:
    report = analyse_course(course(tmp_path, lesson), DEFAULT_LIMITS).report
    return [str(p) for p in report.problems if p.severity == "error"]


def test_a_written_task_builds_and_decodes(tmp_path: Path) -> None:
    package = build_package(course(tmp_path, TASK), tmp_path / "dist", progress=False)
    [entry] = [e for e in inspect_package(package).manifest["lessons"] if e["key"] == "letter"]
    assert entry["kind"] == "written"
    assert (entry["written"]["min_words"], entry["written"]["max_words"]) == (20, 80)
    task = lessondata.lesson_data(json.loads(json.dumps(entry))).written
    assert task is not None
    assert (task.length, task.pass_mark, task.required, task.max_points) == ("short", 3, True, 4)
    assert task.rubric[0].levels[1] == lessondata.RubricLevelData("Clear", 2, "Names the job")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("pass_mark: 3", "pass_mark: 5"),
            "03-w.md:9: error: written task: 'pass_mark: 5' is more",
        ),
        (("{min: 20, max: 80}", "{min: 90, max: 80}"), "03-w.md:8: error: written task: the word"),
        (("- key: tone", "- key: content"), "03-w.md:17: error: written task: criterion key"),
        (
            ("        - {label: Polite, points: 2}\n", ""),
            "03-w.md:19: error: written.rubric[1].levels: [{'label': 'Not yet', 'points': 0}]",
        ),
        (("  pass_mark: 3\n", ""), "03-w.md:5: error: written: missing required field 'pass_mark'"),
        (("kind: written", "kind: reading"), "03-w.md:5: warning"),
    ],
)
def test_lint_names_the_line_of_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    lesson = TASK.replace(*change)
    report = analyse_course(course(tmp_path, lesson), DEFAULT_LIMITS).report
    found = [str(p) for p in report.problems]
    assert any(message in p for p in found), found


def test_a_task_without_its_written_block_does_not_build(tmp_path: Path) -> None:
    lesson = TASK.split("written:")[0] + "---\nBody.\n"
    with pytest.raises(LintFailed):
        build_package(course(tmp_path, lesson), tmp_path / "dist", progress=False)
    found = errors(tmp_path / "again", lesson)
    assert any("missing required field 'written'" in e for e in found), found


def test_the_import_refuses_a_task_no_one_could_pass() -> None:
    entry = {
        "key": "letter",
        "kind": "written",
        "written": {
            "prompt": "Write.",
            "length": "long",
            "pass_mark": 10,
            "required": True,
            "rubric": [
                {
                    "key": "a",
                    "criterion": "A",
                    "levels": [{"label": "No", "points": 0}, {"label": "Yes", "points": 2}],
                }
            ],
        },
    }
    assert manifest_lesson_problems(entry) == [
        "written task: 'pass_mark: 10' is more than the rubric's top score (2 points):"
        " no one could pass"
    ]
    assert manifest_lesson_problems({"key": "x", "kind": "written"}) == [
        "a written lesson needs its 'written'"
    ]
