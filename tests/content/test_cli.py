"""The ``package`` click group through CliRunner: clear messages, exit codes, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from content.cli import package_cli
from tests.content.conftest import COURSE, WriteCourse, lesson
from tests.content.hostile import CASES, take_apart


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_lint_clean_course(cli: CliRunner, course_dir: Path) -> None:
    result = cli.invoke(package_cli, ["lint", str(course_dir)])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_lint_warnings_only_exit_zero(cli: CliRunner, make_course: WriteCourse) -> None:
    intro = lesson("key: intro\ntitle: I\nkind: reading", "[x](https://a.example)\n")
    src = make_course(lessons={"lessons/01-intro.md": intro})
    result = cli.invoke(package_cli, ["lint", str(src)])
    assert result.exit_code == 0
    assert f"{src}/lessons/01-intro.md:6: warning: external link" in result.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"course_yaml": "id: org.x.y\ntitle: [oops\n"}, "course.yaml:3: error: invalid YAML"),
        (
            {"lessons": {"lessons/02-video.md": lesson("key: intro\ntitle: T\nkind: reading")}},
            "lessons/02-video.md:2: error: lesson key 'intro' is already used",
        ),
        (
            {"course": {"lessons": ["../outside.md"]}},
            "course.yaml:11: error: '../outside.md' points outside the course folder",
        ),
        (
            {"files": {"media/pic.png": b"\x7fELF"}},
            "media/pic.png: error: this file is an ELF executable",
        ),
    ],
)
def test_lint_and_build_errors_are_clear(
    cli: CliRunner,
    make_course: WriteCourse,
    tmp_path: Path,
    change: dict[str, object],
    expected: str,
) -> None:
    src = make_course(**change)
    for args in (["lint", str(src)], ["build", str(src), "-o", str(tmp_path / "dist")]):
        result = cli.invoke(package_cli, args)
        assert result.exit_code == 1, result.output
        assert f"{src}/{expected}" in result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_missing_course_yaml(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(package_cli, ["lint", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path}/course.yaml: error: missing course.yaml" in result.output


def test_symlink_out_and_oversize(cli: CliRunner, make_course: WriteCourse, tmp_path: Path) -> None:
    src = make_course()
    (tmp_path / "secret").write_text("x")
    (src / "media" / "link.png").symlink_to(tmp_path / "secret")
    with (src / "media" / "huge.webm").open("wb") as out:
        out.truncate(2 * 1024**3 + 1)  # sparse
    result = cli.invoke(package_cli, ["build", str(src), "-o", str(tmp_path / "dist")])
    assert result.exit_code == 1
    assert f"{src}/media/link.png: error: symbolic links are not allowed" in result.output
    assert f"{src}/media/huge.webm: error: file is 2,147,483,649 bytes" in result.output
    assert "build refused" in result.output


def test_build_then_inspect(cli: CliRunner, course_dir: Path, tmp_path: Path) -> None:
    result = cli.invoke(package_cli, ["build", str(course_dir), "-o", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    package = Path(result.output.strip().splitlines()[-1])
    assert package.name == f"{COURSE['id']}-v1.tar"
    result = cli.invoke(package_cli, ["inspect", str(package)])
    assert result.exit_code == 0, result.output
    assert "org.example.test v1: Test course" in result.output
    assert "verified" in result.output


def test_inspect_bad_file(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"garbage")
    result = cli.invoke(package_cli, ["inspect", str(bad)])
    assert result.exit_code == 1
    assert str(bad) in result.output and "Traceback" not in result.output
    result = cli.invoke(package_cli, ["inspect", str(tmp_path / "missing.tar")])
    assert result.exit_code == 1


def test_help_has_examples(cli: CliRunner) -> None:
    result = cli.invoke(package_cli, ["build", "--help"])
    assert "stepstone package build courses/everyday-math -o dist/" in result.output


@pytest.mark.parametrize("case", ["manifest-nested-deep", "manifest-huge-number"])
def test_inspect_hostile_manifest_is_a_clear_refusal(
    cli: CliRunner, course_dir: Path, tmp_path: Path, case: str
) -> None:
    built = cli.invoke(package_cli, ["build", str(course_dir), "-o", str(tmp_path / "d")])
    package = Path(built.output.strip().splitlines()[-1])
    package.write_bytes(CASES[case].build(take_apart(package)))
    result = cli.invoke(package_cli, ["inspect", str(package)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    for words in CASES[case].expect:
        assert words in result.output
