"""Import staging: a (TUF-verified) package tar → verified blobs in the content store.

No database here: :func:`import_package` returns a :class:`StagedPackage` that the server
records in one transaction. Steps, each of which may refuse the package:

1. extract it into a fresh staging folder with the strict extractor (from a file, or
   straight from its TUF source: see ``PublisherClient.open_target``);
2. validate ``manifest.json`` against its schema, its own consistency and the rules a
   lesson must meet to be usable (``content.format.rules``);
3. check that the manifest and the tar list the same files, with the same sizes and
   SHA-256 digests (computed from the bytes written, see ``content.package.extract``);
4. check each file's type: extension, manifest media type and sniffed bytes must agree
   (an SVG must hold only allowed SVG, see ``content.format.svg``, and is flagged for the reviewer);
5. re-sanitize every lesson's HTML (the server never trusts a package's HTML) and flag
   for the reviewer whatever the sanitizer removed;
   A reference collection's ZIM file is opened with libzim (``content.format.zim``): a file
   it cannot read refuses the package; its metadata and a bounded sample of its articles,
   checked by the collection sanitizer, go to the reviewer;
6. flag what the text and files hold (``content.importing.flags``, ``fileflags`` and
   ``appfiles``): addresses, phone numbers, PDF actions, HTML in captions, look-alike
   file names, an interactive app's addresses outside itself;
7. only then, and once the caller's ``confirm`` passed (for a streamed package: its whole
   SHA-256 and its course against the signed target's), move the blobs into the store
   (deduplicated).

On a refusal the staging folder is removed and the store is unchanged: nothing is moved
in before every check passed. A crash during step 7 can leave some verified blobs that
no database row refers to; they are harmless and ``ContentStore.gc`` removes them.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from content.errors import ContentError, MediaTypeError
from content.format.apps import APP_ROOT
from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.mediatypes import check_media, file_type_for, read_head, sniff_family
from content.format.sanitize import SanitizeResult, sanitize_html
from content.format.zim import ZIM_MEDIA_TYPE, Collection, ZimInfo, read_info
from content.format.zimhtml import FLAG_KINDS, clean_article
from content.importing.appfiles import (
    AppFileNotes,
    app_flags,
    app_roots,
    check_app_file,
    check_app_limits,
    check_h5p,
    check_scorm,
)
from content.importing.fileflags import caption_flags, confusable_flags, pdf_flags
from content.importing.flags import Flag, TextPlace, file_lessons, manifest_texts, text_flags
from content.importing.store import ContentStore
from content.package.extract import ExtractedPackage, ImportRefused, extract_package, shown
from content.package.manifest import LESSON_MEDIA_TYPE, MANIFEST_NAME
from content.package.reader import read_manifest
from content.package.tarstream import Readable

__all__ = [
    "ImportRefused",
    "StagedFile",
    "StagedLesson",
    "StagedPackage",
    "import_package",
]

# How many articles of a collection the import reads for the reviewer's flags.
SAMPLE_ARTICLES = 200


@dataclass(frozen=True)
class StagedFile:
    """A package file (media, captions …) now in the store: a blob of its own, or the
    ``size`` bytes at ``pack_offset`` of the pack blob ``pack_sha256`` (a small app file,
    see ``content.package.packfile``)."""

    path: str
    sha256: str
    size: int
    media_type: str
    pack_sha256: str | None = None
    pack_offset: int | None = None


@dataclass(frozen=True)
class StagedLesson:
    """One lesson: ``data`` is its manifest entry without ``html`` (it keeps ``sections``)."""

    key: str
    position: int  # 0-based, the order of the manifest's lesson list
    title: str
    kind: str
    html_sha256: str | None  # the *sanitized* HTML blob in the store
    data: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class StagedPackage:
    """Everything the server needs to record a course version; every blob is stored."""

    course: dict[str, Any]
    lessons: list[StagedLesson]
    files: dict[str, StagedFile]
    review_flags: list[dict[str, Any]]
    manifest: dict[str, Any]
    # A reference collection: the ZIM's own metadata, and how many articles of a bounded
    # sample held each kind of hostile part (``content.format.zimhtml.FLAG_KINDS``).
    collection: ZimInfo | None = None
    collection_flags: dict[str, int] = field(default_factory=dict)

    @property
    def course_id(self) -> str:
        """The course id from the manifest."""
        return str(self.course["id"])

    @property
    def version(self) -> int:
        """The course version from the manifest."""
        return int(self.course["version"])


def import_package(
    package: Path | Readable,
    store: ContentStore,
    limits: Limits = DEFAULT_LIMITS,
    *,
    confirm: Callable[[Mapping[str, Any]], None] | None = None,
) -> StagedPackage:
    """Verify ``package`` (a file, or a stream read once) and move its blobs into ``store``.

    Raises :class:`ImportRefused` (a ``PackageError``) with a message naming the problem
    and the member. See the module docstring for the steps and the crash behaviour.
    ``confirm`` is called with the manifest's ``course`` after every check passed and
    before anything moves into the store; whatever it raises refuses the package. A sync
    checks there that a package streamed from its source is the target that was signed.
    """
    store.ensure()
    with store.staging() as folder:
        tree = folder / "package"
        tree.mkdir()
        notes = AppFileNotes()
        extracted, manifest = _extract_and_read_manifest(
            package, tree, folder / "apps.pack", limits, notes, store
        )
        listed = _check_files(extracted, manifest)
        check_app_limits(manifest, limits)
        check_scorm(extracted, manifest)
        check_h5p(extracted, manifest)
        flags = [_package_flag(flag) for flag in manifest["review_flags"]]
        files = _check_types(extracted, listed, flags, app_roots(manifest), notes)
        sanitized = folder / "sanitized"
        sanitized.mkdir()
        lessons = _sanitize_lessons(extracted, manifest, sanitized, limits, flags)
        flags += _content_flags(extracted, manifest, files, notes)
        collection, sample = _check_collection(extracted, manifest, files)
        if confirm is not None:
            confirm(manifest["course"])
        store.adopt_all(_moves(extracted, files, lessons, sanitized))
    return StagedPackage(
        dict(manifest["course"]), lessons, files, flags, manifest, collection, sample
    )


def _check_collection(
    extracted: ExtractedPackage, manifest: dict[str, Any], files: dict[str, StagedFile]
) -> tuple[ZimInfo | None, dict[str, int]]:
    """The collection's ZIM must be the one file of its kind, and open with libzim."""
    named = (manifest["course"].get("collection") or {}).get("zim")
    for path, file in files.items():
        if file.media_type == ZIM_MEDIA_TYPE and path != named:
            raise ImportRefused(
                f"'{shown(path)}': a ZIM file the course does not name as its collection", path
            )
    if named is None:
        return None, {}
    if named not in files or files[named].media_type != ZIM_MEDIA_TYPE:
        raise ImportRefused(f"'{shown(named)}': the collection's ZIM file is missing", named)
    local = extracted.local_path(named)
    try:
        info = read_info(local, named)
        sample = _sample_flags(Collection(local))
    except ContentError as exc:
        raise ImportRefused(f"'{shown(named)}': {exc.message}", named) from exc
    return info, sample


def _sample_flags(collection: Collection) -> dict[str, int]:
    """How many of the first articles hold each kind of hostile part."""
    counts = dict.fromkeys(FLAG_KINDS, 0)
    counts["sampled"] = 0
    for entry in collection.articles(SAMPLE_ARTICLES):
        data = collection.content(entry.path, 4 * 1024 * 1024)
        if data is None:
            continue
        counts["sampled"] += 1
        for kind in clean_article(data, entry.path, lambda p: "").found:
            counts[kind] += 1
    return counts


def _package_flag(flag: Mapping[str, Any]) -> dict[str, Any]:
    """A flag the package's build wrote, placed at its lesson (the build says no more)."""
    where = f"lessons/{flag['lesson']}.html" if flag["lesson"] else ""
    return {**flag, "where": where, "source": "package"}


def _content_flags(
    extracted: ExtractedPackage,
    manifest: dict[str, Any],
    files: dict[str, StagedFile],
    notes: AppFileNotes,
) -> list[Flag]:
    """Flags for what the lessons' text, the captions and the PDFs say and do."""
    flags: list[Flag] = []
    places: list[TextPlace] = list(manifest_texts(manifest))
    owners = file_lessons(manifest)
    for path, file in sorted(files.items()):
        if file.media_type == "application/pdf":
            found, texts = pdf_flags(extracted.local_path(path), path, owners.get(path, ""))
        elif file.media_type == "text/vtt":
            found, texts = caption_flags(extracted.local_path(path), path, owners.get(path, ""))
        else:
            continue
        flags += found
        places += texts
    flags += text_flags(places)
    flags += confusable_flags(extracted.files)
    flags += app_flags(extracted, manifest, notes)
    return flags


def _moves(
    extracted: ExtractedPackage,
    files: dict[str, StagedFile],
    lessons: list[StagedLesson],
    sanitized: Path,
) -> list[tuple[str | Path, str]]:
    """(staged file, digest) of every blob to store: media, the pack of the apps' small
    files, and each lesson's clean HTML."""
    moves: list[tuple[str | Path, str]] = [
        (extracted.local_name(f.path), f.sha256) for f in files.values() if f.pack_sha256 is None
    ]
    if extracted.pack is not None:
        moves.append((extracted.pack.path, extracted.pack.sha256))
    extracted_html = {
        file.sha256: path for path, file in extracted.files.items() if file.packed is None
    }
    for sha256 in {str(lesson.html_sha256) for lesson in lessons}:
        # Unchanged by sanitizing (the usual case): store the extracted file itself.
        path = extracted_html.get(sha256)
        moves.append((extracted.local_path(path) if path else sanitized / f"{sha256}.html", sha256))
    return moves


def _extract_and_read_manifest(
    package: Path | Readable,
    tree: Path,
    pack: Path,
    limits: Limits,
    notes: AppFileNotes,
    store: ContentStore,
) -> tuple[ExtractedPackage, dict[str, Any]]:
    """Extract, validating the manifest as soon as it is read, before the files are.

    The apps' small files go into one pack file (``pack``), which becomes one blob: a
    SCORM package's thousands of scripts and pictures cost one file, not thousands.

    Each app file's type and the addresses it reaches are noted in ``notes`` meanwhile,
    from the bytes in hand (see ``content.importing.appfiles``). A file whose blob (by
    the digest the manifest lists) the store has already is read and hashed but not
    written to the staging folder: if its bytes are other than the manifest says, step 3
    refuses the package as ever; else the checks that read files read that blob (the
    bytes learners get), and it does not move.

    So a bad manifest is refused before anything else is written. The check takes a few
    milliseconds (a compiled validator, see ``content.format.validate``); on another thread it
    would gain nothing, and Python code there holds the GIL while the extraction's
    threads return from their system calls.
    """
    manifests: list[dict[str, Any]] = []
    digests: dict[str, str] = {}

    def on_manifest(data: bytes) -> None:
        manifests.append(_manifest(data, limits))
        digests.update((entry["path"], entry["sha256"]) for entry in manifests[0]["files"])

    def stored(path: str) -> str | None:
        listed = digests.get(path)
        return None if listed is None else store.stored_path(listed)

    extracted = extract_package(
        package,
        tree,
        limits,
        # The store fsyncs each blob before renaming it in; fsyncing the staged files as
        # well would make the disk work twice, and on ext4 every file created meanwhile
        # waits for the journal commit each fsync forces.
        fsync=False,
        on_manifest=on_manifest,
        inspect=notes.inspect,
        stored=stored,
        pack=pack,
    )
    return extracted, manifests[0]


def _manifest(data: bytes, limits: Limits) -> dict[str, Any]:
    try:
        return read_manifest(io.BytesIO(data), len(data), limits)
    except ContentError as exc:
        raise ImportRefused(exc.message, MANIFEST_NAME) from exc


def _check_files(extracted: ExtractedPackage, manifest: dict[str, Any]) -> dict[str, Any]:
    """Same paths, sizes and digests in the manifest and the tar; returns entries by path."""
    listed = {entry["path"]: entry for entry in manifest["files"]}
    missing = sorted(set(listed) - set(extracted.files))
    if missing:
        raise ImportRefused(
            f"'{shown(missing[0])}' is listed in the manifest but missing", missing[0]
        )
    extra = sorted(set(extracted.files) - set(listed))
    if extra:
        raise ImportRefused(
            f"'{shown(extra[0])}' is in the package but not in the manifest", extra[0]
        )
    for path, entry in sorted(listed.items()):
        found = extracted.files[path]
        if found.size != entry["size"]:
            raise ImportRefused(
                f"'{shown(path)}' is {found.size:,} bytes; the manifest says {entry['size']:,}",
                path,
            )
        if found.sha256 != entry["sha256"]:
            raise ImportRefused(
                f"'{shown(path)}' does not match its SHA-256 in the manifest "
                "(the package was damaged or altered)",
                path,
            )
    return listed


def _check_types(
    extracted: ExtractedPackage,
    listed: dict[str, Any],
    flags: list[dict[str, Any]],
    apps: dict[str, str],
    notes: AppFileNotes,
) -> dict[str, StagedFile]:
    """Check every file's type; returns the media and app files (lesson HTML is handled
    apart)."""
    files = {}
    for path, entry in sorted(listed.items()):
        declared = entry["media_type"]
        if path.startswith("lessons/"):
            if declared != LESSON_MEDIA_TYPE or not path.endswith(".html"):
                raise ImportRefused(
                    f"'{shown(path)}': only lesson HTML may be under lessons/", path
                )
            continue
        if path.startswith(APP_ROOT + "/"):
            media_type = check_app_file(extracted, path, declared, apps, notes)
        else:
            media_type = _check_media_file(extracted, path, declared, flags)
        offset = extracted.files[path].packed
        pack = extracted.pack.sha256 if offset is not None and extracted.pack else None
        files[path] = StagedFile(path, entry["sha256"], entry["size"], media_type, pack, offset)
    return files


def _check_media_file(
    extracted: ExtractedPackage, path: str, declared: str, flags: list[dict[str, Any]]
) -> str:
    local = extracted.local_path(path)
    try:
        file_type = check_media(local, path)
    except MediaTypeError as exc:
        raise ImportRefused(f"'{shown(path)}': {exc.message}", path) from exc
    if declared != file_type.media_type:
        raise ImportRefused(
            f"'{shown(path)}': the manifest says {declared} but the file is {file_type.media_type}",
            path,
        )
    if file_type.media_type == "image/svg+xml":
        # An SVG is a document a browser runs; the check above is strict, but a person
        # should still look at what the drawing shows before learners see it.
        flags.append(
            {
                "kind": "svg",
                "lesson": "",
                "where": path,
                "detail": path,
                "source": "import",
            }
        )
    family = sniff_family(read_head(local))
    expected = file_type_for(path)
    # Allowed, but not the usual flavour: an .m4a holding a plain MP4 container (the only
    # extension with two families; min() picks "m4a" from {"m4a", "mp4"}).
    if expected is not None and family != min(expected.families):
        flags.append(
            {
                "kind": "type-mismatch",
                "lesson": "",
                "where": path,
                "detail": f"{path}: {file_type.media_type} file whose content is {family}",
                "source": "import",
            }
        )
    return file_type.media_type


def _sanitize_lessons(
    extracted: ExtractedPackage,
    manifest: dict[str, Any],
    out: Path,
    limits: Limits,
    flags: list[dict[str, Any]],
) -> list[StagedLesson]:
    """Re-sanitize each lesson's HTML into ``out/<key>.html``; flag what was removed."""
    lessons = []
    html_paths = {entry["html"] for entry in manifest["lessons"]}
    unused = sorted(p for p in extracted.files if p.startswith("lessons/") and p not in html_paths)
    if unused:
        raise ImportRefused(f"'{shown(unused[0])}' is not the HTML of any lesson", unused[0])
    for position, entry in enumerate(manifest["lessons"]):
        clean = _sanitized(extracted, entry["html"], limits)
        if clean.removed:
            flags.append(
                {
                    "kind": "sanitized",
                    "lesson": entry["key"],
                    "where": entry["html"],
                    "detail": "removed at import: " + ", ".join(clean.removed),
                    "source": "import",
                }
            )
        data = clean.html.encode("utf-8")
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 != extracted.files[entry["html"]].sha256:
            (out / f"{sha256}.html").write_bytes(data)
        lessons.append(
            StagedLesson(
                key=entry["key"],
                position=position,
                title=entry["title"],
                kind=entry["kind"],
                html_sha256=sha256,
                data={k: v for k, v in entry.items() if k != "html"},
            )
        )
    return lessons


def _sanitized(extracted: ExtractedPackage, path: str, limits: Limits) -> SanitizeResult:
    size = extracted.files[path].size
    if size > limits.max_lesson_bytes:
        raise ImportRefused(
            f"'{shown(path)}' is {size:,} bytes; a lesson may have at most "
            f"{limits.max_lesson_bytes:,}",
            path,
        )
    try:
        text = extracted.local_path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"'{shown(path)}' is not valid UTF-8", path) from exc
    return sanitize_html(text)
