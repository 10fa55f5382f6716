"""A reference collection's ZIM: packaged whole, opened with libzim at import, refused
(with nothing stored) when libzim cannot read it; its metadata and sample flags."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from content.errors import LintFailed
from content.format import analyse
from content.format.zim import Collection, ZimInfo, read_info
from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.extract import ImportRefused
from tests.content.importing.test_importer import snapshot
from tests.zims import collection_package, write_zim

# The ZIM mark, then bytes that are not a ZIM: the type check passes, libzim refuses.
CORRUPT = b"ZIM\x04" + bytes(range(256)) * 8


def test_the_zim_is_stored_whole_and_its_metadata_read(tmp_path: Path) -> None:
    package = collection_package(tmp_path)
    zim = tmp_path / "src-org.example.science" / "science.zim"
    staged = import_package(package, ContentStore(tmp_path / "store"))
    stored = staged.files["media/science.zim"]
    assert stored.media_type == "application/x-zim"
    assert stored.sha256 == hashlib.sha256(zim.read_bytes()).hexdigest()  # one copy, as is
    assert staged.course["collection"] == {"zim": "media/science.zim"}
    assert staged.collection == ZimInfo(
        title="Pocket Science",
        language="eng",
        description="Short science articles for schools",
        article_count=4,
        has_fulltext=True,
        main_path="Home",
    )
    assert staged.collection_flags == {
        "sampled": 4,
        "script": 1,
        "iframe": 1,
        "form": 1,
        "meta-refresh": 1,
        "outside-image": 1,
        "outside-link": 1,
    }


def test_a_zim_libzim_cannot_read_is_refused_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LintFailed) as lint:  # the publisher's build refuses it first
        collection_package(tmp_path / "honest", zim=CORRUPT)
    assert "science.zim" in str(lint.value.problems)
    # A package made with a tool that skipped the check: the facility still refuses it.
    forged = ZimInfo("Forged", "eng", "", 1, True, "Home")
    monkeypatch.setattr(analyse, "read_info", lambda path, name: forged)
    package = collection_package(tmp_path / "forged", zim=CORRUPT)
    store = ContentStore(tmp_path / "store")
    store.ensure()
    before = snapshot(store.root)
    with pytest.raises(ImportRefused) as refused:
        import_package(package, store)
    assert "media/science.zim" in str(refused.value)
    assert "cannot be read" in str(refused.value)
    assert snapshot(store.root) == before
    assert list(store.staging_root.iterdir()) == []


def test_without_a_full_text_index_search_says_so_and_titles_still_answer(
    tmp_path: Path,
) -> None:
    zim = write_zim(tmp_path / "plain.zim", fulltext=False)
    assert read_info(zim).has_fulltext is False
    collection = Collection(zim)
    assert collection.search("evaporates", 10) is None
    assert [hit.title for hit in collection.suggest("volc", 10)] == ["Volcano"]
    sample = list(collection.articles(2))  # a bounded sample: HTML articles only
    assert len(sample) == 2 and all(entry.is_article for entry in sample)


def test_a_file_that_is_not_a_zim_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zim"
    bad.write_bytes(b"hello")
    with pytest.raises(Exception, match="not a ZIM file"):
        read_info(bad, "bad.zim")


def test_a_lesson_cannot_link_to_a_zim_file(tmp_path: Path) -> None:
    src = tmp_path / "src-org.example.linked"
    package = collection_package(tmp_path, "org.example.linked")
    assert package.exists()
    (src / "intro.md").write_text(
        "---\nkey: intro\ntitle: About\nkind: reading\n---\n\n[Download](other.zim)\n"
    )
    write_zim(src / "other.zim")
    with pytest.raises(LintFailed) as lint:
        build_package(src, tmp_path / "again", progress=False)
    assert "a ZIM file can only be the course's reference collection" in str(lint.value.problems)
