"""ContentStore: content addressing, dedup, read-only blobs, staging and sweeping."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from content.importing import store as store_module
from content.importing.store import ContentStore


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    store = ContentStore(tmp_path / "var" / "store")
    store.ensure()
    return store


def test_constructing_creates_nothing(tmp_path: Path) -> None:
    ContentStore(tmp_path / "var" / "store")
    assert list(tmp_path.iterdir()) == []


def test_path_for_validates_the_digest(store: ContentStore) -> None:
    sha = "ab" + "0" * 62
    assert store.path_for(sha) == store.root / "ab" / sha
    for bad in ("AB" + "0" * 62, "../" + "0" * 61, "0" * 63, "0" * 65, "g" * 64):
        with pytest.raises(ValueError, match="SHA-256"):
            store.path_for(bad)


def test_add_bytes_stores_read_only_and_deduplicates(store: ContentStore) -> None:
    sha = store.add_bytes(b"<p>hello</p>")
    assert sha == hashlib.sha256(b"<p>hello</p>").hexdigest()
    assert store.has(sha) and store.verify(sha)
    assert store.path_for(sha).stat().st_mode & 0o777 == 0o444
    assert store.add_bytes(b"<p>hello</p>") == sha
    assert list(store.blobs()) == [sha]
    assert list(store.staging_root.iterdir()) == []


def test_adopt_moves_and_dedups(store: ContentStore, tmp_path: Path) -> None:
    with store.staging() as folder:
        staged = folder / "f"
        staged.write_bytes(b"data")
        sha = hashlib.sha256(b"data").hexdigest()
        assert store.adopt(staged, sha) == store.path_for(sha)
        assert not staged.exists()
        again = folder / "g"
        again.write_bytes(b"data")
        store.adopt(again, sha)  # already there: nothing moves
        assert again.exists()
    assert store.verify(sha)


@pytest.mark.parametrize("syncfs", [True, False], ids=["one-syncfs", "fsync-each"])
def test_adopt_all_makes_blobs_durable_read_only_and_deduplicated(
    store: ContentStore, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    calls: list[str] = []
    real_syncfs = store_module._SYNCFS
    if syncfs and real_syncfs is None:
        pytest.skip("no syncfs on this system")
    if syncfs:
        assert real_syncfs is not None

        def counting_syncfs(fd: int) -> int:
            calls.append("syncfs")
            return real_syncfs(fd)

        monkeypatch.setattr(store_module, "_SYNCFS", counting_syncfs)
    else:
        monkeypatch.setattr(store_module, "_SYNCFS", None)
        real_fsync = os.fsync

        def counting_fsync(fd: int) -> None:
            calls.append("fsync")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", counting_fsync)
    known = store.add_bytes(b"already stored")
    calls.clear()
    with store.staging() as folder:
        bodies = {"a": b"lesson a", "b": b"lesson b", "dup": b"already stored"}
        items = []
        for name, body in bodies.items():
            (folder / name).write_bytes(body)  # mode 0644: adopting makes it read-only
            items.append((folder / name, hashlib.sha256(body).hexdigest()))
        store.adopt_all(items)
        paths = [store.path_for(sha) for _, sha in items]
        assert [p.read_bytes() for p in paths] == list(bodies.values())
        assert paths[2] == store.path_for(known)
        assert [(folder / n).exists() for n in bodies] == [False, False, True]  # dup stays
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in paths)
    assert sorted(store.blobs()) == sorted({sha for _, sha in items})
    # One flush of the file system for the files, one for the renames; or an fsync each
    # (two files, and the folders they went into).
    if syncfs:
        assert calls == ["syncfs", "syncfs"]
    else:
        assert len(calls) >= 4


def test_syncfs_errors_are_raised(store: ContentStore, monkeypatch: pytest.MonkeyPatch) -> None:
    failing: Callable[[int], int] = lambda _fd: -1  # noqa: E731
    monkeypatch.setattr(store_module, "_SYNCFS", failing)
    with store.staging() as folder:
        (folder / "a").write_bytes(b"a")
        with pytest.raises(OSError, match="Input/output error"):
            store.adopt_all([(folder / "a", hashlib.sha256(b"a").hexdigest())])
    assert list(store.blobs()) == []


def test_verify_detects_drift(store: ContentStore) -> None:
    sha = store.add_bytes(b"original")
    path = store.path_for(sha)
    path.chmod(0o644)
    path.write_bytes(b"changed!")
    assert not store.verify(sha)
    assert not store.verify("0" * 64)


def test_gc_keeps_only_what_is_listed(store: ContentStore) -> None:
    keep = store.add_bytes(b"keep")
    store.add_bytes(b"orphan")
    assert store.gc({keep}) == 1
    assert list(store.blobs()) == [keep]


def test_staging_is_removed_on_error(store: ContentStore) -> None:
    with pytest.raises(RuntimeError), store.staging() as folder:
        (folder / "half").write_bytes(b"x")
        raise RuntimeError("boom")
    assert list(store.staging_root.iterdir()) == []


def _hold_staging(
    root: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    with ContentStore(Path(root)).staging() as folder:
        (folder / "busy").write_bytes(b"x")
        ready.set()
        done.wait(10)


def test_sweep_removes_leftovers_but_not_a_running_import(store: ContentStore) -> None:
    crashed = store.staging_root / "import-crashed"
    (crashed / "package").mkdir(parents=True)
    (crashed / "package" / "f").write_bytes(b"x")
    (store.staging_root / "stray-file").write_bytes(b"x")
    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    other = context.Process(target=_hold_staging, args=(str(store.root), ready, done))
    other.start()
    try:
        assert ready.wait(10)
        assert store.sweep_staging() == 2
        remaining = list(store.staging_root.iterdir())
        assert len(remaining) == 1 and (remaining[0] / "busy").exists()
    finally:
        done.set()
        other.join(10)
    assert store.sweep_staging() == 0
    assert list(store.staging_root.iterdir()) == []


def test_sweep_on_a_missing_staging_folder(tmp_path: Path) -> None:
    assert ContentStore(tmp_path / "store").sweep_staging() == 0


def test_staging_is_private(store: ContentStore) -> None:
    with store.staging() as folder:
        assert folder.parent == store.staging_root
        assert folder.stat().st_mode & 0o777 == 0o700
