"""Problems and exceptions of the content package.

A :class:`Problem` is one finding about a course source (lint collects many at once);
a :class:`ContentError` is raised when work cannot go on. Both carry the file and line so
the command line can print ``file:line: what to change``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Severity(enum.StrEnum):
    """How serious a problem is: errors block a build, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about a course: where it is and what to change."""

    file: str
    line: int | None
    severity: Severity
    message: str

    def location(self) -> str:
        """Return ``file:line`` (or just ``file`` when the line is unknown)."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.location()}: {self.severity}: {self.message}"


def has_errors(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error (warnings do not count)."""
    return any(p.severity is Severity.ERROR for p in problems)


class ContentError(Exception):
    """Base of every error raised by ``content``; carries an optional file and line."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class PathEscapeError(ContentError):
    """A referenced path leaves the course folder or goes through a symlink."""


class MediaTypeError(ContentError):
    """A file's bytes are not an allowed media type, or do not match its extension."""


class LintFailed(ContentError):
    """A build was refused because lint found errors; ``problems`` lists all findings."""

    def __init__(self, problems: list[Problem]):
        errors = [p for p in problems if p.severity is Severity.ERROR]
        super().__init__(f"the course has {len(errors)} error(s); fix them and build again")
        self.problems = problems


class PackageError(ContentError):
    """A package is malformed, tampered with, or does not match its manifest."""


class Report:
    """Collects problems so lint can report every one of them in a single run."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, file: str, line: int | None, message: str) -> None:
        """Record an error (blocks the build)."""
        self.problems.append(Problem(file, line, Severity.ERROR, message))

    def warning(self, file: str, line: int | None, message: str) -> None:
        """Record a warning (shown, and flagged for reviewers, but does not block)."""
        self.problems.append(Problem(file, line, Severity.WARNING, message))

    def add(self, exc: ContentError, severity: Severity = Severity.ERROR) -> None:
        """Record a :class:`ContentError` as a problem."""
        self.problems.append(Problem(exc.file or "?", exc.line, severity, exc.message))

    def has_errors(self) -> bool:
        """True when an error has been recorded."""
        return has_errors(self.problems)
