"""Load a course folder (``course.yaml`` + lesson files) into the typed model.

Loading never stops at the first problem: everything wrong is recorded in a
:class:`~content.errors.Report` and the model is built from what could be read, so lint
can tell an author about every mistake in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from content.errors import ContentError, Report
from content.format.lessonfile import load_lesson
from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.model import Course, Cover, Lesson
from content.format.paths import check_on_disk, resolve_reference
from content.format.validate import schema_errors
from content.format.yamlload import LineMap, load_yaml

COURSE_FILE = "course.yaml"


@dataclass
class LoadResult:
    """The loaded course (``None`` when course.yaml is unusable) and every problem."""

    course: Course | None
    report: Report


def load_course(
    root: Path, limits: Limits = DEFAULT_LIMITS, report: Report | None = None
) -> LoadResult:
    """Read ``root/course.yaml`` and every lesson it lists; record problems in ``report``."""
    report = report or Report()
    data, lines = _read_course_yaml(root, limits, report)
    if data is None:
        return LoadResult(None, report)
    course = _course_from(root, data)
    course.cover = _cover(root, data.get("cover"), lines, report)
    course.editions = _editions(course, data.get("editions"), lines, report)
    seen_files: dict[str, int] = {}
    for index, ref in enumerate(data.get("lessons") or [] if course.book is None else []):
        line = lines.line_of(("lessons", index))
        lesson = _load_listed_lesson(root, str(ref), line, seen_files, limits, report)
        if lesson is not None:
            course.lessons.append(lesson)
    _check_lesson_keys(course.lessons, report)
    _check_assessments(course.lessons, report)
    if len(course.lessons) > limits.max_lessons:
        report.error(
            COURSE_FILE,
            lines.line_of(("lessons",)),
            f"{len(course.lessons)} lessons; at most {limits.max_lessons} are "
            "allowed — split the course",
        )
    return LoadResult(course, report)


def _read_course_yaml(
    root: Path, limits: Limits, report: Report
) -> tuple[dict[str, Any] | None, Any]:
    path = root / COURSE_FILE
    if not root.is_dir():
        report.error(str(root), None, "course folder not found")
        return None, None
    if path.is_symlink() or not path.is_file():
        report.error(
            COURSE_FILE,
            None,
            "missing course.yaml; every course folder needs one (see docs/content-format.md)",
        )
        return None, None
    if path.stat().st_size > limits.max_course_yaml_bytes:
        report.error(
            COURSE_FILE, None, f"course.yaml is larger than {limits.max_course_yaml_bytes} bytes"
        )
        return None, None
    try:
        doc = load_yaml(_read_text(path, COURSE_FILE), COURSE_FILE)
    except ContentError as exc:
        report.add(exc)
        return None, None
    for key, line in doc.duplicates:
        report.error(COURSE_FILE, line, f"field '{key}' is written twice; keep one")
    if not isinstance(doc.data, dict):
        report.error(
            COURSE_FILE, 1, "course.yaml must be a mapping of fields (id: ..., title: ...)"
        )
        return None, None
    errors = schema_errors("course", doc.data, COURSE_FILE, doc.lines)
    for error in errors:
        report.add(error)
    # Bad metadata is reported but the lessons can still be checked; without a list of
    # lessons there is nothing more to check.
    if isinstance(doc.data.get("book"), str):
        if "lessons" in doc.data:
            report.error(
                COURSE_FILE,
                doc.lines.line_of(("lessons",)),
                "a book lists no lessons: its chapters come from the EPUB file; "
                "remove 'lessons' or 'book'",
            )
        return doc.data, doc.lines
    if not isinstance(doc.data.get("lessons"), list):
        return None, None
    return doc.data, doc.lines


def _read_text(path: Path, file: str) -> str:
    """Read a UTF-8 text file (a leading BOM is allowed) or raise ContentError."""
    try:
        return path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ContentError(
            f"not valid UTF-8 text (byte {exc.start}); save the file as UTF-8", file
        ) from exc
    except OSError as exc:
        raise ContentError(f"cannot read file: {exc.strerror}", file) from exc


def _course_from(root: Path, data: dict[str, Any]) -> Course:
    return Course(
        root=root,
        id=str(data.get("id", "")),
        version=_int(data.get("version"), 0),
        title=str(data.get("title", "")),
        summary=str(data.get("summary", "")),
        category=str(data.get("category", "")),
        language=str(data.get("language", "")),
        level=str(data.get("level", "")),
        estimated_hours=_number(data.get("estimated_hours"), 1),
        license=str(data.get("license", "")),
        credits=_number(data.get("credits"), 0),
        authors=tuple(str(a) for a in data.get("authors") or ()),
        keywords=tuple(str(k) for k in data.get("keywords") or ()),
        book=str(data["book"]) if isinstance(data.get("book"), str) else None,
        collection=str(data["collection"]) if isinstance(data.get("collection"), str) else None,
        subjects=tuple(str(s) for s in data.get("subjects") or ()),
        reading_level=str(data.get("reading_level", "")),
        requestable_topics=tuple(
            " ".join(str(t).split()) for t in data.get("requestable_topics") or ()
        ),
    )


def _cover(root: Path, data: Any, lines: LineMap, report: Report) -> Cover | None:
    """The cover picture's course path and alt text; a missing or unsafe file is reported
    here, its type and size where the package's files are decided (``analyse``)."""
    if not isinstance(data, dict) or not isinstance(data.get("src"), str) or not data["src"]:
        return None  # the schema said what is wrong
    line = lines.line_of(("cover", "src"))
    try:
        course_path = resolve_reference(data["src"], COURSE_FILE, COURSE_FILE, line)
        check_on_disk(root, course_path, COURSE_FILE, line)
    except ContentError as exc:
        report.add(exc)
        return None
    return Cover(course_path, str(data.get("alt", "")), line)


def _editions(course: Course, data: Any, lines: LineMap, report: Report) -> dict[str, str]:
    """Other-language editions of this course: language → course id."""
    if not isinstance(data, dict):
        return {}
    editions = {}
    for language, course_id in data.items():
        if not isinstance(language, str) or not isinstance(course_id, str):
            continue  # the schema said what is wrong
        line = lines.line_of(("editions", language))
        if language == course.language:
            report.error(
                COURSE_FILE,
                line,
                f"'editions' names the course's own language '{language}'; list only the "
                "editions in other languages",
            )
        elif course_id == course.id:
            report.error(
                COURSE_FILE,
                line,
                f"the '{language}' edition is this course itself; give the id of the "
                "course in that language",
            )
        else:
            editions[language] = course_id
    return dict(sorted(editions.items()))


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _number(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return value
    return default


def _load_listed_lesson(
    root: Path, ref: str, line: int, seen: dict[str, int], limits: Limits, report: Report
) -> Lesson | None:
    try:
        course_path = resolve_reference(ref, COURSE_FILE, COURSE_FILE, line)
        path = check_on_disk(root, course_path, COURSE_FILE, line)
    except ContentError as exc:
        report.add(exc)
        return None
    if course_path in seen:
        report.error(
            COURSE_FILE,
            line,
            f"lesson file '{ref}' is listed twice (also on line "
            f"{seen[course_path]}); list each lesson once",
        )
        return None
    seen[course_path] = line
    if not course_path.endswith(".md"):
        report.error(COURSE_FILE, line, f"lesson '{ref}' must be a Markdown file ending in .md")
        return None
    if not path.is_file():
        report.error(
            COURSE_FILE,
            line,
            f"lesson file '{ref}' not found; check the name and "
            "that it is inside the course folder",
        )
        return None
    if path.stat().st_size > limits.max_lesson_bytes:
        report.error(
            course_path,
            None,
            f"lesson file is larger than {limits.max_lesson_bytes} bytes; split it",
        )
        return None
    try:
        return load_lesson(root, course_path, _read_text(path, course_path), report)
    except ContentError as exc:
        report.add(exc)
        return None


def _check_lesson_keys(lessons: list[Lesson], report: Report) -> None:
    first: dict[str, Lesson] = {}
    for lesson in lessons:
        other = first.setdefault(lesson.key, lesson)
        if other is not lesson:
            report.error(
                lesson.source,
                lesson.line("key"),
                f"lesson key '{lesson.key}' is already used by {other.source}; "
                "every lesson needs its own key",
            )


def _check_assessments(lessons: list[Lesson], report: Report) -> None:
    seen: dict[str, str] = {}
    for lesson in lessons:
        kind = lesson.quiz.assessment if lesson.quiz else None
        if kind is None:
            continue
        if kind in seen:
            report.error(
                lesson.source,
                lesson.line("quiz"),
                f"a course may have only one '{kind}' assessment quiz; {seen[kind]} is one already",
            )
        seen.setdefault(kind, lesson.source)
