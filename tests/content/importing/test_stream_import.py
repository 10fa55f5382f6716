"""Importing a TUF target straight from its source: the package is never written whole,
and nothing reaches the store before the whole target matches its signed length and hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from content.format.limits import Limits
from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.extract import ImportRefused
from content.tuf import repository, updater
from content.tuf.fingerprint import root_fingerprint
from content.tuf.target_stream import TargetStream
from content.tuf.updater import (
    FolderSource,
    PublisherClient,
    RemoteTarget,
    SourceUnavailableError,
    TargetMismatchError,
)
from server.catalog import trust
from server.catalog.library import CatalogHooks
from server.catalog.sync import content_store, sync_all
from server.core.db import Database
from server.core.settings import Settings
from server.people.audit import Actor
from tests.content.conftest import PNG, write_course
from tests.content.hostile import CASES, archive, png_holding_html, take_apart
from tests.content.tuf.helpers import client_for, export, make_package, make_repo, pinned_root

SIGNED_MISMATCH = "Package does not match its signed hash"


class Refused(Exception):
    """What the tests' ``mismatch`` callback raises."""


def blobs(store: ContentStore) -> set[str]:
    return set(store.blobs()) if store.root.is_dir() else set()


def stick_file(stick: Path, target: RemoteTarget) -> Path:
    course, _, name = target.name.rpartition("/")
    return stick / "targets" / course / f"{target.sha256}.{name}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pieces(data: bytes, size: int, pulled: list[int] | None = None) -> Iterator[bytes]:
    """``data`` in chunks of ``size`` bytes, as a fetcher yields them; counts the pulls."""
    for at in range(0, len(data), size):
        if pulled is not None:
            pulled.append(at)
        yield data[at : at + size]


def _read_all(stream: TargetStream, size: int = 64) -> bytes:
    buffer = memoryview(bytearray(size))
    out = bytearray()
    while count := stream.readinto(buffer):
        out += buffer[:count]
    return bytes(out)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return make_package(tmp_path, 1)


@pytest.fixture
def stick(tmp_path: Path, package: Path) -> Path:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [package])
    return export(repo, tmp_path / "stick")


@pytest.fixture
def client(tmp_path: Path, stick: Path) -> PublisherClient:
    client = client_for(tmp_path / "repo", tmp_path, FolderSource(stick))
    client.refresh()
    return client


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "data" / "store")


def streamed_import(client: PublisherClient, store: ContentStore) -> None:
    """What a sync does with one target."""
    [target] = client.targets()
    with client.open_target(target) as stream:
        import_package(stream, store, confirm=lambda _course: stream.verify())


def test_streamed_target_is_imported(
    client: PublisherClient, store: ContentStore, package: Path
) -> None:
    [target] = client.targets()
    with client.open_target(target) as stream:
        staged = import_package(stream, store, confirm=lambda _course: stream.verify())
        assert stream.received == target.length
    good = take_apart(package)
    assert set(staged.files) == {p for p in good.files if p.startswith("media/")}
    for path, file in staged.files.items():
        assert store.path_for(file.sha256).read_bytes() == good.files[path]
    assert list(store.staging_root.iterdir()) == []


def open_files_under(folder: Path) -> list[Path]:
    """The files under ``folder`` this process holds open (Linux: /proc/self/fd)."""
    links = (fd.readlink() for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink())
    return [link for link in links if link.is_relative_to(folder)]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_target_left_unread_does_not_stay_open(client: PublisherClient, stick: Path) -> None:
    [target] = client.targets()
    with pytest.raises(RuntimeError), client.open_target(target):
        assert open_files_under(stick) != []  # opened when offered
        raise RuntimeError("the import failed before reading a byte")
    assert open_files_under(stick) == []


def test_valid_package_with_other_bytes_is_refused_before_anything_is_stored(
    client: PublisherClient, store: ContentStore, stick: Path, tmp_path: Path
) -> None:
    """Only the whole-target hash can catch this one: the swapped package is a good,
    self-consistent package of the same length."""
    [target] = client.targets()
    other_png = PNG[:-1] + b"\x01"
    src = write_course(tmp_path / "other", files={"media/pic.png": other_png})
    swapped = build_package(src, tmp_path / "other-dist", progress=False)
    assert swapped.stat().st_size == target.length
    import_package(swapped, ContentStore(tmp_path / "elsewhere" / "store"))  # it is good
    stick_file(stick, target).write_bytes(swapped.read_bytes())
    with pytest.raises(TargetMismatchError, match=f"{SIGNED_MISMATCH}.*its bytes differ"):
        streamed_import(client, store)
    assert blobs(store) == set()
    assert list(store.staging_root.iterdir()) == []


def test_tampered_member_is_reported_as_a_signature_mismatch(
    client: PublisherClient, store: ContentStore, stick: Path, package: Path
) -> None:
    """The extractor finds a member whose hash is wrong; the real problem is that the
    target is not what was signed, and that is what the admin is told."""
    [target] = client.targets()
    blob = stick_file(stick, target)
    data = bytearray(blob.read_bytes())
    at = data.index(PNG)  # inside the data of media/pic.png
    data[at + 20] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(TargetMismatchError, match=SIGNED_MISMATCH) as refused:
        streamed_import(client, store)
    assert isinstance(refused.value.__context__, ImportRefused)  # what the extractor saw
    assert blobs(store) == set()
    assert list(store.staging_root.iterdir()) == []


def test_appended_bytes_are_refused_and_nothing_is_stored(
    client: PublisherClient, store: ContentStore, stick: Path
) -> None:
    [target] = client.targets()
    with stick_file(stick, target).open("ab") as blob:
        blob.write(b"\0" * 4096)
    with pytest.raises(TargetMismatchError, match="longer than its signed length"):
        streamed_import(client, store)
    assert blobs(store) == set()
    assert list(store.staging_root.iterdir()) == []


def test_signed_but_malformed_package_is_refused_for_what_is_wrong(
    tmp_path: Path, package: Path, store: ContentStore
) -> None:
    """A package that really is the signed one (a publisher's mistake, or a stolen key)
    is refused by the strict checks, and the message names the bad member."""
    bad = tmp_path / "bad" / package.name
    bad.parent.mkdir()
    bad.write_bytes(png_holding_html(take_apart(package)))
    repo = make_repo(tmp_path, "bad-repo")
    repository.add_packages(repo, [bad])
    client = client_for(repo, tmp_path / "bad", FolderSource(export(repo, tmp_path / "s")))
    client.refresh()
    with pytest.raises(ImportRefused, match=r"media/pic\.png"):
        streamed_import(client, store)
    assert blobs(store) == set()


def test_slow_source_is_dropped(
    client: PublisherClient, store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(range(0, 10**9, 10**6))  # a million seconds pass between two looks
    monkeypatch.setattr(updater, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    with pytest.raises(SourceUnavailableError, match="arrives too slowly"):
        streamed_import(client, store)
    assert blobs(store) == set()


def test_confirm_runs_after_every_check_and_before_anything_is_stored(
    package: Path, store: ContentStore
) -> None:
    seen: list[tuple[str, set[str]]] = []
    staged = import_package(
        package, store, confirm=lambda course: seen.append((course["id"], blobs(store)))
    )
    assert seen == [("org.example.test", set())]
    assert {f.sha256 for f in staged.files.values()} <= blobs(store)

    def refuse(_course: object) -> None:
        raise Refused("not the signed bytes")

    fresh = ContentStore(store.root.parent / "fresh")
    with pytest.raises(Refused):
        import_package(package, fresh, confirm=refuse)
    assert blobs(fresh) == set()
    assert list(fresh.staging_root.iterdir()) == []


def test_bad_manifest_is_refused_before_the_rest_is_read(
    package: Path, store: ContentStore
) -> None:
    bad = take_apart(package)
    bad.files["media/big.webm"] = b"\x1a\x45\xdf\xa3" + bytes(4 * 1024 * 1024)
    bad.manifest["course"]["id"] = "../../etc"
    data = archive(bad)
    stream = TargetStream(_pieces(data, 64 * 1024), len(data), _sha256(data), Refused)
    with stream, pytest.raises(ImportRefused, match="manifest"):
        import_package(stream, store)
    # A few chunks are read ahead; the 4 MiB after the manifest stayed on the stick.
    assert stream.received <= 8 * 64 * 1024
    assert blobs(store) == set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_package_streamed_with_a_matching_signature_is_refused(
    name: str, package: Path, store: ContentStore
) -> None:
    """The strict extractor judges a stream exactly as it judges a file, even when the
    hostile bytes are the signed ones."""
    case = CASES[name]
    data = case.build(take_apart(package))
    stream = TargetStream(_pieces(data, 4099), len(data), _sha256(data), Refused)
    with stream, pytest.raises(ImportRefused) as refused:
        import_package(
            stream, store, Limits(**case.limits), confirm=lambda _course: stream.verify()
        )
    for words in case.expect:
        assert words in str(refused.value), str(refused.value)
    assert blobs(store) == set()
    assert list(store.staging_root.iterdir()) == []


def test_stream_hands_out_the_signed_bytes_and_verifies_them() -> None:
    data = bytes(range(256)) * 40
    with TargetStream(_pieces(data, 1000), len(data), _sha256(data), Refused) as stream:
        assert _read_all(stream, 300) == data
        stream.verify()
        stream.verify()  # again: still fine
    assert stream.received == len(data)


def test_stream_cuts_off_a_source_longer_than_signed() -> None:
    data = b"a" * 3000
    pulled: list[int] = []
    with TargetStream(_pieces(data, 1000, pulled), 2500, _sha256(data[:2500]), Refused) as stream:
        buffer = memoryview(bytearray(4096))
        handed = [stream.readinto(buffer), stream.readinto(buffer)]
        with pytest.raises(Refused, match="longer than its signed length"):
            stream.readinto(buffer)
    assert handed == [1000, 1000]  # the bytes past the signed length never reach the reader
    assert pulled == [0, 1000, 2000]  # and nothing more is read from the source


def test_stream_shorter_than_signed_fails_verification() -> None:
    data = b"b" * 1000
    with TargetStream(_pieces(data, 300), 1001, _sha256(data + b"b"), Refused) as stream:
        assert _read_all(stream) == data
        with pytest.raises(Refused, match="its bytes differ"):
            stream.verify()


def test_verify_reads_and_hashes_what_the_reader_left() -> None:
    data = bytes(range(256)) * 20
    with TargetStream(_pieces(data, 512), len(data), _sha256(data), Refused) as stream:
        stream.readinto(memoryview(bytearray(100)))
        stream.verify()
        assert stream.received == len(data)
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with TargetStream(_pieces(tampered, 512), len(data), _sha256(data), Refused) as stream:
        stream.readinto(memoryview(bytearray(100)))
        with pytest.raises(Refused, match="its bytes differ"):
            stream.verify()


def test_sync_of_a_tampered_stick_records_nothing_then_a_good_stick_imports(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    stick = export(repo, tmp_path / "stick")
    admin = Actor(None, "admin:test")
    publisher = trust.add_publisher(
        database,
        admin,
        "ngo",
        "org.example",
        pinned_root(repo),
        confirmed=root_fingerprint(pinned_root(repo)).root,
    )
    trust.add_source(database, admin, publisher, "folder", str(stick))
    [blob] = (stick / "targets").rglob("*.tar")
    good = blob.read_bytes()
    blob.write_bytes(good[:-1] + b"\x01")  # in the zero padding after the end of the tar

    [report] = sync_all(database, settings, CatalogHooks(), admin)
    assert report.status == "partial" and report.imported == []
    assert SIGNED_MISMATCH in report.message and "Ask ngo for a fresh stick" in report.message
    assert database.query("SELECT * FROM course_versions") == []
    assert blobs(content_store(settings)) == set()

    blob.write_bytes(good)
    [report] = sync_all(database, settings, CatalogHooks(), admin)
    assert report.imported == ["org.example.test v1"]
    assert len(blobs(content_store(settings))) == 5  # 3 media files, 2 lessons
