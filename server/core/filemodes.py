"""Who may read the data folder: only the user the server runs as.

The database holds password hashes and learners' private answers, and the folder holds
the signing and session keys, so everything Stepstone creates there is 0600 (files) or
0700 (folders): every command and the web app start with umask 077. Two exceptions:

- ``store/`` holds published course files, which nginx reads (deploy.md gives its user
  an ACL for it); a stranger still cannot reach them through the closed data folder.
  A backup's copy of it (in ``backups/``) shares those files (hard links).
- the data folder itself may keep its group ``x`` (pass through, no listing): with the
  ACL deploy.md gives nginx's user, the group bits show the ACL's mask, which must
  allow passing through, and systemd's ``StateDirectoryMode=0710`` keeps it so.
  Nothing else in the folder is open to the group, so passing through reaches only
  the store.

:func:`loose_paths` finds what is open to others (an older version, a copy made with
``cp -r`` or a hand-made folder); ``stepstone init`` tightens it (:func:`tighten`) and
``stepstone check`` reports it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PRIVATE_UMASK = 0o077
# Published course files (read by nginx), and a backup's copy; see the module docstring.
OPEN_FOLDER = "store"
_GROUP_OTHER = 0o077
_GROUP_PASS = 0o010  # what the data folder itself may keep (see above)


def use_private_umask() -> None:
    """Make every file and folder this process creates private to its user."""
    os.umask(PRIVATE_UMASK)


@dataclass(frozen=True)
class Loose:
    """A path that group or others may read or write."""

    path: Path
    mode: int  # the permission bits

    @property
    def octal(self) -> str:
        return f"{self.mode:04o}"


def _walk(data_dir: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every file and folder under the data folder except the stores; symbolic links are
    not followed (their own mode means nothing)."""
    stack = [data_dir]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue  # removed while we looked (a finished import's staging)
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode):
                continue
            if entry.name == OPEN_FOLDER and stat.S_ISDIR(info.st_mode):
                continue
            yield Path(entry.path), info
            if stat.S_ISDIR(info.st_mode):
                stack.append(Path(entry.path))


def loose_paths(data_dir: Path) -> list[Loose]:
    """What in the data folder others may read or write, the folder itself first."""
    if not data_dir.is_dir():
        return []
    found = []
    top = stat.S_IMODE(data_dir.stat().st_mode)
    if top & _GROUP_OTHER & ~_GROUP_PASS:
        found.append(Loose(data_dir, top))
    for path, info in _walk(data_dir):
        mode = stat.S_IMODE(info.st_mode)
        if mode & _GROUP_OTHER:
            found.append(Loose(path, mode))
    return found


def tighten(data_dir: Path) -> list[Loose]:
    """Take group and other permissions off everything :func:`loose_paths` finds (the
    folder itself keeps the group's pass-through); returns what was changed, as it was."""
    loose = loose_paths(data_dir)
    for item in loose:
        allowed = _GROUP_PASS if item.path == data_dir else 0
        item.path.chmod(item.mode & ~(_GROUP_OTHER & ~allowed))
    return loose
