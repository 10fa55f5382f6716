"""One lesson file: YAML front matter between ``---`` lines, then a Markdown body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from content.errors import ContentError, Report
from content.format.apps import APP_ENTRY
from content.format.model import (
    INTERACTIVE_KINDS,
    Caption,
    Choice,
    Lesson,
    Prompt,
    Question,
    Quiz,
    RubricCriterion,
    RubricLevel,
    Workbook,
    Written,
)
from content.format.paths import check_on_disk, resolve_reference
from content.format.rules import question_problems, written_problems
from content.format.validate import schema_errors
from content.format.yamlload import LineMap, load_yaml

_FENCE = "---"


def split_front_matter(text: str, file: str) -> tuple[str, str, int]:
    """Split a lesson into (front matter YAML, body, 1-based line where the body starts)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _FENCE:
        raise ContentError(
            "a lesson must start with front matter: a line '---', the fields "
            "(key, title, kind), then another '---'",
            file,
            1,
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() in (_FENCE, "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise ContentError("front matter is not closed; add a line '---' after the fields", file, 1)


def load_lesson(root: Path, source: str, text: str, report: Report) -> Lesson | None:
    """Build a :class:`Lesson` from the text of ``source``; record problems in ``report``.

    Returns ``None`` when the front matter is too broken to know the lesson's key.
    """
    yaml_text, body, body_line = split_front_matter(text, source)
    doc = load_yaml(yaml_text, source, line_offset=1)
    for key, line in doc.duplicates:
        report.error(source, line, f"field '{key}' is written twice; keep one")
    data = doc.data
    if not isinstance(data, dict):
        report.error(source, 2, "front matter must be fields such as 'key: my-lesson'")
        return None
    for error in schema_errors("lesson", data, source, doc.lines):
        report.add(error)
    if not isinstance(data.get("key"), str) or not isinstance(data.get("kind"), str):
        return None
    lesson = Lesson(
        key=data["key"],
        title=str(data.get("title", data["key"])),
        kind=data["kind"],
        source=source,
        body=body,
        body_line=body_line,
        summary=_opt_str(data.get("summary")),
        estimated_minutes=data.get("estimated_minutes")
        if isinstance(data.get("estimated_minutes"), int)
        else None,
        lines={str(k[0]): v for k, v in doc.lines.lines.items() if len(k) == 1},
    )
    _attach_media(root, lesson, data, doc.lines, report)
    lesson.app = _app_folder(root, lesson, data.get("app"), doc.lines.line_of(("app",)), report)
    lesson.quiz = _quiz(data.get("quiz"), doc.lines, source, report)
    lesson.workbook = _workbook(data.get("workbook"), doc.lines, source, report)
    lesson.written = _written(data.get("written"), doc.lines, source, report)
    _check_kind_fields(lesson, data, report)
    return lesson


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _media_ref(root: Path, lesson: Lesson, ref: Any, line: int, report: Report) -> str | None:
    if not isinstance(ref, str) or not ref:
        return None
    try:
        course_path = resolve_reference(ref, lesson.source, lesson.source, line)
        check_on_disk(root, course_path, lesson.source, line)
    except ContentError as exc:
        report.add(exc)
        return None
    return course_path


def _app_folder(root: Path, lesson: Lesson, ref: Any, line: int, report: Report) -> str | None:
    """The course path of an html5 lesson's app folder, once it is known to be a folder."""
    if lesson.kind not in INTERACTIVE_KINDS:
        return None
    folder = _media_ref(root, lesson, ref, line, report)
    if folder is None:
        return None
    if not (root / folder).is_dir():
        report.error(
            lesson.source,
            line,
            f"'app: {ref}' must be a folder with the app's files and its {APP_ENTRY}; "
            "unzip an app into a folder of the course",
        )
        return None
    return folder


def _attach_media(
    root: Path, lesson: Lesson, data: dict[str, Any], lines: LineMap, report: Report
) -> None:
    lesson.media = _media_ref(root, lesson, data.get("media"), lines.line_of(("media",)), report)
    lesson.poster = _media_ref(root, lesson, data.get("poster"), lines.line_of(("poster",)), report)
    captions = []
    for index, item in enumerate(data.get("captions") or []):
        if not isinstance(item, dict):
            continue
        line = lines.line_of(("captions", index, "src"))
        src = _media_ref(root, lesson, item.get("src"), line, report)
        if src is not None:
            captions.append(
                Caption(src, str(item.get("language", "")), str(item.get("label", "")), line)
            )
    lesson.captions = tuple(captions)


def _check_kind_fields(lesson: Lesson, data: dict[str, Any], report: Report) -> None:
    """Warn about fields that the lesson's kind does not use (they are ignored)."""
    used = {
        "video": {"media", "captions", "poster"},
        "audio": {"media", "captions"},
        "pdf": {"media"},
        "quiz": {"quiz"},
        "workbook": {"workbook"},
        "written": {"written"},
        "reading": set(),
        "html5": {"app"},
        "scorm": {"app"},
        "h5p": {"app"},
    }.get(lesson.kind, set())
    for name in ("media", "captions", "poster", "quiz", "workbook", "written", "app"):
        if name in data and name not in used:
            report.warning(
                lesson.source,
                lesson.line(name),
                f"'{name}' is ignored for a lesson of kind '{lesson.kind}'; "
                "remove it or change the kind",
            )


def _quiz(data: Any, lines: LineMap, source: str, report: Report) -> Quiz | None:
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        return None
    questions = []
    seen: dict[str, int] = {}
    for index, item in enumerate(data["questions"]):
        if not isinstance(item, dict) or "key" not in item:
            continue
        line = lines.line_of(("quiz", "questions", index))
        question = _question(item, line)
        if question.key in seen:
            report.error(
                source,
                line,
                f"question key '{question.key}' is already used on "
                f"line {seen[question.key]}; give each question its own key",
            )
        seen.setdefault(question.key, line)
        for name, message in question_problems(question):
            # The line of the field to change ("choices:"), else of the question.
            at = lines.line_of(("quiz", "questions", index, name))
            report.error(source, at, f"question '{question.key}': {message}")
        questions.append(question)
    pass_mark = data.get("pass_mark", 0)
    return Quiz(
        pass_mark=pass_mark if isinstance(pass_mark, int | float) else 0,
        feedback=str(data.get("feedback", "on-submit")),
        questions=tuple(questions),
        assessment=_opt_str(data.get("assessment")),
    )


def _question(item: dict[str, Any], line: int) -> Question:
    choices = tuple(
        Choice(str(c.get("text", "")), c.get("correct") is True, _opt_str(c.get("feedback")))
        for c in item.get("choices") or []
        if isinstance(c, dict)
    )
    answer = item.get("answer")
    return Question(
        key=str(item["key"]),
        type=str(item.get("type", "")),
        prompt=str(item.get("prompt", "")),
        choices=choices,
        answer=answer if isinstance(answer, bool) else None,
        accepted=tuple(str(a) for a in item.get("accepted") or ()),
        explanation=_opt_str(item.get("explanation")),
        line=line,
    )


def _workbook(data: Any, lines: LineMap, source: str, report: Report) -> Workbook | None:
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list):
        return None
    prompts = []
    seen: dict[str, int] = {}
    for index, item in enumerate(data["prompts"]):
        if not isinstance(item, dict) or "key" not in item:
            continue
        line = lines.line_of(("workbook", "prompts", index))
        prompt = Prompt(
            key=str(item["key"]),
            type=str(item.get("type", "")),
            prompt=str(item.get("prompt", "")),
            visibility=str(item.get("visibility", "")),
            hint=_opt_str(item.get("hint")),
            min_label=_opt_str(item.get("min_label")),
            max_label=_opt_str(item.get("max_label")),
            options=tuple(str(o) for o in item.get("options") or ()),
            line=line,
        )
        if prompt.key in seen:
            report.error(
                source,
                line,
                f"prompt key '{prompt.key}' is already used on line "
                f"{seen[prompt.key]}; give each prompt its own key",
            )
        seen.setdefault(prompt.key, line)
        if prompt.type == "checklist" and not prompt.options:
            report.error(source, line, f"prompt '{prompt.key}': a checklist needs 'options:'")
        if prompt.type != "checklist" and prompt.options:
            report.warning(
                source, line, f"prompt '{prompt.key}': 'options' is only used by checklist prompts"
            )
        if prompt.type != "scale" and (prompt.min_label or prompt.max_label):
            report.warning(
                source,
                line,
                f"prompt '{prompt.key}': 'min_label'/'max_label' are only used by scale prompts",
            )
        prompts.append(prompt)
    return Workbook(tuple(prompts))


def _written(data: Any, lines: LineMap, source: str, report: Report) -> Written | None:
    """A written task; the schema has checked the types, so a wrong one only drops it."""
    if not isinstance(data, dict) or not isinstance(data.get("rubric"), list):
        return None
    rubric = []
    for index, item in enumerate(data["rubric"]):
        if not isinstance(item, dict) or not isinstance(item.get("levels"), list):
            continue
        levels = tuple(
            RubricLevel(
                str(level.get("label", "")),
                float(level["points"]) if isinstance(level.get("points"), int | float) else 0.0,
                _opt_str(level.get("description")),
            )
            for level in item["levels"]
            if isinstance(level, dict)
        )
        line = lines.line_of(("written", "rubric", index))
        rubric.append(
            RubricCriterion(str(item.get("key", "")), str(item.get("criterion", "")), levels, line)
        )
    words: dict[str, Any] = data["words"] if isinstance(data.get("words"), dict) else {}
    pass_mark = data.get("pass_mark", 0)
    written = Written(
        prompt=str(data.get("prompt", "")),
        length=str(data.get("length", "long")),
        rubric=tuple(rubric),
        pass_mark=float(pass_mark) if isinstance(pass_mark, int | float) else 0.0,
        required=data.get("required") is True,
        min_words=words.get("min") if isinstance(words.get("min"), int) else None,
        max_words=words.get("max") if isinstance(words.get("max"), int) else None,
    )
    for where, message in written_problems(written):
        report.error(source, lines.line_of(("written", *where)), f"written task: {message}")
    return written
