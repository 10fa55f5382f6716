"""A cartridge's files, read with limits: a zip (``.imscc``) or an unpacked folder.

An LMS export is input from outside, so it is read as hostile: every member name must be a
plain relative path (no ``..``, no absolute or drive paths, no backslashes or control
characters), the archive's member count, total size and each file's size are capped
before anything is read, a member whose compression ratio only a zip bomb has is refused,
and a read stops at the size the archive declared. XML is parsed with defusedxml (no DTDs,
no entities, no outside resources).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from content.errors import ContentError


@dataclass(frozen=True)
class ArchiveLimits:
    members: int = 20_000
    total_bytes: int = 4 * 1024**3
    file_bytes: int = 2 * 1024**3
    xml_bytes: int = 16 * 1024**2
    # A deflated member larger than this is refused when it is more than `ratio` times
    # smaller packed: text compresses 5-10 times, a zip bomb thousands of times.
    ratio: int = 200
    ratio_from_bytes: int = 1024**2


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


class CartridgeError(ContentError):
    """The cartridge cannot be read: the message names the file and the problem."""


def safe_name(name: str) -> str | None:
    """The member name as a clean relative POSIX path, or None when it is not one."""
    if not name or "\\" in name or "\x00" in name or any(ord(c) < 32 for c in name):
        return None
    path = PurePosixPath(name)
    if not path.parts or path.is_absolute() or ":" in path.parts[0]:
        return None
    if any(part in {"..", "."} for part in path.parts):
        return None
    return str(path)


class Cartridge:
    """The files of one cartridge, by their path inside it."""

    def __init__(self, source: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> None:
        self.source = source
        self.limits = limits
        self._zip: zipfile.ZipFile | None = None
        self._sizes: dict[str, int] = {}
        if source.is_dir():
            self._index_folder()
        elif source.is_file():
            self._index_zip()
        else:
            raise CartridgeError(f"{source}: no such file or folder")

    def _index_folder(self) -> None:
        total = 0
        for path in sorted(self.source.rglob("*")):
            if path.is_symlink():
                raise CartridgeError(f"{path}: a symbolic link; a cartridge holds plain files")
            if not path.is_file():
                continue
            name = path.relative_to(self.source).as_posix()
            size = path.stat().st_size
            total += size
            self._check(name, size, total)
            self._sizes[name] = size

    def _index_zip(self) -> None:
        try:
            archive = zipfile.ZipFile(self.source)
        except (zipfile.BadZipFile, OSError) as exc:
            raise CartridgeError(
                f"{self.source}: not a cartridge (.imscc is a zip file): {exc}"
            ) from None
        self._zip = archive
        infos = archive.infolist()
        if len(infos) > self.limits.members:
            raise CartridgeError(
                f"{self.source}: {len(infos):,} files; at most {self.limits.members:,} are read"
            )
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = safe_name(info.filename)
            if name is None:
                raise CartridgeError(
                    f"{self.source}: the member {info.filename!r} is not a plain relative path"
                    " (it would be written outside the course folder)"
                )
            if name in self._sizes:
                raise CartridgeError(f"{self.source}: {name} is in the archive twice")
            total += info.file_size
            self._check(name, info.file_size, total)
            packed = max(info.compress_size, 1)
            if (
                info.file_size > self.limits.ratio_from_bytes
                and info.file_size / packed > self.limits.ratio
            ):
                raise CartridgeError(
                    f"{self.source}: {name} unpacks {info.file_size / packed:,.0f} times larger"
                    " than it is packed, as only a zip bomb does"
                )
            self._sizes[name] = info.file_size

    def _check(self, name: str, size: int, total: int) -> None:
        if size > self.limits.file_bytes:
            raise CartridgeError(f"{self.source}: {name} is {size:,} bytes; too large")
        if total > self.limits.total_bytes:
            raise CartridgeError(
                f"{self.source}: more than {self.limits.total_bytes:,} bytes in all; too large"
            )

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Cartridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def names(self) -> list[str]:
        return list(self._sizes)

    def has(self, name: str) -> bool:
        return name in self._sizes

    def size(self, name: str) -> int:
        return self._sizes[name]

    def read(self, name: str) -> bytes:
        """The bytes of one member, never more than the size the archive declared."""
        if name not in self._sizes:
            raise CartridgeError(f"{self.source}: {name} is named but not in the cartridge")
        declared = self._sizes[name]
        if self._zip is None:
            data = (self.source / name).read_bytes()
        else:
            with self._zip.open(name) as member:
                data = member.read(declared + 1)
        if len(data) != declared:
            raise CartridgeError(f"{self.source}: {name} is not the size the archive says")
        return data

    def xml(self, name: str) -> Element:
        """One XML member, parsed without DTDs, entities or outside resources."""
        if self.size(name) > self.limits.xml_bytes:
            raise CartridgeError(f"{self.source}: {name} is too large for an XML file")
        try:
            root: Element = fromstring(
                self.read(name), forbid_dtd=True, forbid_entities=True, forbid_external=True
            )
        except DefusedXmlException as exc:
            raise CartridgeError(
                f"{self.source}: {name}: refused: {type(exc).__name__} (DTDs and entities are"
                " not read)"
            ) from None
        except SyntaxError as exc:  # xml.etree.ElementTree.ParseError
            raise CartridgeError(f"{self.source}: {name}: not well-formed XML: {exc}") from None
        return root
