"""Durable file writes: what must happen for a written file or a rename to survive a
power cut, and the mode a new file should get. One place for every package to use (the
search index, which depends on nothing of ours, keeps its own five lines)."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path


def fsync_dir(folder: str | Path) -> None:
    """Make the entries of ``folder`` (a file created or renamed in it) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with suppress(OSError):  # some file systems cannot fsync a folder; nothing to do then
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Make the bytes of the file at ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask: 0644 under a
    publisher's usual 022, 0600 under the server's 077. A file written through a
    temporary file (which is always 0600) gets this mode before it is renamed."""
    return 0o666 & ~_umask()
