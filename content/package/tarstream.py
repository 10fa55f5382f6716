"""A strict reader of POSIX (pax) tar headers, one member at a time, from a stream.

We parse headers ourselves rather than with :mod:`tarfile` because tarfile is lenient in
ways a hostile package can use: it reads a whole pax or GNU long-name header into memory
whatever its declared size, applies pax *global* headers to later members, treats a broken
header in the middle of an archive as a normal end, and understands sparse files. Here
every header is checked (checksum, magic, octal fields), only regular files, folders and
small per-member pax headers are understood, and anything else is refused by name.

The data of each member is left in the stream for the caller to copy (see
:meth:`TarStream.copy_data`), so memory use does not depend on member sizes.
"""

from __future__ import annotations

import mmap
import zlib
from collections.abc import Callable
from typing import NamedTuple, Protocol

BLOCK = 512
_END_BLOCK = bytes(BLOCK)
MAX_PAX_BYTES = 64 * 1024  # our packages need a path and maybe a size; 64 KiB is plenty
_POSIX_MAGIC = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"
_REFUSED_TYPES = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO (named pipe)",
    b"7": "a contiguous file",
    b"g": "a pax global header",
    b"L": "a GNU long-name header",
    b"K": "a GNU long-link header",
    b"S": "a GNU sparse file",
    b"V": "a GNU volume header",
    b"M": "a GNU multi-volume member",
    b"D": "a GNU dumpdir",
}
# Keys a pax header may carry. Others (GNU.sparse.*, linkpath, hdrcharset, vendor keys)
# change how a member is read or named in ways a package never needs.
_PAX_KEYS = frozenset({"path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"})


class TarFormatError(Exception):
    """The archive is not one we accept; ``member`` is the name involved, if known."""

    def __init__(self, message: str, member: str | None = None):
        super().__init__(message)
        self.message = message
        self.member = member


class Readable(Protocol):
    """What the reader needs from a binary stream."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class TarMember(NamedTuple):
    """One header: a regular file or a folder, with its final (pax) name and size."""

    name: str
    size: int
    is_dir: bool


class TarStream:
    """Iterate over the members of an uncompressed tar, refusing whatever is not plain.

    Call :meth:`next_member`, then :meth:`copy_data` exactly once for each member.
    """

    def __init__(self, stream: Readable, chunk: int = 1024 * 1024):
        self._stream = stream
        # Anonymous memory starts on a page boundary, so whole chunks can be written with
        # O_DIRECT (see content.package.stagewriter), which needs aligned addresses.
        self._buffer = mmap.mmap(-1, chunk)
        self._view = memoryview(self._buffer)
        self.offset = 0
        self._pending = False  # the current member's data has not been read yet
        self.last_name: str | None = None  # names the culprit when the next header is bad

    def _read_exact(self, size: int, what: str, member: str | None) -> bytes:
        data = bytearray(size)
        view = memoryview(data)
        got = 0
        while got < size:
            count = self._stream.readinto(view[got:])
            if not count:
                raise TarFormatError(f"the package ends in the middle of {what}", member)
            got += count
        self.offset += size
        return bytes(data)

    def next_member(self) -> TarMember | None:
        """Read the next header (and any pax header before it); ``None`` at the end marker."""
        if self._pending:
            raise RuntimeError("copy_data() was not called for the previous member")
        pax: dict[str, str] = {}
        while True:
            block = self._read_exact(BLOCK, "a header", None)
            if block == _END_BLOCK:
                if pax:
                    raise TarFormatError("a pax header is followed by the end of the archive")
                return None
            header = _parse_header(block, self.offset - BLOCK, self.last_name)
            if header.type != b"x":
                member = _member(header, pax)
                self.last_name = member.name
                self._pending = True
                return member
            if pax:
                raise TarFormatError("two pax headers in a row", header.name)
            pax = self._read_pax(header)

    def _read_pax(self, header: _Header) -> dict[str, str]:
        if header.size > MAX_PAX_BYTES:
            raise TarFormatError(
                f"a pax header of {header.size:,} bytes (the limit is {MAX_PAX_BYTES:,})",
                header.name,
            )
        data = self._read_exact(_padded(header.size), "a pax header", header.name)
        return _parse_pax(data[: header.size], header.name)

    def copy_data(self, member: TarMember, sink: Callable[[memoryview], None]) -> None:
        """Pass the member's data to ``sink`` in chunks, then skip the block padding.

        Every chunk but the last is a whole buffer (1 MiB, page-aligned): the k-th starts
        at byte k MiB of the member, whatever sizes the stream hands out. Raises
        :class:`TarFormatError` when the stream ends before the declared size.
        """
        self._pending = False
        left = member.size
        while left:
            want = min(left, len(self._buffer))
            got = 0
            while got < want:
                count = self._stream.readinto(self._view[got:want])
                if not count:
                    raise TarFormatError(
                        f"'{member.name}' is truncated: its header declares {member.size:,} "
                        f"bytes but the package ends after {member.size - left + got:,}",
                        member.name,
                    )
                got += count
            sink(self._view[:want])
            left -= want
            self.offset += want
        padding = _padded(member.size) - member.size
        if padding:
            self._read_exact(padding, f"the padding of '{member.name}'", member.name)

    def check_end(self) -> None:
        """After the end marker only zero bytes may follow (the record padding)."""
        while count := self._stream.readinto(self._view):
            if any(self._view[:count]):
                raise TarFormatError("there is data after the end of the archive")
            self.offset += count


class _Header(NamedTuple):
    name: str
    size: int
    type: bytes


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _parse_header(block: bytes, offset: int, previous: str | None) -> _Header:
    if not _checksum_ok(block):
        if previous is None:
            raise TarFormatError(f"the header at byte {offset:,} is damaged (bad checksum)")
        raise TarFormatError(
            f"the header after '{previous}' (at byte {offset:,}) is damaged (bad checksum); "
            f"the size declared for '{previous}' is wrong or the package is corrupt",
            previous,
        )
    magic = block[257:265]
    if magic == _GNU_MAGIC:
        raise TarFormatError("the package uses the GNU tar format; packages are POSIX (pax) tar")
    if magic != _POSIX_MAGIC:
        raise TarFormatError(f"the header at byte {offset:,} is not a POSIX tar header")
    name = _text(block[345:500]) + "/" + _text(block[0:100]) if block[345] else _text(block[:100])
    kind = block[156:157]
    if kind in _REFUSED_TYPES:
        raise TarFormatError(f"'{name}' is {_REFUSED_TYPES[kind]}; only files are allowed", name)
    if kind not in (b"0", b"\x00", b"5", b"x"):
        raise TarFormatError(f"'{name}' has an unknown member type {kind!r}", name)
    return _Header(name, _octal(block[124:136], name), kind)


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = int(block[148:156].rstrip(b"\x00 ").decode("ascii") or "x", 8)
    except ValueError:
        return False
    # The sum of the header's bytes, the checksum field's 8 counted as spaces.
    return stored == _byte_sum(block[:148]) + 8 * 0x20 + _byte_sum(block[156:BLOCK])


def _byte_sum(data: bytes) -> int:
    """The sum of ``data``'s bytes (at most 512), in C rather than with ``sum()``, which
    costs three times as much for each of a package's thousands of headers: Adler-32's low
    half is 1 plus the bytes' sum modulo 65,521, and 256 bytes sum to at most 65,280, so
    for each piece of up to 256 bytes it is exact."""
    if len(data) > BLOCK:
        raise ValueError(f"_byte_sum() sums at most {BLOCK} bytes, not {len(data):,}")
    first = (zlib.adler32(data[:256]) & 0xFFFF) - 1
    return first if len(data) <= 256 else first + (zlib.adler32(data[256:]) & 0xFFFF) - 1


def _text(field: bytes) -> str:
    raw = field.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TarFormatError(
            f"a member name is not valid UTF-8: {raw[:100]!r}", raw.decode("latin-1")
        ) from None


def _octal(field: bytes, name: str) -> int:
    text = field.split(b"\x00", 1)[0].strip(b" ")
    if not text or text.translate(None, b"01234567"):  # empty, or not only octal digits
        raise TarFormatError(f"'{name}' has a size field that is not an octal number", name)
    return int(text, 8)


def _parse_pax(data: bytes, name: str) -> dict[str, str]:
    records: dict[str, str] = {}
    at = 0
    while at < len(data):
        key, value, at = _pax_record(data, at, name)
        if key not in _PAX_KEYS:
            raise TarFormatError(f"a pax header carries '{key[:40]}', which is not allowed", name)
        if key in records:
            raise TarFormatError(f"a pax header repeats '{key}'", name)
        records[key] = value
    return records


def _pax_record(data: bytes, at: int, name: str) -> tuple[str, str, int]:
    # A record is "<length> <key>=<value>\n", where <length> counts the whole record.
    space = data.find(b" ", at, at + 20)
    length_text = data[at:space] if space > at else b""
    if not length_text.isdigit():
        raise TarFormatError("a pax header is malformed", name)
    end = at + int(length_text)
    if end > len(data) or end <= space + 1 or data[end - 1 : end] != b"\n":
        raise TarFormatError("a pax header is malformed", name)
    key, sep, value = data[space + 1 : end - 1].partition(b"=")
    if not sep:
        raise TarFormatError("a pax header is malformed", name)
    try:
        return key.decode("utf-8"), value.decode("utf-8"), end
    except UnicodeDecodeError:
        raise TarFormatError("a pax header is not valid UTF-8", name) from None


def _member(header: _Header, pax: dict[str, str]) -> TarMember:
    name = pax.get("path", header.name)
    size = header.size
    if "size" in pax:
        if not pax["size"].isdigit() or len(pax["size"]) > 20:
            raise TarFormatError(f"'{name}' has a pax size that is not a number", name)
        size = int(pax["size"])
    is_dir = header.type == b"5"
    if is_dir and size:
        raise TarFormatError(f"folder '{name}' declares {size:,} bytes of data", name)
    return TarMember(name, size, is_dir)
