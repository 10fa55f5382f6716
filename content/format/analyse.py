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
from content.format.applint import check_app
from content.format.epub import Book, read_book
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
from content.format.zim import ZIM_MEDIA_TYPE, read_info

_KIND_ROLES = {"video": ("video",), "audio": ("audio",), "pdf": ("document",)}
_ROLE_WORDS = {
    "video": "a .webm or .mp4 video",
    "audio": "an .ogg, .opus, .mp3, .m4a or .wav audio file",
    "document": "a .pdf file",
    "image": "a .png, .jpg, .gif, .webp or .svg image",
    "captions": "a .vtt captions file",
    "collection": "a .zim file",
}


@dataclass(frozen=True)
class MediaFile:
    """A course file that goes into the package."""

    source: str  # course path (for a book's image: "<book>.epub!<path in the EPUB>")
    package_path: str
    size: int
    media_type: str
    data: bytes | None = None  # the bytes, when they come out of an EPUB, not a file


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
    course = load_course(root, limits, report).course
    apps = tuple(lesson.app for lesson in course.lessons if lesson.app) if course else ()
    files = scan_tree(root, limits, report, apps) if root.is_dir() else CourseFiles()
    analysis = Analysis(root, course, report)
    if course is None:
        return analysis
    if course.book is not None:
        _analyse_book(analysis, course, limits)
        _check_unused(analysis, files, course)
        _check_total_size(analysis, limits)
        return analysis
    for lesson in course.lessons:
        _check_lesson_media(analysis, files, lesson)
        if lesson.app:
            for source, package_path, size, media_type in check_app(
                root, lesson, files, limits, report, analysis.flags
            ):
                analysis.media[source] = MediaFile(source, package_path, size, media_type)
    _check_cover(analysis, files, course, limits)
    _check_collection(analysis, files, course)
    _render_all(analysis, files, course)
    for lesson in course.lessons:
        _check_narration(analysis, files, lesson)
    _check_stray_zims(analysis, course)
    _check_unused(analysis, files, course)
    _check_total_size(analysis, limits)
    return analysis


def _check_stray_zims(analysis: Analysis, course: Course) -> None:
    """A ZIM file goes into a package only as the course's collection (a facility refuses
    any other), never as a file a lesson links to."""
    for source, media in analysis.media.items():
        if media.media_type == ZIM_MEDIA_TYPE and source != course.collection:
            analysis.report.error(
                source,
                None,
                "a ZIM file can only be the course's reference collection; name it in "
                "course.yaml as 'collection:' instead of linking to it",
            )


def _analyse_book(analysis: Analysis, course: Course, limits: Limits) -> None:
    """A book's chapters become reading lessons, already rendered; its images, media."""
    assert course.book is not None
    try:
        course_path = resolve_reference(course.book, COURSE_FILE, COURSE_FILE, None)
        path = check_on_disk(analysis.root, course_path, COURSE_FILE, None)
        book = read_book(path, course_path, limits)
    except ContentError as exc:
        analysis.report.add(exc)
        return
    course.book = course_path
    for chapter in book.chapters:
        lesson = Lesson(
            chapter.key, chapter.title, "reading", f"{course_path}#{chapter.key}", "", 1
        )
        course.lessons.append(lesson)
        analysis.rendered[chapter.key] = RenderedLesson(
            chapter.html, chapter.sections, (), chapter.removed
        )
    for image in book.images.values():
        analysis.media[f"{course_path}!{image.package_path}"] = MediaFile(
            f"{course_path}!{image.package_path}",
            image.package_path,
            len(image.data),
            image.media_type,
            image.data,
        )
    _report_book(analysis, course, course_path, book)


def _report_book(analysis: Analysis, course: Course, course_path: str, book: Book) -> None:
    course.book_meta = {
        "authors": list(course.authors or book.authors)[:20],
        "subjects": list(course.subjects or book.subjects)[:20],
        "reading_level": course.reading_level,
        "cover": book.cover,
        "epub_version": book.epub_version[:10],
    }
    if book.language and book.language.split("-")[0].lower() != course.language.split("-")[0]:
        analysis.report.warning(
            COURSE_FILE,
            None,
            f"course.yaml says language '{course.language}' but the EPUB says "
            f"'{book.language}'; learners see the language in course.yaml",
        )
    if book.cover is None:
        analysis.report.warning(course_path, None, "the book has no cover picture")
    for kind, chapter, detail in book.flags:
        analysis.report.warning(course_path, None, f"chapter {chapter}: {kind}: {detail}")
        _flag(analysis, kind, chapter, detail)


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


def _check_cover(analysis: Analysis, files: CourseFiles, course: Course, limits: Limits) -> None:
    cover = course.cover
    if cover is None:
        return
    if _use_media(analysis, files, cover.src, ("image",), COURSE_FILE, cover.line) is None:
        course.cover = None
        return
    size = files.sizes[cover.src]
    if size > limits.max_cover_bytes:
        analysis.report.error(
            COURSE_FILE,
            cover.line,
            f"the cover '{cover.src}' is {size:,} bytes; at most "
            f"{limits.max_cover_bytes:,} are allowed — a tablet shows it small, so make "
            "it about 600 pixels wide",
        )


def _check_collection(analysis: Analysis, files: CourseFiles, course: Course) -> None:
    """A reference collection: the ZIM file is packaged whole, and must open with libzim
    (the facility opens it again at import and refuses it otherwise)."""
    if course.collection is None:
        return
    line = None
    try:
        course_path = resolve_reference(course.collection, COURSE_FILE, COURSE_FILE, line)
    except ContentError as exc:
        analysis.report.add(exc)
        return
    package_path = _use_media(analysis, files, course_path, ("collection",), COURSE_FILE, line)
    if package_path is None:
        return
    try:
        info = read_info(analysis.root / course_path, course_path)
    except ContentError as exc:
        analysis.report.add(exc)
        return
    if not info.has_fulltext:
        analysis.report.warning(
            course_path,
            None,
            "the ZIM file has no full-text index: learners can search its titles only",
        )
    course.collection = course_path
    course.collection_meta = {"zim": package_path}


def cover_json(course: Course) -> dict[str, str] | None:
    """The manifest's ``cover``: the picture's package path and its alt text."""
    if course.cover is None:
        return None
    return {"src": package_media_path(course.cover.src), "alt": course.cover.alt}


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
        used = name in analysis.media or name in lessons or name in (course.book, course.collection)
        if hidden or name == COURSE_FILE or used:
            continue
        if name in files.app_files:  # in an app folder: checked by the app's rules
            continue
        if name.endswith(".md"):
            analysis.report.warning(
                name, None, "not listed in course.yaml 'lessons'; it will not be packaged"
            )
        elif name in files.types:
            analysis.report.warning(name, None, "not used by any lesson; it will not be packaged")


def _check_total_size(analysis: Analysis, limits: Limits) -> None:
    # A ZIM file has its own limit (``Limits.max_collection_bytes``, checked per file).
    total = sum(m.size for m in analysis.media.values() if not m.package_path.endswith(".zim"))
    total += sum(len(r.html.encode()) for r in analysis.rendered.values())
    if total > limits.max_package_bytes:
        analysis.report.error(
            COURSE_FILE,
            None,
            f"the package would be {total:,} bytes; the "
            f"limit is {limits.max_package_bytes:,} — split the course",
        )
