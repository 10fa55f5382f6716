"""The strict extractor: a package tar → a fresh staging folder, or a refusal.

Never ``tarfile.extractall`` (not even with ``filter='data'``, which has had bypasses):
headers are parsed by :mod:`content.package.tarstream`, every name is checked here against our own
rules before anything touches the disk, and files are written by
:class:`content.package.stagewriter.StagingWriter` (``O_EXCL | O_NOFOLLOW``, relative to folder
descriptors), so nothing in the package can make us write outside ``dest`` or through a
link. Each file's SHA-256 is computed from the bytes written, so the importer can compare
it with the manifest without reading the file a second time.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.mediatypes import HEAD_BYTES, read_head
from content.package.manifest import MANIFEST_NAME
from content.package.packfile import Pack, PackWriter, read_member
from content.package.stagewriter import (
    ExtractedFile,
    FileInspector,
    ImportRefused,
    StagingWriter,
    StoredLookup,
    os_refusal,
    shown,
)
from content.package.tarstream import Readable, TarFormatError, TarMember, TarStream

_TOP_FOLDERS = ("lessons", "media", "apps")
_READ_BUFFER = 256 * 1024
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

__all__ = [
    "ExtractedFile",
    "ExtractedPackage",
    "FileInspector",
    "ImportRefused",
    "StoredLookup",
    "check_name",
    "extract_package",
    "shown",
]


@dataclass
class ExtractedPackage:
    """What :func:`extract_package` wrote: the manifest's bytes and every other file."""

    root: Path
    manifest: bytes
    files: dict[str, ExtractedFile] = field(default_factory=dict)
    pack: Pack | None = None  # the small files of the apps, when packed

    def local_path(self, path: str) -> Path:
        """Where the bytes of the package path ``path`` are (it must be in ``files``, and
        not packed): the file written, or the stored file that holds them already."""
        return Path(self.local_name(path))

    def local_name(self, path: str) -> str:
        """:meth:`local_path` as a string: cheaper, for thousands of files."""
        file = self.files[path]
        if file.packed is not None:
            raise ValueError(f"{path} is in the pack: read it with read_bytes()")
        return file.stored if file.stored is not None else f"{self.root}{os.sep}{file.path}"

    def read_bytes(self, path: str) -> bytes:
        """The bytes of the package file ``path``, wherever they are (packed or not)."""
        file = self.files[path]
        if file.packed is None:
            return self.local_path(path).read_bytes()
        assert self.pack is not None
        return read_member(self.pack.path, file.packed, file.size)

    def read_head(self, path: str) -> bytes:
        """The first bytes of ``path`` that a type check reads (``HEAD_BYTES``)."""
        file = self.files[path]
        if file.packed is None:
            return read_head(self.local_path(path))
        assert self.pack is not None
        return read_member(self.pack.path, file.packed, min(file.size, HEAD_BYTES))


def extract_package(
    source: Path | Readable,
    dest: Path,
    limits: Limits = DEFAULT_LIMITS,
    *,
    fsync: bool = True,
    on_manifest: Callable[[bytes], None] | None = None,
    inspect: FileInspector | None = None,
    stored: StoredLookup | None = None,
    pack: Path | None = None,
) -> ExtractedPackage:
    """Stream the package at ``source`` (a path or a binary stream) into the empty ``dest``.

    Raises :class:`ImportRefused` for anything but a plain package: see the module
    docstring and ``docs/content-format.md``. On a refusal, ``dest`` may hold part of the
    package; the caller removes it (``ContentStore.staging`` does).

    Every file is fsynced before this returns (on a few threads, so the disk works while
    the next members are read); ``fsync=False`` leaves small files to the caller's own
    fsync (big ones are always fsynced and dropped from the page cache: see
    ``content.package.stagewriter``). ``on_manifest`` is called with the manifest's bytes as soon
    as they are read, so a caller can check them while the rest is extracted. ``inspect``
    is called with each other file's path and bytes as they stream by: the whole file when
    it is small (up to 64 KiB; its third argument is then true), else its first 4 KiB (see
    ``content.format.mediatypes.HEAD_BYTES``), so a caller can check them without opening
    the written file again. It runs before the file is known to match the manifest: it
    may note what it finds, but must not act on it. ``stored`` is asked for each
    file's path (and called after ``on_manifest``) for a file that should hold its bytes
    already (the store's blob of the digest the manifest lists): a file it names is read
    and hashed but not written, and ``local_path`` names the stored one; the digest is
    still that of the bytes read, for the caller to compare with the manifest. With
    ``pack`` (a new file's path, outside ``dest``), the small files of the apps are not
    written to ``dest`` but one after the other into that file (see
    ``content.package.packfile``): ``files`` gives each one's offset there, and
    :meth:`ExtractedPackage.read_bytes` reads any file, packed or not.
    """
    if any(Path(dest).iterdir()):
        raise ValueError(f"extract_package needs an empty folder, not {dest}")
    packer = PackWriter(pack) if pack is not None else None
    try:
        with (
            _open_source(source) as stream,
            StagingWriter(Path(dest), fsync, inspect, stored, packer) as writer,
        ):
            try:
                package = _extract(TarStream(stream), writer, limits, on_manifest)
            except TarFormatError as exc:
                raise ImportRefused(_refusal(exc), exc.member) from exc
            writer.syncer.finish()
    except BaseException:
        if packer is not None:
            packer.abandon()
        raise
    if packer is not None:
        try:
            package.pack = packer.finish()
        except OSError as exc:  # its last mebibyte, written now
            refusal = os_refusal(exc, "apps/")
            raise ImportRefused(f"{refusal} (the pack of the apps' small files)", "apps/") from exc
    return package


def _refusal(exc: TarFormatError) -> str:
    text = exc.message
    return text if text.startswith("'") or exc.member is None else f"{text} (member '{exc.member}')"


@contextmanager
def _open_source(source: Path | Readable) -> Iterator[Readable]:
    if isinstance(source, (str, os.PathLike)):
        try:
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ImportRefused(f"cannot read the package: {exc.strerror}") from exc
        # Buffered: a package's many small members then cost one read each few of them,
        # not three each (header, data, padding); a big chunk is still read straight into
        # the TarStream's buffer, past this one.
        with io.BufferedReader(io.FileIO(fd, "rb"), _READ_BUFFER) as stream:
            yield stream
    else:
        yield source


def _extract(
    tar: TarStream,
    writer: StagingWriter,
    limits: Limits,
    on_manifest: Callable[[bytes], None] | None,
) -> ExtractedPackage:
    first = tar.next_member()
    if first is None or first.name != MANIFEST_NAME or first.is_dir:
        found = "nothing" if first is None else f"'{shown(first.name)}'"
        raise ImportRefused(f"manifest.json must be the first member; found {found}", MANIFEST_NAME)
    if first.size > limits.max_manifest_bytes:
        raise ImportRefused(
            f"manifest.json is {first.size:,} bytes; the limit is {limits.max_manifest_bytes:,}",
            MANIFEST_NAME,
        )
    chunks: list[bytes] = []
    tar.copy_data(first, lambda data: chunks.append(bytes(data)))
    package = ExtractedPackage(writer.root, b"".join(chunks))
    if on_manifest is not None:
        on_manifest(package.manifest)
    names = _NameBook(limits)
    total = first.size
    collections = 0
    while (member := tar.next_member()) is not None:
        path = names.admit(member)
        if path.endswith(".zim") and not member.is_dir:
            # A reference collection's ZIM has its own limit (``admit``), one per package.
            collections += 1
            if collections > 1:
                raise ImportRefused("a package may hold one ZIM file only", path)
        else:
            total += member.size
        if total > limits.max_package_bytes:
            raise ImportRefused(
                f"the package holds more than {limits.max_package_bytes:,} bytes "
                f"(at member '{shown(path)}')",
                path,
            )
        if member.is_dir:
            os.close(writer.folder(path))
            tar.copy_data(member, _no_data)
        else:
            package.files[path] = writer.file(path, member, tar)
    tar.check_end()
    return package


def _no_data(_data: memoryview) -> None:
    """Folders have no data (TarStream refuses a folder that declares some)."""


class _NameBook:
    """Checks each member name and remembers the names seen, after case folding and NFC."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.files: set[str] = {_fold(MANIFEST_NAME)}
        self.folders: set[str] = set()
        self.explicit_folders: set[str] = set()
        self.count = 0

    def admit(self, member: TarMember) -> str:
        self.count += 1
        if self.count > self.limits.max_files:
            raise ImportRefused(
                f"the package has more than {self.limits.max_files:,} members "
                f"(at member '{shown(member.name)}')",
                member.name,
            )
        path = check_name(member.name, member.is_dir, self.limits)
        most = self.limits.max_member_bytes(path)
        if not member.is_dir and member.size > most:
            raise ImportRefused(
                f"'{shown(path)}' declares {member.size:,} bytes; one file may have at most "
                f"{most:,}",
                path,
            )
        self._check_unique(path, member.is_dir)
        check_top_folder(path, member.is_dir)
        return path

    def _check_unique(self, path: str, is_dir: bool) -> None:
        key = _fold(path)
        if key in self.files or (is_dir and key in self.explicit_folders):
            raise ImportRefused(
                f"'{shown(path)}' appears twice in the package (names are compared "
                "ignoring case and Unicode normalisation)",
                path,
            )
        if not is_dir and key in self.folders:
            raise ImportRefused(f"'{shown(path)}' is both a file and a folder", path)
        # ``folders`` holds every parent of every name admitted, and no name is both a file
        # and a folder: when this one's folder is known, so are its parents (the usual case).
        if key.rpartition("/")[0] not in self.folders:
            parts = key.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent in self.files:
                    raise ImportRefused(f"'{shown(path)}' is inside a file of the same name", path)
                self.folders.add(parent)
        if is_dir:
            self.folders.add(key)
            self.explicit_folders.add(key)
        else:
            self.files.add(key)


def _fold(name: str) -> str:
    if name.isascii():
        return name.lower()  # the usual name: NFC changes no ASCII, casefold is lower
    # Case folding can undo NFC (and vice versa), so normalise on both sides of it.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def check_name(name: str, is_dir: bool, limits: Limits) -> str:
    """Return the member name (without a folder's trailing ``/``) or refuse it."""
    path = name[:-1] if is_dir and name.endswith("/") else name
    _check_characters(path)
    if path.startswith("/"):
        raise ImportRefused(f"'{shown(path)}' is an absolute path", path)
    parts = path.split("/")
    if "" in parts or "." in parts or ".." in parts:
        raise ImportRefused(f"'{shown(path)}' contains an empty, '.' or '..' segment", path)
    _check_lengths(path, parts, limits)
    return path


def check_top_folder(path: str, is_dir: bool) -> None:
    """Refuse anything but ``lessons/...``, ``media/...`` and ``apps/...`` (and those
    folders)."""
    parts = path.split("/")
    if parts[0] not in _TOP_FOLDERS or len(parts) < 2 - is_dir:
        raise ImportRefused(
            f"'{shown(path)}' is outside lessons/, media/ and apps/; a package holds nothing else",
            path,
        )


def _check_characters(path: str) -> None:
    if "\\" in path:
        raise ImportRefused(f"'{shown(path)}' contains a backslash", path)
    if path.isascii():
        # The usual name: in ASCII only C0 controls and DEL are Cc, none is Cf or Cs, and
        # every string is NFC.
        if _ASCII_CONTROL.search(path):
            raise ImportRefused(f"'{shown(path)}' contains a control character", path)
        return
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in path):
        raise ImportRefused(f"'{shown(path)}' contains a control character", path)
    if unicodedata.normalize("NFC", path) != path:
        raise ImportRefused(f"'{shown(path)}' is not in Unicode normal form NFC", path)


def _check_lengths(path: str, parts: list[str], limits: Limits) -> None:
    # One more level than a course folder may have: files outside media/ move under it.
    if len(parts) > limits.max_depth + 1:
        raise ImportRefused(
            f"'{shown(path)}' is {len(parts)} levels deep; the limit is {limits.max_depth + 1}",
            path,
        )
    if len(path.encode("utf-8")) > limits.max_path_bytes:
        raise ImportRefused(f"'{shown(path)}' is longer than {limits.max_path_bytes:,} bytes", path)
    # A character is at most 4 bytes in UTF-8: the usual short names need no encoding.
    longest = max(map(len, parts))
    if longest * 4 > limits.max_name_bytes and any(
        len(part.encode("utf-8")) > limits.max_name_bytes for part in parts
    ):
        raise ImportRefused(
            f"'{shown(path)}' has a name longer than {limits.max_name_bytes} bytes", path
        )
