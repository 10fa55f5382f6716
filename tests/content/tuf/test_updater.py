"""Facility client: refresh, list and download from a folder and a loopback HTTP mirror,
and every hostile case refused with a message an admin can act on."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from content.tuf import metadata, repository
from content.tuf.updater import (
    FolderSource,
    HostNotAllowedError,
    MetadataExpiredError,
    MirrorSource,
    PublisherClient,
    RemoteTarget,
    ReplayError,
    SourceUnavailableError,
    SyncBusyError,
    SyncError,
    TargetMismatchError,
    TargetTooLargeError,
    UntrustedSignatureError,
)
from tests.content.tuf.helpers import NGO, client_for, export, make_package, make_repo, serve


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one published package (org.example.test v1)."""
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    return repo


def stick_file(stick: Path, target: RemoteTarget) -> Path:
    course, _, name = target.name.rpartition("/")
    return stick / "targets" / course / f"{target.sha256}.{name}"


def test_folder_refresh_targets_download(repo: Path, tmp_path: Path) -> None:
    stick = export(repo, tmp_path / "stick")
    client = client_for(repo, tmp_path, FolderSource(stick))
    client.refresh()
    [target] = client.targets()
    assert (target.course_id, target.version, target.retracted) == ("org.example.test", 1, False)
    path = client.download(target, tmp_path / "incoming")
    assert path.name == "org.example.test-v1.tar"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == target.sha256
    assert path.stat().st_size == target.length
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no .part left
    issued = client.newest_metadata_time()
    assert issued is not None and abs(datetime.now(UTC) - issued) < timedelta(minutes=5)


def test_http_mirror_refresh_and_download(repo: Path, tmp_path: Path) -> None:
    stick = export(repo, tmp_path / "mirror")
    with serve(stick) as url:
        source = MirrorSource(url, frozenset({"127.0.0.1"}))
        with client_for(repo, tmp_path, source) as client:
            client.refresh()
            [target] = client.targets()
            path = client.download(target, tmp_path / "incoming")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == target.sha256


def test_mirror_redirect_to_other_host_refused(repo: Path, tmp_path: Path) -> None:
    with serve(None, redirect=True) as url:
        source = MirrorSource(url, frozenset({"127.0.0.1"}))
        with (
            client_for(repo, tmp_path, source) as client,
            pytest.raises(HostNotAllowedError, match=r"evil\.invalid, which is not an allowed"),
        ):
            client.refresh()


def test_mirror_address_outside_allowed_hosts_refused() -> None:
    with pytest.raises(ValueError, match="not in allowed_hosts"):
        MirrorSource("http://10.1.2.3/ngo/", frozenset({"127.0.0.1"}))
    with pytest.raises(ValueError, match="not an http"):
        MirrorSource("file:///etc/", frozenset({"127.0.0.1"}))


def test_tampered_target_refused(repo: Path, tmp_path: Path) -> None:
    stick = export(repo, tmp_path / "stick")
    client = client_for(repo, tmp_path, FolderSource(stick))
    client.refresh()
    [target] = client.targets()
    blob = stick_file(stick, target)
    data = bytearray(blob.read_bytes())
    data[600] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(TargetMismatchError, match="Package does not match its signed hash"):
        client.download(target, tmp_path / "incoming")
    assert not any((tmp_path / "incoming").iterdir())


def test_appended_bytes_refused(repo: Path, tmp_path: Path) -> None:
    stick = export(repo, tmp_path / "stick")
    client = client_for(repo, tmp_path, FolderSource(stick))
    client.refresh()
    [target] = client.targets()
    with stick_file(stick, target).open("ab") as blob:
        blob.write(b"\0" * 512)
    with pytest.raises(TargetMismatchError, match="longer than its signed length"):
        client.download(target, tmp_path / "incoming")
    assert not any((tmp_path / "incoming").iterdir())


def test_target_above_size_limit_refused(repo: Path, tmp_path: Path) -> None:
    client = client_for(
        repo, tmp_path, FolderSource(export(repo, tmp_path / "s")), max_target_bytes=100
    )
    client.refresh()
    [target] = client.targets()
    with pytest.raises(TargetTooLargeError, match="above this facility's limit of 100 bytes"):
        client.download(target, tmp_path / "incoming")


def test_replayed_old_stick_refused(repo: Path, tmp_path: Path) -> None:
    old = export(repo, tmp_path / "old-stick")
    repository.add_packages(repo, [make_package(tmp_path, 2)])
    new = export(repo, tmp_path / "new-stick")
    client = client_for(repo, tmp_path, FolderSource(new))
    client.refresh()
    assert [t.version for t in client.targets()] == [1, 2]
    replay = client_for(repo, tmp_path, FolderSource(old))
    with pytest.raises(ReplayError, match=r"This stick is older than one already seen \(replay\)"):
        replay.refresh()
    with pytest.raises(SyncError, match="refresh first"):
        replay.targets()
    # The trusted metadata is untouched: the newer stick still verifies.
    client = client_for(repo, tmp_path, FolderSource(new))
    client.refresh()
    assert [t.version for t in client.targets()] == [1, 2]


def test_expired_timestamp_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_at = metadata.utcnow() - timedelta(days=100)
    monkeypatch.setattr(metadata, "utcnow", lambda: signed_at)
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    monkeypatch.undo()
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    expired = (signed_at + timedelta(days=60)).strftime("%Y-%m-%d")
    with pytest.raises(MetadataExpiredError) as caught:
        client.refresh()
    assert str(caught.value) == (
        f"The timestamp on this stick expired on {expired}. Ask {NGO} for a fresh stick."
    )
    repository.refresh(repo)  # the NGO's fix: a fresh stick
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.refresh()
    assert len(client.targets()) == 1


def test_other_publishers_key_refused(repo: Path, tmp_path: Path) -> None:
    impostor = make_repo(tmp_path, "impostor")
    repository.add_packages(impostor, [make_package(tmp_path / "i", 5)])
    client = client_for(repo, tmp_path, FolderSource(export(impostor, tmp_path / "stick")))
    with pytest.raises(
        UntrustedSignatureError, match="Signed by a key this facility does not trust"
    ):
        client.refresh()


def test_missing_or_empty_source(repo: Path, tmp_path: Path) -> None:
    client = client_for(repo, tmp_path, FolderSource(tmp_path / "not-mounted"))
    with pytest.raises(SourceUnavailableError, match="is the stick mounted"):
        client.refresh()


def test_missing_target_file(repo: Path, tmp_path: Path) -> None:
    stick = export(repo, tmp_path / "stick")
    client = client_for(repo, tmp_path, FolderSource(stick))
    client.refresh()
    [target] = client.targets()
    stick_file(stick, target).unlink()
    with pytest.raises(SourceUnavailableError, match="is missing from the folder"):
        client.download(target, tmp_path / "incoming")


def test_symlinked_metadata_on_stick_refused(repo: Path, tmp_path: Path) -> None:
    stick = export(repo, tmp_path / "stick")
    timestamp = stick / "metadata" / "timestamp.json"
    shutil.move(timestamp, tmp_path / "elsewhere.json")
    timestamp.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(SourceUnavailableError, match="symbolic link"):
        client_for(repo, tmp_path, FolderSource(stick)).refresh()


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets", "root"])
def test_client_follows_key_rotation(repo: Path, tmp_path: Path, role: str) -> None:
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.refresh()
    repository.rotate_key(repo, role)
    repository.add_packages(repo, [make_package(tmp_path, 2)])
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.refresh()
    assert [t.version for t in client.targets()] == [1, 2]
    assert (tmp_path / "client" / "root_history" / "2.root.json").is_file()


def test_retraction_visible(repo: Path, tmp_path: Path) -> None:
    repository.retract(repo, "org.example.test", 1)
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.refresh()
    [target] = client.targets()
    assert target.retracted is True


def test_two_of_three_root_signs_with_two_keys(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, root_keys=3, threshold=2)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.refresh()
    away = tmp_path / "safe"
    away.mkdir()
    shutil.move(repo / "keys" / "root-3.key", away / "root-3.key")  # one key kept offline
    repository.rotate_key(repo, "timestamp")
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.refresh()
    assert len(client.targets()) == 1
    shutil.move(repo / "keys" / "root-2.key", away / "root-2.key")
    with pytest.raises(repository.PublisherError, match=r"root needs 2 signature\(s\)"):
        repository.rotate_key(repo, "snapshot")


def test_lock_held_means_busy(repo: Path, tmp_path: Path) -> None:
    import fcntl
    import os

    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    client.metadata_dir.mkdir(parents=True)
    fd = os.open(client.metadata_dir / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(SyncBusyError, match="Another sync for Example NGO is running"):
            client.refresh()
    finally:
        os.close(fd)


def test_download_requires_refresh_and_known_target(repo: Path, tmp_path: Path) -> None:
    client = client_for(repo, tmp_path, FolderSource(export(repo, tmp_path / "stick")))
    fake = RemoteTarget(
        "org.example.test/org.example.test-v9.tar", "org.example.test", 9, False, 1, "0" * 64
    )
    with pytest.raises(SyncError, match="refresh first"):
        client.download(fake, tmp_path / "incoming")
    client.refresh()
    with pytest.raises(SyncError, match="is not offered by Example NGO"):
        client.download(fake, tmp_path / "incoming")


def test_client_type_is_publisher_client(repo: Path, tmp_path: Path) -> None:
    client = client_for(repo, tmp_path, FolderSource(tmp_path))
    assert isinstance(client, PublisherClient)
    assert client.newest_metadata_time() is None
