"""``stepstone package …``: lint, narrate, build and inspect course packages.

The lead wires :data:`package_cli` into the ``stepstone`` command. Every failure prints
``file:line: what to change`` and exits with status 1 — never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from content.convert.cartridge import convert_cartridge
from content.errors import ContentError, LintFailed, Problem, Severity
from content.format.lint import lint_course
from content.package.build import build_package
from content.package.narrate import narrate_course
from content.package.reader import PackageInfo, inspect_package
from content.package.speech import EspeakEngine, PiperEngine, SpeechEngine


def _show(problem: Problem, src: Path) -> str:
    file = problem.file if Path(problem.file).is_absolute() else str(src / problem.file)
    where = f"{file}:{problem.line}" if problem.line else file
    return f"{where}: {problem.severity}: {problem.message}"


def _report(problems: list[Problem], src: Path) -> tuple[int, int]:
    for problem in problems:
        click.echo(_show(problem, src), err=problem.severity is Severity.ERROR)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    return errors, len(problems) - errors


@click.group(name="package")
def package_cli() -> None:
    """Check, build and inspect course packages (see docs/content-format.md)."""


@package_cli.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--dist",
    type=click.Path(path_type=Path),
    help="Folder of built packages; warns if the version does not grow.",
)
def lint(src: Path, dist: Path | None) -> None:
    """Check the course folder SRC and list every problem at once.

    Exits 1 when there is any error, 0 when there are only warnings.

    \b
    Examples:
      stepstone package lint courses/everyday-math
      stepstone package lint courses/everyday-math --dist dist/
    """
    errors, warnings = _report(lint_course(src, dist), src)
    click.echo(f"{src}: {errors} error(s), {warnings} warning(s)", err=bool(errors))
    if errors:
        raise SystemExit(1)


@package_cli.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "dist",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write <course-id>-v<version>.tar into.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: only on a terminal).",
)
def build(src: Path, dist: Path, progress: bool | None) -> None:
    """Lint the course folder SRC, then build its package into DIST.

    The build is refused when lint finds errors. The same source always gives a
    byte-identical package.

    \b
    Examples:
      stepstone package build courses/everyday-math -o dist/
    """
    try:
        path = build_package(src, dist, progress=progress)
    except LintFailed as exc:
        _report(exc.problems, src)
        _fail(f"{src}: build refused: {exc.message}")
    except ContentError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or dist}: {exc.strerror}")
    click.echo(str(path))


@package_cli.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--engine",
    type=click.Choice(["espeak-ng", "piper"]),
    default="espeak-ng",
    show_default=True,
    help="Speech engine: eSpeak NG (Debian's espeak-ng) or Piper with --piper-model.",
)
@click.option(
    "--piper-model",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Piper voice model (.onnx, with its .onnx.json beside it) for --engine piper.",
)
@click.option(
    "--piper-program", default="piper", show_default=True, help="The Piper program to run."
)
@click.option("--lesson", "lessons", multiple=True, help="Only this lesson key (repeatable).")
@click.option("--force", is_flag=True, help="Make narration again even where it is current.")
def narrate(
    src: Path,
    engine: str,
    piper_model: Path | None,
    piper_program: str,
    lessons: tuple[str, ...],
    force: bool,
) -> None:
    """Read the lessons of the course folder SRC aloud into narration/<key>.opus and
    narration/<key>.vtt (the sentence timings).

    Only lessons whose narration is missing or no longer matches their text are made
    again. Audio is Ogg/Opus when opusenc (Debian: opus-tools) is installed, else WAV.
    Nothing is downloaded: the engine and its voices must be on this machine.

    \b
    Examples:
      stepstone package narrate courses/everyday-math
      stepstone package narrate courses/finlit --engine piper \\
          --piper-model voices/en_US-lessac-medium.onnx
    """
    if engine == "piper" and piper_model is None:
        _fail("--engine piper needs --piper-model (the voice model file)")
    speaker: SpeechEngine = (
        PiperEngine(piper_model, piper_program) if piper_model is not None else EspeakEngine()
    )
    try:
        result = narrate_course(
            src, speaker, lessons=lessons, force=force, on_lesson=lambda key: click.echo(key)
        )
    except ContentError as exc:
        _fail(f"{src}: {exc}")
    except OSError as exc:
        _fail(f"{exc.filename or src}: {exc.strerror}")
    rate = result.seconds_taken / (result.seconds_of_audio / 60) if result.made else 0.0
    click.echo(
        f"{len(result.made)} made, {len(result.current)} already current, "
        f"{len(result.silent)} with nothing to read; {result.seconds_of_audio / 60:.1f} min "
        f"of audio, {result.bytes_written:,} bytes, {rate:.1f} s per minute of audio"
    )


@package_cli.command()
@click.argument("package", type=click.Path(path_type=Path))
def inspect(package: Path) -> None:
    """Show what the package file PACKAGE contains and verify every file's SHA-256.

    \b
    Examples:
      stepstone package inspect dist/org.stepstone.demo.everyday-math-v1.tar
    """
    try:
        info = inspect_package(package)
    except ContentError as exc:
        _fail(str(exc) if exc.file else f"{package}: {exc}")
    except OSError as exc:
        _fail(f"{package}: {exc.strerror}")
    _describe(info)


@package_cli.command("import-cc")
@click.argument("export", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(path_type=Path),
    required=True,
    help="The new course folder to write (must not exist, or be empty).",
)
@click.option(
    "--id",
    "course_id",
    required=True,
    help="The course id, in your publisher namespace (org.example.my-course).",
)
@click.option("--language", default=None, help="The course language (default: the cartridge's).")
@click.option(
    "--category",
    type=click.Choice(["education", "vocational", "cbt", "job-skills", "reentry", "substance-use"]),
    default="education",
    show_default=True,
)
def import_cc(
    export: Path, target: Path, course_id: str, language: str | None, category: str
) -> None:
    """Convert an IMS Common Cartridge export (Moodle, Canvas: .imscc) into a course folder.

    Pages become readings, QTI quizzes and question banks quizzes, files media, web links
    notes; discussions and LTI tools are listed as not converted. Prints what was
    converted, changed and dropped, then lints the new folder: edit it, lint and build.

    \b
    Examples:
      stepstone package import-cc export.imscc -o courses/ged-math --id org.example.ged-math
    """
    try:
        report = convert_cartridge(
            export, target, course_id=course_id, language=language, category=category
        )
    except ContentError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or export}: {exc.strerror}")
    click.echo(f"Converted {export} into {target}: {report.lessons} lesson(s).")
    for title, lines in (
        ("Converted", report.converted),
        ("Changed", report.changed),
        ("Not converted", report.dropped),
    ):
        click.echo(f"{title} ({len(lines)}):")
        for line in lines:
            click.echo(f"  - {line}")
    errors, warnings = _report(lint_course(target), target)
    click.echo(
        f"{target}: {errors} error(s), {warnings} warning(s) from lint. Edit the folder, then:"
        f" stepstone package lint {target}"
    )


def _describe(info: PackageInfo) -> None:
    course = info.manifest["course"]
    click.echo(f"{course['id']} v{course['version']}: {course['title']}")
    click.echo(
        f"{len(info.manifest['lessons'])} lesson(s), {len(info.files)} file(s), "
        f"{sum(f.size for f in info.files):,} bytes"
    )
    for file in info.files:
        click.echo(f"  {file.sha256[:12]}  {file.size:>12,}  {file.media_type:<16} {file.path}")
    for flag in info.manifest["review_flags"]:
        click.echo(f"  review: {flag['kind']} in {flag['lesson']}: {flag['detail']}")
    click.echo("verified: every file matches its size and SHA-256 in the manifest")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(1)
