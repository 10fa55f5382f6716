"""Benchmark: Stepstone's search index against SQLite FTS5 on ≈ 50,000 sections of prose.

Corpus: the HTML manuals of Debian documentation packages, cut into lesson sections
(see `bench/search_corpus.py` for how to fetch them; about 15 MB of English and Spanish
text), plus the demo courses in `courses/`, grouped into courses of ≈ 200 sections.

Anchor: SQLite FTS5 (porter tokenizer, diacritics removed) over the same sections in the
same run, queried with bm25 weights, `snippet()` and the same visibility filter.

Measured:
- full build (`SearchService.rebuild`) time, with a progress bar; index size;
- one course (≈ 200 sections) replaced incrementally, and the first search after it;
- query latency p50/p95/p99 over ≈ 300 queries (one to three words, phrases, partial
  words, misspellings, Spanish), each with snippets and a learner's visibility filter,
  10 % of them narrowed by a facet;
- "did you mean": the misspelt queries end to end, the correction alone, and how often
  the suggestion is the word that was misspelt;
- anonymous memory (RSS minus file-backed pages, `/proc/self/smaps_rollup`) of a fresh
  process holding an open searcher after 300 searches.

Targets: p95 ≤ 40 ms, p99 ≤ 80 ms; "did you mean" p95 ≤ 20 ms; anonymous memory
≤ 120 MB; full build ≤ 90 s; one course ≤ 2 s.

    .venv/bin/python bench/search.py --dir /srv/scratch/search \\
        --corpus-dir /srv/scratch/corpus-root/usr/share
    .venv/bin/python bench/search.py --dir ... --reuse      # skip the build, query again

The corpus (as JSON lines), both indexes and the queries stay in `--dir`, which must
not be inside the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import search_corpus  # noqa: E402
from rich.progress import Progress  # noqa: E402

from content.format.lessondata import manifest  # noqa: E402
from content.package.build import build_package  # noqa: E402
from content.package.reader import read_member_text, read_package  # noqa: E402
from search_index import SearchService, Section, VersionDocs  # noqa: E402
from search_index.analysis import WORD, fold, term_maker  # noqa: E402
from server.catalog.search import version_docs  # noqa: E402

DEFAULT_CORPUS = [Path("/usr/share/doc"), Path("/usr/share/debian-reference")]
DEFAULT_DIR = Path.home() / ".cache" / "stepstone-bench" / "search"
VISIBLE_SHARE = 0.9

MEMORY = """
import json, sys, time
from pathlib import Path
from search_index import SearchService
queries = json.loads(Path(sys.argv[2]).read_text())
visible = frozenset(json.loads(Path(sys.argv[3]).read_text()))
service = SearchService(Path(sys.argv[1]))
for item in queries:
    service.search(item["q"], visible_versions=visible, facets=item.get("facets"))
fields = {}
for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
    name, value = line.split(":", 1)
    fields[name] = int(value.split()[0]) / 1024
print(json.dumps({"rss": fields["Rss"], "anonymous": fields["Anonymous"]}))
"""


# ---------------------------------------------------------------------- corpus


def demo_versions(first_id: int) -> list[VersionDocs]:
    """The demo courses, built into packages and read back as the server would."""
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = sorted(p for p in (ROOT / "courses").iterdir() if (p / "course.yaml").is_file())
        for number, folder in enumerate(folders):
            package = build_package(folder, Path(tmp), progress=False)
            info = read_package(package)

            def read_text(path: str, package: Path = package) -> str | None:
                return read_member_text(package, path)

            described = manifest(info.manifest)
            found.append(
                version_docs(first_id + number, described.course, described.lessons, read_text)
            )
    return found


def corpus_versions(courses: list[search_corpus.Course]) -> list[VersionDocs]:
    return [
        VersionDocs(
            number,
            course.course_id,
            course.title,
            course.category,
            course.language,
            [
                Section(lesson.key, lesson.title, s.heading, s.text, s.anchor)
                for lesson in course.lessons
                for s in lesson.sections
            ],
            course_summary=f"Sections of {course.title}",
        )
        for number, course in enumerate(courses, 1)
    ]


def load_corpus(args: argparse.Namespace) -> list[VersionDocs]:
    cached = args.dir / "corpus.jsonl"
    if not cached.exists():
        roots = [Path(p) for p in args.corpus_dir if Path(p).exists()]
        if not roots:
            raise SystemExit(
                "No corpus: install or unpack the documentation packages named in "
                "bench/search_corpus.py and pass --corpus-dir."
            )
        print(f"reading HTML under {', '.join(map(str, roots))} …", flush=True)
        courses = search_corpus.courses_from(search_corpus.lessons_from(roots))
        search_corpus.save(courses, cached)
    versions = corpus_versions(search_corpus.load(cached))
    return versions + demo_versions(len(versions) + 1)


# --------------------------------------------------------------------- queries


def _edit(word: str, rng: random.Random) -> str:
    """One typo, never in the first letter: what people actually type."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["delete", "transpose", "replace", "insert"])
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "transpose":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "replace":
        return word[:i] + letter + word[i + 1 :]
    return word[:i] + letter + word[i:]


def make_queries(versions: list[VersionDocs], count: int, seed: int = 7) -> list[dict[str, Any]]:
    """≈ `count` realistic queries drawn from the corpus itself (fixed seed)."""
    rng = random.Random(seed)
    english = term_maker("en")
    heading_words: Counter[str] = Counter()
    pairs: list[list[str]] = []
    phrases: list[str] = []
    spanish: list[str] = []
    for docs in versions:
        for section in docs.sections[::7]:
            words = [w.lower() for w in WORD.findall(section.heading) if w.isalpha()]
            words = [w for w in words if len(w) > 3 and english(w) is not None]
            heading_words.update(words)
            if len(words) >= 2:
                pairs.append(words[:3])
            text_words = [w for w in WORD.findall(section.text[:300]) if w.isalpha()]
            if len(text_words) > 6 and rng.random() < 0.2:
                start = rng.randrange(0, len(text_words) - 2)
                phrases.append(" ".join(text_words[start : start + 2]).lower())
            if docs.language == "es" and words and rng.random() < 0.3:
                spanish.append(" ".join(words[:2]))
    common = [w for w, n in heading_words.most_common(1500) if len(w) >= 4]
    share = count / 300
    queries: list[dict[str, Any]] = []

    def add(kind: str, q: str) -> None:
        facets = {"category": "education"} if rng.random() < 0.1 else None
        queries.append({"kind": kind, "q": q, "facets": facets})

    for _ in range(int(100 * share)):
        add("one word", rng.choice(common))
    for _ in range(int(60 * share)):
        add("two words", " ".join(rng.choice(pairs)[:2]))
    for _ in range(int(30 * share)):
        add("three words", " ".join(rng.choice([p for p in pairs if len(p) == 3])))
    for _ in range(int(30 * share)):
        add("phrase", f'"{rng.choice(phrases)}"')
    for _ in range(int(20 * share)):
        word = rng.choice([w for w in common if len(w) >= 6])
        add("partial word", word[: rng.randint(4, 5)])
    for _ in range(int(20 * share)):
        add("spanish", rng.choice(spanish or common))
    for _ in range(int(40 * share)):
        word = rng.choice([w for w in common[:600] if len(w) >= 5])
        add("misspelt", _edit(word, rng))
        queries[-1]["intended"] = word
    rng.shuffle(queries)
    return queries


# ------------------------------------------------------------------- measuring


def percentiles(values: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def build_stepstone(service: SearchService, versions: list[VersionDocs]) -> float:
    total = sum(len(v.sections) + 1 for v in versions)
    start = time.perf_counter()
    with Progress(transient=True) as bar:
        task = bar.add_task("indexing sections", total=total)
        service.rebuild(versions, progress=lambda n: bar.advance(task, n))
    return time.perf_counter() - start


def build_fts(path: Path, versions: list[VersionDocs]) -> float:
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE sections USING fts5(version UNINDEXED, title, body,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    with db:
        for docs in versions:
            rows: Iterator[tuple[int, str, str]] = (
                (docs.version_id, f"{s.lesson_title}\n{s.heading}", s.text) for s in docs.sections
            )
            db.executemany("INSERT INTO sections VALUES (?, ?, ?)", rows)
    db.execute("INSERT INTO sections(sections) VALUES ('optimize')")
    db.close()
    return time.perf_counter() - start


def fts_query(q: str) -> str | None:
    """The same query in FTS5 syntax: every word, "phrases", word*."""
    parts = []
    for quoted, bare in re.findall(r'"([^"]*)"|(\S+)', q):
        words = WORD.findall(fold(quoted or bare))
        if not words:
            continue
        if quoted:
            parts.append('"' + " ".join(words) + '"')
        else:
            parts.extend(f'"{w}"' + ("*" if bare.endswith("*") else "") for w in words)
    return " AND ".join(parts) or None


def run_fts(path: Path, queries: list[dict[str, Any]], visible: frozenset[int]) -> list[float]:
    db = sqlite3.connect(path)
    db.execute("CREATE TEMP TABLE visible (id INTEGER PRIMARY KEY)")
    db.executemany("INSERT INTO visible VALUES (?)", [(v,) for v in visible])
    times = []
    for item in queries:
        match = fts_query(item["q"])
        start = time.perf_counter()
        if match:
            where = "sections MATCH ? AND version IN (SELECT id FROM visible)"
            db.execute(f"SELECT count(*) FROM sections WHERE {where}", [match]).fetchone()  # noqa: S608
            db.execute(
                "SELECT version, title, snippet(sections, 2, '<mark>', '</mark>', '…', 24)"  # noqa: S608
                f" FROM sections WHERE {where} ORDER BY bm25(sections, 0, 3.0, 1.0) LIMIT 10",
                [match],
            ).fetchall()
        times.append(time.perf_counter() - start)
    db.close()
    return times


def run_stepstone(
    service: SearchService, queries: list[dict[str, Any]], visible: frozenset[int]
) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for item in queries:
        start = time.perf_counter()
        result = service.search(item["q"], visible_versions=visible, facets=item["facets"])
        times.append(time.perf_counter() - start)
        results.append(result)
    return times, results


def correction_times(service: SearchService, queries: list[dict[str, Any]]) -> list[float]:
    """The correction alone: every dictionary look-up for each misspelt word."""
    from search_index.execution import corrections
    from search_index.query import compile_query, parse

    view = service._view
    assert view is not None
    vocabularies = view.vocabularies()
    times = []
    for item in queries:
        start = time.perf_counter()
        corrections(compile_query(parse(item["q"]), vocabularies), vocabularies, "en")
        times.append(time.perf_counter() - start)
    return times


def folder_size(folder: Path) -> int:
    if folder.is_file():
        return folder.stat().st_size
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def memory(index_root: Path, queries: list[dict[str, Any]], visible: frozenset[int]) -> Any:
    work = index_root.parent
    (work / "queries.json").write_text(json.dumps(queries))
    (work / "visible.json").write_text(json.dumps(sorted(visible)))
    out = subprocess.run(
        [sys.executable, "-c", MEMORY, str(index_root), str(work / "queries.json"),
         str(work / "visible.json")],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(out.stdout)


def incremental(service: SearchService, versions: list[VersionDocs]) -> tuple[float, float, int]:
    """Replace one ≈ 200-section course by a new version of itself, as a publish does."""
    old = min(versions[:-10], key=lambda v: abs(len(v.sections) - 200))
    new = VersionDocs(
        max(v.version_id for v in versions) + 1, old.course_id, old.course_title, old.category,
        old.language, old.sections, course_summary=old.course_summary,
    )  # fmt: skip

    def change(update: Any) -> None:
        update.remove(old.version_id)
        update.add(new)

    start = time.perf_counter()
    service.update(change)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    service.search("interview", visible_versions=None)
    first = time.perf_counter() - start
    return seconds, first, len(new.sections)


def line(name: str, ours: float, anchor: float | None, unit: str, target: str = "") -> None:
    ratio = f"{ours / anchor:8.1f}x" if anchor else " " * 9
    anchor_text = f"{anchor:10.1f}" if anchor is not None else " " * 10
    print(f"  {name:<34}{ours:10.1f}{anchor_text} {unit:<4}{ratio}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="work folder (not in repo)")
    parser.add_argument(
        "--corpus-dir", nargs="+", default=[str(p) for p in DEFAULT_CORPUS],
        help="folders with the documentation HTML (see bench/search_corpus.py)",
    )  # fmt: skip
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--reuse", action="store_true", help="keep the built indexes")
    args = parser.parse_args()
    args.dir = args.dir.resolve()
    if args.dir.is_relative_to(ROOT):
        raise SystemExit("--dir must be outside the repository")
    args.dir.mkdir(parents=True, exist_ok=True)

    versions = load_corpus(args)
    sections = sum(len(v.sections) + 1 for v in versions)
    megabytes = sum(len(s.text) for v in versions for s in v.sections) / 1e6
    print(f"corpus: {len(versions)} courses, {sections} sections, {megabytes:.1f} MB of text")
    index_root, fts_path = args.dir / "index", args.dir / "fts5.sqlite"
    rng = random.Random(11)
    visible = frozenset(v.version_id for v in versions if rng.random() < VISIBLE_SHARE)
    queries = make_queries(versions, args.queries)

    service = SearchService(index_root)
    if args.reuse and service.ready:
        build_s = fts_build_s = float("nan")
    else:
        shutil.rmtree(index_root, ignore_errors=True)
        service = SearchService(index_root)
        build_s = build_stepstone(service, versions)
        fts_build_s = build_fts(fts_path, versions)
    size = folder_size(index_root)
    start = time.perf_counter()
    service.search("warm", visible_versions=visible)
    open_s = time.perf_counter() - start
    run_stepstone(service, queries[:30], visible)  # warm the page cache, as a server is
    incremental_s, first_after_s, course_sections = incremental(service, versions)
    times, results = run_stepstone(service, queries, visible)
    fts_times = run_fts(fts_path, queries, visible)
    misspelt = [q for q in queries if q["kind"] == "misspelt"]
    miss_times = [t for t, q in zip(times, queries, strict=True) if q["kind"] == "misspelt"]
    fixed = sum(
        1
        for r, q in zip(results, queries, strict=True)
        if q["kind"] == "misspelt" and (r.suggestion or "").lower() == q["intended"]
    )
    offered = sum(
        1 for r, q in zip(results, queries, strict=True) if q["kind"] == "misspelt" and r.suggestion
    )
    correct_times = correction_times(service, misspelt)
    mem = memory(index_root, queries, visible)

    p50, p95, p99 = (x * 1000 for x in percentiles(times))
    f50, f95, f99 = (x * 1000 for x in percentiles(fts_times))
    print(f"\n  {'':<34}{'stepstone':>10}{'FTS5':>10}      ratio   target")
    line("full build", build_s, fts_build_s, "s", "≤ 90 s")
    line("index size", size / 1e6, folder_size(fts_path) / 1e6 if fts_path.exists() else None, "MB")
    line(f"one course ({course_sections} sections)", incremental_s, None, "s", "≤ 2 s")
    line("first search after it (refresh)", first_after_s * 1000, None, "ms")
    line("first search of a new process", open_s * 1000, None, "ms")
    line("query p50", p50, f50, "ms")
    line("query p95", p95, f95, "ms", "≤ 40 ms")
    line("query p99", p99, f99, "ms", "≤ 80 ms")
    _, m95, _ = (x * 1000 for x in percentiles(miss_times))
    line("misspelt query p95 (whole search)", m95, None, "ms", "≤ 20 ms")
    _, c95, _ = (x * 1000 for x in percentiles(correct_times))
    line("did-you-mean alone p95", c95, None, "ms")
    line("anonymous memory", mem["anonymous"], None, "MB", "≤ 120 MB")
    line("resident memory (with file pages)", mem["rss"], None, "MB")
    print(f"\n  {len(queries)} queries; {len(misspelt)} misspelt: a suggestion for {offered}, "
          f"the intended word for {fixed}.")  # fmt: skip
    kinds = Counter(q["kind"] for q in queries)
    for kind in kinds:
        sample = [t * 1000 for t, q in zip(times, queries, strict=True) if q["kind"] == kind]
        print(f"  {kind:<14} n={len(sample):3}  p50 {statistics.median(sample):6.1f} ms"
              f"  max {max(sample):6.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
