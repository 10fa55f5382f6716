"""Path safety: every path a course refers to must stay inside the course folder.

References are written by authors (``../media/x.png``) and resolved relative to the file
that contains them. We work on POSIX-style relative strings ("course paths") and only then
touch the file system, so a reference can never name something outside the course even
through a symlink: symlinks are refused altogether, which is simpler than reasoning about
where each one points.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from content.errors import PathEscapeError
from content.format.limits import Limits

_WINDOWS_DRIVE = (":/", ":\\")


def resolve_reference(ref: str, from_file: str, file: str, line: int | None = None) -> str:
    """Resolve ``ref`` (relative to the course path ``from_file``) to a course path.

    Raises :class:`PathEscapeError` for absolute paths, backslashes, or ``..`` that climbs
    out of the course folder. ``file``/``line`` say where the reference was written.
    """
    target = unquote(ref)
    if not target:
        raise PathEscapeError("empty path", file, line)
    if target.startswith(("/", "\\")) or target[1:3] in _WINDOWS_DRIVE:
        raise PathEscapeError(
            f"'{ref}' is an absolute path; write it relative to this file, "
            "for example ../media/picture.png",
            file,
            line,
        )
    if "\\" in target or "\x00" in target:
        raise PathEscapeError(
            f"'{ref}' contains a backslash; use / between folder names", file, line
        )
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(from_file), target))
    if joined == ".." or joined.startswith("../") or joined == ".":
        raise PathEscapeError(
            f"'{ref}' points outside the course folder; keep every file inside it", file, line
        )
    return joined


def check_on_disk(root: Path, course_path: str, file: str, line: int | None = None) -> Path:
    """Return the real path of ``course_path`` after refusing symlinks on the way to it.

    Raises :class:`PathEscapeError` when any folder or the file itself is a symlink, or
    when the resolved path is not inside ``root`` (belt and braces).
    """
    current = root
    for part in course_path.split("/"):
        current = current / part
        if current.is_symlink():
            raise PathEscapeError(
                f"'{course_path}' goes through a symbolic link; copy the real file into "
                "the course folder instead",
                file,
                line,
            )
    real_root = root.resolve()
    real = current.resolve()
    if not real.is_relative_to(real_root):
        raise PathEscapeError(f"'{course_path}' points outside the course folder", file, line)
    return current


@dataclass(frozen=True)
class FoundFile:
    """A regular file in the course folder."""

    path: str  # course path, POSIX separators
    size: int


@dataclass(frozen=True)
class FoundProblem:
    """Something wrong with the folder tree itself (not with a file's content)."""

    path: str
    message: str


def walk_course(root: Path, limits: Limits) -> Iterator[FoundFile | FoundProblem]:
    """Yield every regular file under ``root`` in sorted order, and every tree problem.

    Symlinks, special files, names that are too long and folders that are too deep are
    reported, never followed.
    """
    yield from _walk(root, "", 1, limits)


def _walk(
    folder: Path, prefix: str, depth: int, limits: Limits
) -> Iterator[FoundFile | FoundProblem]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield FoundProblem(prefix.rstrip("/") or ".", f"cannot read folder: {exc.strerror}")
        return
    for entry in entries:
        path = prefix + entry.name
        yield from _name_problems(entry.name, path, depth, limits)
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            yield FoundProblem(
                path,
                "symbolic links are not allowed; replace the link with the real file or remove it",
            )
        elif stat.S_ISDIR(info.st_mode):
            if depth < limits.max_depth:
                yield from _walk(Path(entry.path), path + "/", depth + 1, limits)
            else:
                yield FoundProblem(
                    path,
                    f"folders may be nested at most {limits.max_depth} deep; move the files up",
                )
        elif stat.S_ISREG(info.st_mode):
            yield FoundFile(path, info.st_size)
        else:
            yield FoundProblem(path, "not a regular file (device, socket or pipe); remove it")


def _name_problems(name: str, path: str, depth: int, limits: Limits) -> Iterator[FoundProblem]:
    if len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes:
        yield FoundProblem(path, f"file name longer than {limits.max_name_bytes} bytes; shorten it")
    if len(path.encode("utf-8", "surrogateescape")) > limits.max_path_bytes:
        yield FoundProblem(path, f"path longer than {limits.max_path_bytes} bytes; shorten it")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        yield FoundProblem(path, "file name is not valid UTF-8; rename it")
    if any(ord(c) < 32 or c in '\\:*?"<>|' for c in name):
        yield FoundProblem(
            path, 'file name contains a control character or one of \\ : * ? " < > |; rename it'
        )
