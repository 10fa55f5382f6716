"""Many searches while the index is being written, in threads and across processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from search_index import IndexUpdate, SearchService, Status
from tests.search_index.conftest import ALL_LIVE, MATH, all_courses, math_course

ROOT = Path(__file__).resolve().parents[2]


def test_searches_in_threads_while_another_thread_replaces_a_course(tmp_path: Path) -> None:
    root = tmp_path / "search"
    writer = SearchService(root)
    writer.rebuild(all_courses())
    expected = writer.search("fraction", visible_versions=None).total
    # Two services stand for two worker processes: each keeps its own searcher.
    readers = [SearchService(root), SearchService(root)]
    stop = threading.Event()
    seen: list[tuple[Status, int, frozenset[int]]] = []
    failures: list[BaseException] = []

    def search(service: SearchService) -> None:
        try:
            while not stop.is_set():
                results = service.search("fraction", visible_versions=None)
                versions = frozenset(h.version_id for h in results.hits)
                seen.append((results.status, results.total, versions))
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
