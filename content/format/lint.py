"""``lint_course``: every problem of a course source, in one run."""

from __future__ import annotations

import re
from pathlib import Path

from content.errors import Problem, Report
from content.format.analyse import analyse_course
from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.source import COURSE_FILE


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Order problems by file, then line (unknown lines first), then message."""
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.severity, p.message))


def lint_course(
    src: Path, dist: Path | None = None, limits: Limits = DEFAULT_LIMITS
) -> list[Problem]:
    """Check the course folder ``src`` and return every problem found (errors and warnings).

    With ``dist``, also warn when the course version is not greater than the newest package
    of the same course already in that folder.
    """
    analysis = analyse_course(Path(src), limits)
    report = analysis.report
    if dist is not None and analysis.course is not None:
        check_version(analysis.course.id, analysis.course.version, Path(dist), report)
    return sort_problems(report.problems)


def package_name(course_id: str, version: int) -> str:
    """File name of a course package: ``<course-id>-v<version>.tar``."""
    return f"{course_id}-v{version}.tar"


def newest_version(course_id: str, dist: Path) -> int | None:
    """The highest version among ``<course-id>-v<N>.tar`` files in ``dist``."""
    pattern = re.compile(re.escape(course_id) + r"-v([0-9]{1,9})\.tar")
    versions = (
        [int(m.group(1)) for p in dist.glob("*.tar") if (m := pattern.fullmatch(p.name))]
        if dist.is_dir()
        else []
    )
    return max(versions, default=None)


def check_version(course_id: str, version: int, dist: Path, report: Report) -> None:
    """Warn when ``version`` does not grow past the newest package in ``dist``."""
    newest = newest_version(course_id, dist)
    if newest is not None and version <= newest:
        report.warning(
            COURSE_FILE,
            None,
            f"version {version} is not greater than the newest "
            f"package in {dist} (v{newest}); facilities ignore versions they have "
            f"already seen — set version: {newest + 1}",
        )
