"""Media type sniffing from magic bytes.

The extension says what an author *meant*; the first bytes say what a file *is*. A file is
accepted only when both agree and the type is on the allow-list. Executables, archives,
scripts and HTML are refused wherever they are, because a browser or a curious admin might
run or open them. Only the first few KiB are read, except for SVG, which is parsed in a
stream because an SVG is a document that can carry script (see ``content.format.svg``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from content.errors import MediaTypeError
from content.format.svg import check_svg

HEAD_BYTES = 4096


@dataclass(frozen=True)
class FileType:
    """What an extension may contain and the media type recorded in the manifest."""

    families: frozenset[str]
    media_type: str
    role: str  # image | video | audio | captions | document | collection


def _t(families: str, media_type: str, role: str) -> FileType:
    return FileType(frozenset(families.split()), media_type, role)


EXTENSIONS: dict[str, FileType] = {
    ".png": _t("png", "image/png", "image"),
    ".jpg": _t("jpeg", "image/jpeg", "image"),
    ".jpeg": _t("jpeg", "image/jpeg", "image"),
    ".gif": _t("gif", "image/gif", "image"),
    ".webp": _t("webp", "image/webp", "image"),
    ".svg": _t("svg", "image/svg+xml", "image"),
    ".webm": _t("webm", "video/webm", "video"),
    ".mp4": _t("mp4", "video/mp4", "video"),
    ".m4a": _t("m4a mp4", "audio/mp4", "audio"),
    ".ogg": _t("ogg", "audio/ogg", "audio"),
    ".oga": _t("ogg", "audio/ogg", "audio"),
    ".opus": _t("ogg", "audio/ogg", "audio"),
    ".mp3": _t("mp3", "audio/mpeg", "audio"),
    ".wav": _t("wav", "audio/wav", "audio"),
    ".vtt": _t("vtt", "text/vtt", "captions"),
    ".pdf": _t("pdf", "application/pdf", "document"),
    # A reference collection (``content.format.zim``): named by course.yaml's
    # ``collection``, never by a lesson.
    ".zim": _t("zim", "application/x-zim", "collection"),
}

FAMILY_NAMES = {
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "svg": "an SVG image",
    "webm": "a WebM video",
    "matroska": "a Matroska (.mkv) video",
    "mp4": "an MP4 video",
    "m4a": "an M4A audio file",
    "quicktime": "a QuickTime video",
    "ogg": "an Ogg audio file",
    "mp3": "an MP3 audio file",
    "wav": "a WAV audio file",
    "vtt": "WebVTT captions",
    "pdf": "a PDF document",
    "zim": "a ZIM file (a reference collection)",
}

# Checked before anything else: these are refused whatever the extension says.
_DISALLOWED_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java executable"),
    (b"\x00asm", "a WebAssembly module"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"PK\x07\x08", "a zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"#!", "a script (starts with #!)"),
)
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<meta",
    b"<title",
    b"<object",
    b"<embed",
    b"<form",
    b"<div",
    b"<a ",
)
_ANY_DISALLOWED_PREFIX = tuple(prefix for prefix, _ in _DISALLOWED_PREFIXES)
_HTML_START_BYTES = max(map(len, _HTML_STARTS))


def disallowed_kind(head: bytes) -> str | None:
    """Describe a forbidden kind of file (executable, archive, script, HTML) or ``None``."""
    if head.startswith(_ANY_DISALLOWED_PREFIX):
        for prefix, name in _DISALLOWED_PREFIXES:
            if head.startswith(prefix):
                return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "a tar archive"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:_HTML_START_BYTES].lower()
    if text.startswith(_HTML_STARTS):
        return "an HTML document"
    return None


def sniff_family(head: bytes) -> str | None:
    """Name the allowed family the bytes belong to (``png``, ``mp4`` …) or ``None``."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"WAVE"):
        return "webp" if head[8:12] == b"WEBP" else "wav"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml_family(head)
    if head[4:8] == b"ftyp":
        return _ftyp_family(head[8:12])
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return "mp3"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"ZIM\x04"):
        return "zim"
    text = head.removeprefix(b"\xef\xbb\xbf")
    if text.startswith(b"WEBVTT") and text[6:7] in (b"", b" ", b"\t", b"\n", b"\r"):
        return "vtt"
    if text.lstrip().startswith((b"<?xml", b"<svg", b"<!--")):
        return "svg"
    return None


def _ebml_family(head: bytes) -> str:
    # The EBML DocType element (0x4282) says which Matroska flavour this is.
    at = head.find(b"\x42\x82", 4, 64)
    doctype = head[at + 3 : at + 11] if at >= 0 else b""
    return "webm" if doctype.startswith(b"webm") else "matroska"


def _ftyp_family(brand: bytes) -> str:
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "m4a"
    if brand == b"qt  ":
        return "quicktime"
    return "mp4"


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # 11 sync bits, then a layer that is not "reserved" (00 would be AAC ADTS).
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 3 != 0


def file_type_for(path: str) -> FileType | None:
    """The allowed :class:`FileType` for a file name's extension, or ``None``."""
    return EXTENSIONS.get(suffix_of(path))


def suffix_of(name: str) -> str:
    """The lower-case extension of a path's last part, as ``PurePosixPath(name).suffix``
    finds it (``""`` for ``.hidden`` or ``name.``), without making a path object: an
    import asks this several times for each of thousands of files."""
    leaf = name.rpartition("/")[2]
    if leaf in ("", ".", ".."):
        return PurePosixPath(name).suffix.lower()  # not a file name; let pathlib decide
    at = leaf.rfind(".")
    return leaf[at:].lower() if 0 < at < len(leaf) - 1 else ""


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """Read the first ``size`` bytes of a file (never the whole file)."""
    with path.open("rb") as stream:
        return stream.read(size)


def check_media(path: Path, name: str) -> FileType:
    """Check that the file at ``path`` is what its extension says; return its type.

    ``name`` is the course path used in messages. Raises :class:`MediaTypeError` with a
    message that says what to change.
    """
    file_type = file_type_for(name)
    head = read_head(path)
    bad = disallowed_kind(head)
    if bad:
        raise MediaTypeError(
            f"this file is {bad}; such files are not allowed in a course — remove it", name
        )
    if file_type is None:
        allowed = " ".join(sorted(EXTENSIONS))
        raise MediaTypeError(
            f"files ending in '{Path(name).suffix or name}' are not allowed; "
            f"allowed media: {allowed}",
            name,
        )
    family = sniff_family(head)
    if family not in file_type.families:
        found = FAMILY_NAMES.get(family or "", "not a recognised media file")
        expected = " or ".join(FAMILY_NAMES[f] for f in sorted(file_type.families))
        raise MediaTypeError(
            f"the name says {expected} but the content is {found}; "
            "export the file again in the right format",
            name,
        )
    if family == "svg":
        check_svg(path, name)
    return file_type
