"""Everything lint and build need to know about a course, computed once.

``analyse_course`` loads the source, checks the folder, renders every lesson (resolving
links to package addresses) and decides which files go into the package. Lint reports its
problems; build refuses when any is an error and otherwise writes the package from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from content.errors import ContentError, Report
from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.mediatypes import file_type_for
from content.format.model import Course, Lesson
from content.format.narration import TimingsError, narration_paths, parse_timings, timings_problems
from content.format.paths import check_on_disk, resolve_reference
from content.format.render import (
    ParsedLesson,
    RenderedLesson,
    images_without_alt,
    is_external,
    make_markdown,
    parse_lesson,
    render_lesson,
)
from content.format.sentences import mark_sentences
from content.format.source import COURSE_FILE, load_course
from content.format.tree import CourseFiles, scan_tree

_KIND_ROLES = {"video": ("video",), "audio": ("audio",), "pdf": ("document",)}
_ROLE_WORDS = {
    "video": "a .webm or .mp4 video",
    "audio": "an .ogg, .opus, .mp3, .m4a or .wav audio file",
    "document": "a .pdf file",
    "image": "a .png, .jpg, .gif, .webp or .svg image",
    "captions": "a .vtt captions file",
}


@dataclass(frozen=True)
class MediaFile:
    """A course file that goes into the package."""

    source: str  # course path
    package_path: str
    size: int
    media_type: str


@dataclass
class Analysis:
    """The result of :func:`analyse_course`."""

    root: Path
    course: Course | None
    report: Report
    rendered: dict[str, RenderedLesson] = field(default_factory=dict)
    media: dict[str, MediaFile] = field(default_factory=dict)
    flags: list[dict[str, str]] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # package path -> course path
    # lesson key -> package paths of its narration's audio and timings
    narration: dict[str, tuple[str, str]] = field(default_factory=dict)


def package_media_path(course_path: str) -> str:
    """Where a course file lives in the package: ``media/x.png`` stays, ``a/b.png`` →
    ``media/a/b.png``."""
    return course_path if course_path.startswith("media/") else "media/" + course_path


def package_lesson_path(key: str) -> str:
    """Where a lesson's HTML lives in the package."""
    return f"lessons/{key}.html"


def analyse_course(root: Path, limits: Limits = DEFAULT_LIMITS) -> Analysis:
    """Check and render a course source folder; never raises for problems in the source."""
    report = Report()
    files = scan_tree(root, limits, report) if root.is_dir() else CourseFiles()
    course = load_course(root, limits, report).course
    analysis = Analysis(root, course, report)
    if course is None:
        return analysis
    for lesson in course.lessons:
        _check_lesson_media(analysis, files, lesson)
    _render_all(analysis, files, course)
    for lesson in course.lessons:
        _check_narration(analysis, files, lesson)
    _check_unused(analysis, files, course)
    _check_total_size(analysis, limits)
    return analysis


def _use_media(
    analysis: Analysis,
    files: CourseFiles,
    course_path: str,
    roles: tuple[str, ...],
    file: str,
    line: int | None,
) -> str | None:
    """Record that a lesson uses a file; return its package path, or None if unusable."""
    if course_path not in files.sizes:
        try:
            check_on_disk(analysis.root, course_path, file, line)
        except ContentError as exc:
            analysis.report.add(exc)
            return None
        analysis.report.error(
            file,
            line,
            f"'{course_path}' not found in the course folder; "
            "check the file name (names are case-sensitive)",
        )
        return None
    file_type = files.types.get(course_path)
    if file_type is None:
        if file_type_for(course_path) is None:
            analysis.report.error(
                file, line, f"'{course_path}' is not a media file that a lesson can use"
            )
        return None  # the file's own problem was reported by the folder scan
    if roles and file_type.role not in roles:
        wanted = " or ".join(_ROLE_WORDS[r] for r in roles)
        analysis.report.error(file, line, f"'{course_path}' must be {wanted}")
        return None
    package_path = package_media_path(course_path)
    other = analysis.owners.setdefault(package_path, course_path)
    if other != course_path:
        analysis.report.error(
            file,
            line,
            f"'{course_path}' and '{other}' would both "
            f"be packaged as {package_path}; move one of them under media/",
        )
        return None
    analysis.media[course_path] = MediaFile(
        course_path, package_path, files.sizes[course_path], file_type.media_type
    )
    return package_path


def _check_lesson_media(analysis: Analysis, files: CourseFiles, lesson: Lesson) -> None:
    src = lesson.source
    roles = _KIND_ROLES.get(lesson.kind)
    if roles and lesson.media:
        _use_media(analysis, files, lesson.media, roles, src, lesson.line("media"))
    if lesson.kind == "video" and lesson.poster:
        _use_media(analysis, files, lesson.poster, ("image",), src, lesson.line("poster"))
    if lesson.kind in ("video", "audio"):
        for caption in lesson.captions:
            _use_media(analysis, files, caption.src, ("captions",), src, caption.line)
    if lesson.kind == "video" and not lesson.captions:
        analysis.report.warning(
            src,
            lesson.lines.get("media", lesson.line("kind")),
            "video has no captions; add "
            "'captions:' with a .vtt file for learners who cannot hear it",
        )
        _flag(analysis, "missing-captions", lesson.key, "video lesson without captions")


def _check_narration(analysis: Analysis, files: CourseFiles, lesson: Lesson) -> None:
    """A lesson's narration is used when both files are there and its cues name the
    lesson's sentences, in order, with their text."""
    timings, audio = narration_paths(lesson.key, files.sizes)
    if timings is None and not audio:
        return
    where = timings or audio[0]
    if timings is None or len(audio) != 1:
        analysis.report.error(
            where,
            None,
            f"narration of '{lesson.key}' needs one audio file and its timings "
            f"(narration/{lesson.key}.vtt); found {', '.join(audio) or 'no audio file'}",
        )
        return
    try:
        cues = parse_timings((analysis.root / timings).read_text(encoding="utf-8"))
    except (TimingsError, UnicodeDecodeError) as exc:
        analysis.report.error(timings, None, f"narration timings: {exc}")
        return
    sentences = mark_sentences(analysis.rendered[lesson.key].html).sentences
    problems = timings_problems(cues, sentences)
    if problems:
        analysis.report.error(
            timings,
            None,
            f"narration does not match the text of '{lesson.key}': {problems[0]}; "
            "make it again (stepstone package narrate) after changing a lesson",
        )
        return
    audio_path = _use_media(analysis, files, audio[0], ("audio",), timings, None)
    timings_path = _use_media(analysis, files, timings, ("captions",), timings, None)
    if audio_path and timings_path:
        analysis.narration[lesson.key] = (audio_path, timings_path)


def _flag(analysis: Analysis, kind: str, lesson: str, detail: str) -> None:
    analysis.flags.append({"kind": kind, "lesson": lesson, "detail": detail})


def _render_all(analysis: Analysis, files: CourseFiles, course: Course) -> None:
    md = make_markdown(course.language)
    parsed = {lesson.source: parse_lesson(md, lesson) for lesson in course.lessons}
    for item in parsed.values():
        resolver = _LinkResolver(analysis, files, parsed, item)
        rendered = render_lesson(md, item, resolver)
        analysis.rendered[item.lesson.key] = rendered
        _report_rendering(analysis, item, rendered)


def _report_rendering(analysis: Analysis, item: ParsedLesson, rendered: RenderedLesson) -> None:
    lesson = item.lesson
    for line in images_without_alt(item):
        analysis.report.warning(
            lesson.source,
            line,
            "image has no alt text; describe it "
            "inside the brackets: ![what the picture shows](...)",
        )
    for address, line in rendered.external_links:
        analysis.report.warning(
            lesson.source,
            line,
            f"external link '{address}' will be shown "
            "as plain text (tablets have no internet) and flagged for "
            "review",
        )
        _flag(analysis, "external-link", lesson.key, address)
    for line, what in rendered.raw_html_lines:
        analysis.report.warning(
            lesson.source,
            line,
            f"raw HTML removed by the sanitizer: {what} — write it in plain Markdown instead",
        )
    if rendered.removed:
        if not rendered.raw_html_lines:
            analysis.report.warning(
                lesson.source, None, "the sanitizer removed: " + "; ".join(rendered.removed)
            )
        _flag(analysis, "sanitized", lesson.key, "; ".join(rendered.removed))


class _LinkResolver:
    """Turns an author's link or image address into a package address (or reports why not)."""

    def __init__(
        self,
        analysis: Analysis,
        files: CourseFiles,
        parsed: dict[str, ParsedLesson],
        item: ParsedLesson,
    ):
        self.analysis = analysis
        self.files = files
        self.parsed = parsed
        self.item = item

    def __call__(self, address: str, line: int, is_image: bool) -> str | None:
        report, source = self.analysis.report, self.item.lesson.source
        if is_image and is_external(address):
            report.error(
                source,
                line,
                f"image '{address[:80]}' is not a file in the course; "
                "copy the picture into media/ and link to it",
            )
            return None
        path, _, fragment = address.partition("#")
        if not path:
            return self._anchor(self.item, fragment, line)
        try:
            course_path = resolve_reference(path, source, source, line)
        except ContentError as exc:
            report.add(exc)
            return None
        if course_path.endswith(".md") and not is_image:
            return self._lesson_link(course_path, fragment, line)
        roles = ("image",) if is_image else ()
        package_path = _use_media(self.analysis, self.files, course_path, roles, source, line)
        return quote(package_path) if package_path else None

    def _anchor(self, target: ParsedLesson, fragment: str, line: int) -> str:
        if fragment and fragment not in target.anchors:
            self.analysis.report.warning(
                self.item.lesson.source,
                line,
                f"{target.lesson.source} has no heading with anchor '#{fragment}'; "
                f"anchors there: {', '.join(target.anchors) or 'none'}",
            )
        return f"#{fragment}" if fragment in target.anchors else ""

    def _lesson_link(self, course_path: str, fragment: str, line: int) -> str | None:
        target = self.parsed.get(course_path)
        if target is None:
            self.analysis.report.error(
                self.item.lesson.source,
                line,
                f"link to '{course_path}', which is not a lesson listed in course.yaml; "
                "fix the file name or add the lesson to the list",
            )
            return None
        url = package_lesson_path(target.lesson.key)
        anchor = self._anchor(target, fragment, line) if fragment else ""
        return url + anchor if anchor else url


def _check_unused(analysis: Analysis, files: CourseFiles, course: Course) -> None:
    lessons = {lesson.source for lesson in course.lessons}
    for name in files.sizes:
        hidden = any(part.startswith(".") for part in name.split("/"))
        if hidden or name == COURSE_FILE or name in analysis.media or name in lessons:
            continue
        if name.endswith(".md"):
            analysis.report.warning(
                name, None, "not listed in course.yaml 'lessons'; it will not be packaged"
            )
        elif name in files.types:
            analysis.report.warning(name, None, "not used by any lesson; it will not be packaged")


def _check_total_size(analysis: Analysis, limits: Limits) -> None:
    total = sum(m.size for m in analysis.media.values())
    total += sum(len(r.html.encode()) for r in analysis.rendered.values())
    if total > limits.max_package_bytes:
        analysis.report.error(
            COURSE_FILE,
            None,
            f"the package would be {total:,} bytes; the "
            f"limit is {limits.max_package_bytes:,} — split the course",
        )
