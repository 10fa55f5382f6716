"""What changed in a lesson since the live version, item by item, word by word.

"Changed: Money basics" makes a reviewer of a big course click Approve. So each lesson is
cut into the items a learner reads (its words, each question, choice, right answer,
feedback and explanation, each workbook prompt with who may read the answer, hint and
options, the words of its captions and PDF), each item keyed by what it is (question
``q2``'s third choice), and the two versions' items are compared: a text item as a word
diff with unchanged stretches folded, a setting (right or wrong, private or shared) as
before and after. Files that changed are compared side by side by their path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from content.format.lessondata import CourseInfo, QuizQuestion
from content.format.textdiff import Run, changed, word_diff
from server.catalog.review_lessons import LessonView
from server.core.errors import N_

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class Item:
    """One thing a learner reads or meets in a lesson. ``setting`` items hold a code word
    (``right``, ``private``...) that the page shows in the reader's language."""

    key: tuple[str, ...]
    label: str  # a message id, formatted with ``args``
    args: dict[str, Any]
    text: str
    setting: bool = False


@dataclass(frozen=True)
class ItemChange:
    label: str
    args: dict[str, Any]
    change: str  # added | removed | changed
    runs: tuple[Run, ...] = ()  # text items
    before: str = ""  # setting items
    after: str = ""
    setting: bool = False


@dataclass(frozen=True)
class LessonDiff:
    key: str
    title: str
    items: list[ItemChange] = field(default_factory=list)
    unchanged: int = 0  # items that stayed the same


@dataclass(frozen=True)
class FileChange:
    """A file of the version under review next to the live version's file at that path."""

    path: str
    change: str  # added | removed | changed
    before: dict[str, Any] | None  # asset rows (sha256, size, media_type, url)
    after: dict[str, Any] | None


def lesson_items(lesson: LessonView) -> list[Item]:
    """Everything in ``lesson`` that a learner reads, in page order."""
    data = lesson.data
    items = [
        Item(("title",), N_("Title"), {}, lesson.title),
        Item(("summary",), N_("Summary"), {}, data.summary),
        Item(("text",), N_("Text"), {}, lesson.text),
    ]
    if data.quiz is not None:
        items.append(
            Item(("pass",), N_("Pass mark, in percent"), {}, f"{data.quiz.pass_mark:g}", True)
        )
    for n, q in enumerate(data.questions, 1):
        items += _question_items(n, q.key, q)
    for n, p in enumerate(data.prompts, 1):
        k, at = ("p", p.key), {"n": n}
        items += [
            Item((*k, "prompt"), N_("Prompt %(n)s"), at, p.prompt),
            Item((*k, "type"), N_("Prompt %(n)s: kind"), at, p.type, True),
            Item(
                (*k, "visibility"),
                N_("Prompt %(n)s: who can read the answer"),
                at,
                # what learners are told: anything but "educator" keeps the answer private
                "educator" if p.visibility == "educator" else "private",
                True,
            ),
            Item((*k, "hint"), N_("Prompt %(n)s: hint"), at, p.hint),
            Item((*k, "min"), N_("Prompt %(n)s: label of 0"), at, p.min_label),
            Item((*k, "max"), N_("Prompt %(n)s: label of 10"), at, p.max_label),
        ]
        items += [
            Item((*k, "option", str(c)), N_("Prompt %(n)s, option %(c)s"), {"n": n, "c": c}, o)
            for c, o in enumerate(p.options, 1)
        ]
    for c in lesson.captions:
        label = c.track.label or c.track.language
        items.append(
            Item(
                ("captions", c.track.src),
                N_("Captions: %(name)s"),
                {"name": label},
                " ".join(c.lines),
            )
        )
    if lesson.pdf is not None:
        items.append(Item(("pdf",), N_("Text of the PDF"), {}, "\n".join(lesson.pdf.pages)))
    return [item for item in items if item.text or item.setting]


def _question_items(n: int, key: str, q: QuizQuestion) -> list[Item]:
    k, at = ("q", key), {"n": n}
    items = [
        Item((*k, "prompt"), N_("Question %(n)s"), at, q.prompt),
        Item((*k, "type"), N_("Question %(n)s: kind"), at, q.type, True),
    ]
    for c, choice in enumerate(q.choices, 1):
        ck, cat = (*k, "choice", str(c)), {"n": n, "c": c}
        items += [
            Item(ck, N_("Question %(n)s, choice %(c)s"), cat, choice.text),
            Item(
                (*ck, "right"),
                N_("Question %(n)s, choice %(c)s: right or wrong"),
                cat,
                "right" if choice.correct else "wrong",
                True,
            ),
            Item(
                (*ck, "feedback"),
                N_("Question %(n)s, feedback on choice %(c)s"),
                cat,
                choice.feedback,
            ),
        ]
    if q.answer is not None:
        items.append(
            Item(
                (*k, "answer"),
                N_("Question %(n)s: right answer"),
                at,
                "true" if q.answer else "false",
                True,
            )
        )
    if q.accepted:
        items.append(
            Item(
                (*k, "accepted"),
                N_("Question %(n)s: answers taken as right"),
                at,
                " | ".join(q.accepted),
            )
        )
    items.append(Item((*k, "explanation"), N_("Question %(n)s: explanation"), at, q.explanation))
    return items


def lesson_diff(before: LessonView, after: LessonView) -> LessonDiff:
    """What a reviewer must read to see how ``after`` differs from ``before``."""
    changes, unchanged = compare(lesson_items(before), lesson_items(after))
    return LessonDiff(after.key, after.title, changes, unchanged)


def course_items(version: Mapping[str, Any], course: CourseInfo) -> list[Item]:
    """The course's own texts, as its catalog page and card show them."""
    items = [
        Item(("title",), N_("Title"), {}, str(version["title"])),
        Item(("summary",), N_("Summary"), {}, str(version["summary"])),
        Item(("keywords",), N_("Keywords"), {}, ", ".join(course.keywords)),
        Item(
            ("cover",),
            N_("Cover picture (file and words for who cannot see it)"),
            {},
            f"{course.cover_src}: {course.cover_alt}" if course.cover_src else "",
        ),
        Item(
            ("editions",),
            N_("Editions in other languages"),
            {},
            ", ".join(f"{language}: {course_id}" for language, course_id in course.editions),
        ),
    ]
    # A course without a cover or editions has nothing there to read.
    return [
        item for item in items if item.text or item.key in {("title",), ("summary",), ("keywords",)}
    ]


def compare(old_items: list[Item], new_items: list[Item]) -> tuple[list[ItemChange], int]:
    """The items that were added, removed or changed, and how many stayed the same."""
    old = {item.key: item for item in old_items}
    changes: list[ItemChange] = []
    unchanged = 0
    for item in new_items:
        was = old.pop(item.key, None)
        if was is None:
            changes.append(_whole(item, ADDED))
        elif was.text == item.text:
            unchanged += 1
        elif item.setting or was.setting:
            changes.append(
                ItemChange(
                    item.label, item.args, CHANGED, before=was.text, after=item.text, setting=True
                )
            )
        else:
            runs = word_diff(was.text, item.text)
            if changed(runs):
                changes.append(ItemChange(item.label, item.args, CHANGED, runs))
            else:
                unchanged += 1  # only the layout of its words changed
    changes += [_whole(item, REMOVED) for item in old.values()]
    return changes, unchanged


def _whole(item: Item, change: str) -> ItemChange:
    if item.setting:
        before, after = ("", item.text) if change == ADDED else (item.text, "")
        return ItemChange(item.label, item.args, change, before=before, after=after, setting=True)
    runs = word_diff("", item.text) if change == ADDED else word_diff(item.text, "")
    return ItemChange(item.label, item.args, change, runs)


def file_changes(
    mine: dict[str, dict[str, Any]], live: dict[str, dict[str, Any]]
) -> list[FileChange]:
    """The files (not lesson pages) that differ from the live version's, by path."""
    found = []
    for path in sorted(set(mine) | set(live)):
        if path.startswith("lessons/"):
            continue  # a lesson's page is compared word by word above
        after, before = mine.get(path), live.get(path)
        if after is not None and before is not None and after["sha256"] == before["sha256"]:
            continue
        change = ADDED if before is None else REMOVED if after is None else CHANGED
        found.append(FileChange(path, change, before, after))
    return found
