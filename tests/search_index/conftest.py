"""A small index of hand-written courses, built once per test that asks for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from search_index import IndexUpdate, Part, SearchService, Section, VersionDocs

MATH, SAFETY, TRAPS, PENDING = 1, 2, 3, 4
ALL_LIVE = frozenset({MATH, SAFETY, TRAPS})


def math_course(version_id: int = MATH, extra: str = "") -> VersionDocs:
    lesson = "What is a fraction?"
    return VersionDocs(
        version_id=version_id,
        course_id="org.demo.math",
        course_title="Everyday Math",
        category="education",
        language="en",
        course_summary="Fractions, decimals and percents for daily life.",
        keywords=("math",),
        sections=[
            Section(
                "fractions", lesson, lesson, "A fraction has a top number and a bottom number."
            ),
            Section(
                "fractions",
                lesson,
                "Adding fractions",
                "To add fractions, make the bottom numbers the same first. " + extra,
                "adding-fractions",
            ),
            Section(
                "decimals",
                "Decimals and money",
                "Counting change",
                "Money uses decimals: a dollar and twenty cents is 1.20. A recipe may ask"
                " for half a cup; that is a fraction too.",
                "counting-change",
            ),
            Section(
                "quiz",
                "Check your fractions",
                "Check your fractions",
                "Which fraction is bigger: 1/2 or 1/4?\n1/2\n1/4",
                part=Part.QUESTION,
                item_key="q1",
            ),
        ],
    )


def safety_course() -> VersionDocs:
    return VersionDocs(
        version_id=SAFETY,
        course_id="org.demo.safety",
        course_title="Workplace Safety",
        category="vocational",
        language="en",
        course_summary="Protective gear, lifting, chemicals.",
        sections=[
            Section(
                "gear",
                "Protective gear",
                "Gloves",
                "Wear gloves when you handle chemicals. <script>alert('x')</script> & stay safe.",
                "gloves",
            ),
            Section(
                "lifting",
                "Lifting safely",
                "Lifting safely",
                "Bend your knees and keep the load close. A fraction of injuries come from"
                " lifting.",
            ),
            Section(
                "tip",
                "Interview tip",
                "English",
                "Here is a tip for your job interview.",
                part=Part.CAPTIONS,
            ),
        ],
    )


def traps_course() -> VersionDocs:
    return VersionDocs(
        version_id=TRAPS,
        course_id="org.demo.trampas",
        course_title="Trampas del pensamiento",
        category="cbt",
        language="es",
        course_summary="Pensamientos, emociones y acciones.",
        sections=[
            Section(
                "inicio",
                "Punto de partida",
                "La educación",
                "La educación cambia vidas. Las emociones y los pensamientos se conectan.",
                "la-educacion",
            ),
            Section(
                "practica",
                "Práctica",
                "Mi reflexión",
                "¿Qué pensaste en ese momento?",
                part=Part.PROMPT,
                item_key="pensamiento",
            ),
        ],
    )


def pending_course() -> VersionDocs:
    return VersionDocs(
        version_id=PENDING,
        course_id="org.demo.secret",
        course_title="Unreviewed course",
        category="education",
        language="en",
        pending=True,
        sections=[Section("draft", "Draft", "Draft", "Fraction secrets nobody reviewed yet.")],
    )


def all_courses() -> list[VersionDocs]:
    return [math_course(), safety_course(), traps_course(), pending_course()]


def adding(docs: VersionDocs) -> Callable[[IndexUpdate], None]:
    """A change for `SearchService.update` that adds (or replaces) one version."""

    def change(update: IndexUpdate) -> None:
        update.add(docs)

    return change


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SearchService]:
    with SearchService(tmp_path / "search") as service:
        service.rebuild(all_courses())
        yield service
