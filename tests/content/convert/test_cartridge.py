"""`stepstone package import-cc`: an LMS export becomes a course folder an author can build."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from content.cli import package_cli
from content.convert.archive import CartridgeError
from content.convert.cartridge import Report, convert_cartridge
from content.errors import Severity
from content.format.lint import lint_course
from content.package.build import build_package
from tests.content.conftest import PNG
from tests.content.convert.cartridges import full_cartridge, manifest, write_imscc

COURSE_ID = "org.example.ged-math"


def _lesson(folder: Path, key: str) -> tuple[dict[str, Any], str]:
    text = (folder / "lessons" / f"{key}.md").read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    base = tmp_path_factory.mktemp("cc")
    export = write_imscc(base / "ged-math.imscc", full_cartridge())
    folder = base / "courses" / "ged-math"
    return folder, convert_cartridge(export, folder, course_id=COURSE_ID)


def test_an_export_becomes_a_course_that_lints_and_builds(
    converted: tuple[Path, Report], tmp_path: Path
) -> None:
    folder, report = converted
    course = yaml.safe_load((folder / "course.yaml").read_text(encoding="utf-8"))
    assert course["id"] == COURSE_ID
    assert course["title"] == "GED Math Basics"
    assert course["summary"] == "Fractions for the GED."
    assert course["license"] == "CC-BY-4.0"
    assert course["language"] == "en"
    # The organization's order, then the question bank at the end.
    assert course["lessons"] == [
        "lessons/welcome.md",
        "lessons/fractions.md",
        "lessons/worksheet.md",
        "lessons/quiz-1.md",
        "lessons/khan-academy.md",
        "lessons/practice-bank.md",
    ]
    assert report.lessons == 6
    errors = [p for p in lint_course(folder) if p.severity is Severity.ERROR]
    assert errors == []
    package = build_package(folder, tmp_path / "dist", progress=False)
    assert package.name == f"{COURSE_ID}-v1.tar"


def test_a_page_keeps_its_text_pictures_and_links_and_loses_its_scripts(
    converted: tuple[Path, Report],
) -> None:
    folder, report = converted
    front, body = _lesson(folder, "welcome")
    assert front == {"key": "welcome", "title": "Welcome", "kind": "reading"}
    assert "## Welcome to GED Math" in body
    assert "**fractions**" in body
    assert "- Halves" in body
    # The picture is copied into the course; the link to the next page points at its lesson.
    assert "![A bar chart of halves](../media/chart.png)" in body
    assert (folder / "media" / "chart.png").read_bytes() == PNG
    assert "[the next page](fractions.md)" in body
    assert "steal()" not in body and "alert(1)" not in body
    # A picture from another server is removed; an outside link is left for lint to show
    # as plain text and flag.
    assert "tracker.example.com" not in body
    assert "https://example.org/more" in body
    assert any("removed a <script>" in line for line in report.changed)
    assert any("tracker.example.com" in line for line in report.changed)
    pdf, _ = _lesson(folder, "worksheet")
    assert pdf["kind"] == "pdf" and pdf["media"] == "../media/worksheet.pdf"


def test_every_supported_question_type_keeps_its_answers_and_feedback(
    converted: tuple[Path, Report],
) -> None:
    folder, report = converted
    front, _ = _lesson(folder, "quiz-1")
    quiz = front["quiz"]
    assert quiz["pass_mark"] == 70 and quiz["feedback"] == "immediate"
    single, multiple, true_false, short = quiz["questions"]
    assert single == {
        "key": "half",
        "type": "single",
        "prompt": "What is **1/2 + 1/4**?",
        "choices": [
            {"text": "3/4", "correct": True},
            {"text": "2/6", "feedback": "Make the bottom numbers the same first."},
            {"text": "1/8"},
        ],
        "explanation": "Quarters: 2/4 + 1/4.",
    }
    assert multiple["type"] == "multiple"
    assert [c.get("correct", False) for c in multiple["choices"]] == [True, False, True]
    assert true_false == {
        "key": "tf",
        "type": "true-false",
        "prompt": "A fraction can be bigger than 1.",
        "answer": False,
    }
    assert short["type"] == "short-answer" and short["accepted"] == ["5", "five"]
    # The essay has no Stepstone equivalent: it is named in the report, not lost silently.
    assert any("Quiz 1, essay: an essay question" in line for line in report.dropped)
    bank, _ = _lesson(folder, "practice-bank")
    assert [q["key"] for q in bank["quiz"]["questions"]] == ["b1"]
    assert any("Practice bank, pm: a pattern-match question" in line for line in report.dropped)


def test_the_report_names_what_was_not_converted_and_why(
    converted: tuple[Path, Report],
) -> None:
    folder, report = converted
    dropped = "\n".join(report.dropped)
    assert "Week 1 / Introduce yourself (r_talk): a discussion" in dropped
    assert "Week 1 / Publisher tool (r_lti): an LTI tool" in dropped
    assert "Week 1 / Teacher notes (r_doc): a .docx file" in dropped
    note, body = _lesson(folder, "khan-academy")
    assert note["kind"] == "reading"
    assert "https://www.khanacademy.org/math" in body
    assert any("khanacademy.org" in line and "plain text" in line for line in report.changed)


def test_the_command_prints_the_report_then_lint(tmp_path: Path) -> None:
    export = write_imscc(tmp_path / "export.imscc", full_cartridge())
    target = tmp_path / "course"
    result = CliRunner().invoke(
        package_cli, ["import-cc", str(export), "-o", str(target), "--id", COURSE_ID]
    )
    assert result.exit_code == 0, result.output
    assert f"Converted {export} into {target}: 6 lesson(s)." in result.output
    assert "Not converted (" in result.output
    assert f"{target}: 0 error(s)," in result.output
    again = CliRunner().invoke(
        package_cli, ["import-cc", str(export), "-o", str(target), "--id", COURSE_ID]
    )
    assert again.exit_code == 1
    assert "already exists and is not empty" in again.output


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<manifest>&lol2;</manifest>"""
OUTSIDE_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><manifest>&x;</manifest>"""


def _with(name: str, data: bytes) -> dict[str, bytes]:
    files = full_cartridge()
    files[name] = data
    return files


@pytest.mark.parametrize(
    ("files", "said"),
    [
        (_with("../escape.html", b"<p>x</p>"), "is not a plain relative path"),
        (_with("/etc/cron.d/x", b"x"), "is not a plain relative path"),
        (_with("imsmanifest.xml", BILLION_LAUGHS), "DTDs and entities are not read"),
        (_with("imsmanifest.xml", OUTSIDE_ENTITY), "DTDs and entities are not read"),
        (_with("imsmanifest.xml", b"<manifest><unclosed></manifest>"), "not well-formed XML"),
        (_with("web_resources/zeros.png", b"\0" * (8 * 1024**2)), "as only a zip bomb does"),
        ({"readme.txt": b"hello"}, "no imsmanifest.xml"),
        (
            {"imsmanifest.xml": manifest("", "").encode()},
            "nothing in it could become a lesson",
        ),
    ],
    ids=[
        "dot-dot",
        "absolute",
        "entities",
        "outside-entity",
        "broken-xml",
        "zip-bomb",
        "no-manifest",
        "empty",
    ],
)
def test_a_hostile_or_broken_export_is_refused_and_nothing_is_written(
    tmp_path: Path, files: dict[str, bytes], said: str
) -> None:
    export = write_imscc(tmp_path / "bad.imscc", files)
    target = tmp_path / "course"
    with pytest.raises(CartridgeError, match=said):
        convert_cartridge(export, target, course_id=COURSE_ID)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.imscc"], "a half-made folder was left"


def test_a_file_that_is_not_a_zip_is_named(tmp_path: Path) -> None:
    export = tmp_path / "export.imscc"
    export.write_bytes(b"not a zip")
    with pytest.raises(CartridgeError, match=r"not a cartridge \(.imscc is a zip file\)"):
        convert_cartridge(export, tmp_path / "course", course_id=COURSE_ID)


def test_an_unpacked_export_folder_converts_the_same(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(write_imscc(tmp_path / "e.imscc", full_cartridge())) as archive:
        archive.extractall(unpacked)
    report = convert_cartridge(unpacked, tmp_path / "course", course_id=COURSE_ID)
    assert report.lessons == 6
