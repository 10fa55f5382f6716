"""Many searches while the index is being written, in threads and across processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from search_index import IndexUpdate, SearchResults, SearchService, Status
from search_index.execution import BudgetedDocSets
from tests.search_index.conftest import ALL_LIVE, MATH, adding, all_courses, math_course

ROOT = Path(__file__).resolve().parents[2]


def test_searches_in_threads_while_another_thread_replaces_a_course(tmp_path: Path) -> None:
    root = tmp_path / "search"
    writer = SearchService(root)
    writer.rebuild(all_courses())
    expected = writer.search("fraction", visible_versions=None).total
    # Two services stand for two worker processes: each keeps its own view. No time
    # budget: on a busy machine it would cut some answers short, which is not the point.
    readers = [SearchService(root, budget=60.0), SearchService(root, budget=60.0)]
    stop = threading.Event()
    seen: list[tuple[Status, int, frozenset[int]]] = []
    cut_short: list[bool] = []
    failures: list[BaseException] = []

    def search(service: SearchService) -> None:
        try:
            while not stop.is_set():
                results = service.search("fraction", visible_versions=None)
                versions = frozenset(h.version_id for h in results.hits)
                seen.append((results.status, results.total, versions))
                cut_short.append(results.cut_short)
        except BaseException as exc:  # noqa: BLE001 - report any failure from the thread
            failures.append(exc)

    def replace(old: int, new: int) -> None:
        def change(update: IndexUpdate) -> None:
            update.remove(old)
            update.add(math_course(version_id=new))

        writer.update(change)

    threads = [threading.Thread(target=search, args=(s,)) for s in [*readers, *readers]]
    for thread in threads:
        thread.start()
    current = MATH
    for round_ in range(8):
        new = 100 + round_
        replace(current, new)
        current = new
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not failures
    assert len(seen) > 20
    # Every answer saw the course whole: the old version or the new, never neither or both.
    assert {status for status, _, _ in seen} == {Status.OK}
    assert {total for _, total, _ in seen} == {expected}
    assert not any(cut_short)
    final = readers[0].search("fraction", visible_versions=None)
    assert current in {h.version_id for h in final.hits}
    assert MATH not in (readers[1].indexed_versions() or {})
    for service in [writer, *readers]:
        service.close()


def test_an_update_in_another_process_is_seen_without_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "search"
    service = SearchService(root)
    service.rebuild(all_courses())
    assert service.search("fraction", visible_versions=ALL_LIVE).total > 0  # searcher open
    code = (
        "import sys; from pathlib import Path; from search_index import SearchService;"
        "SearchService(Path(sys.argv[1])).update(lambda u: u.remove(1))"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, cwd=ROOT)
    results = service.search("fraction", visible_versions=ALL_LIVE)
    assert {h.version_id for h in results.hits} == {2}  # only the safety course is left
    service.close()


def test_a_slow_search_holds_up_no_other_search_nor_a_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One search is stopped in the middle of checking a phrase until the others are done:
    a quick search and a course replacement (seen by the next search) run meanwhile, and
    the stopped search then finishes on its own, older generation, undamaged."""
    service = SearchService(tmp_path / "search")
    service.rebuild(all_courses())
    service.search("fraction", visible_versions=None)  # the view is open
    slow_checking, quick_done = threading.Event(), threading.Event()
    released: list[bool] = []
    check = BudgetedDocSets._has_phrase

    def held_phrase_check(self: BudgetedDocSets, docnum: int, field: str, words: list[str]) -> bool:
        if words[0] == "top" and not slow_checking.is_set():
            slow_checking.set()
            released.append(quick_done.wait(10))
        return check(self, docnum, field, words)

    monkeypatch.setattr(BudgetedDocSets, "_has_phrase", held_phrase_check)
    # No time budget: the stopped search must not give up on its own.
    service.budget = 60.0
    slow: list[SearchResults] = []
    thread = threading.Thread(
        target=lambda: slow.append(service.search('"top number"', visible_versions=None))
    )
    thread.start()
    assert slow_checking.wait(10)
    quick = service.search("gloves", visible_versions=None)
    service.update(adding(math_course(version_id=100)))
    after = service.search("fraction", visible_versions=None)
    quick_done.set()
    thread.join(10)

    assert released == [True]  # the quick searches did not wait for the slow one
    assert [h.heading for h in quick.hits] == ["Gloves"]
    assert 100 in {h.version_id for h in after.hits}
    assert slow[0].status is Status.OK and not slow[0].cut_short
    assert [h.version_id for h in slow[0].hits] == [MATH]
    # And the replaced generation's searchers were closed once the slow search ended.
    assert service.search("top number", visible_versions=None).ok
    service.close()
