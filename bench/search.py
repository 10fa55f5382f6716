"""Benchmark: Stepstone's search index against SQLite FTS5 on ≈ 50,000 sections of prose.

Corpus: the HTML manuals of Debian documentation packages, cut into lesson sections
(see `bench/search_corpus.py` for how to fetch them; about 15 MB of English and Spanish
text), plus the demo courses in `courses/`, grouped into courses of ≈ 200 sections.

Anchor: SQLite FTS5 (porter tokenizer, diacritics removed) over the same sections in the
same run, queried with bm25 weights, `snippet()` and the same visibility filter.

Measured:
- full build (`SearchService.rebuild`) time, with a progress bar; index size;
- one course (≈ 200 sections) replaced incrementally, and the first search after it;
- query latency p50/p95/p99/max over ≈ 300 queries (one to three words, phrases,
  partial words, misspellings, Spanish), each with snippets and a learner's visibility
  filter, 10 % of them narrowed by a facet, against FTS5 on the same queries;
- "did you mean": the misspelt queries end to end against the intended words, the
  correction alone, and how often the suggestion is the word that was misspelt;
- 30 crafted queries (common words joined by hyphens, fifteen quoted phrases, forty
  words): the slowest, and how many the time budget cut short;
- anonymous memory (RSS minus file-backed pages, `/proc/self/smaps_rollup`) of a fresh
  process holding an open searcher after 300 searches;
- the longest garbage collection during the searches (the corpus this process holds,
  which a search worker does not, is kept out of the collector);
- quality: query sets generated mechanically from the corpus (fixed seed), each asking
  for a known section: *known-item* (a section's three rarest words), *typo* (one edit
  in one of them), *accent* (Spanish, accents removed or decomposed), *word form*
  (one word as another plural/singular or verb form the corpus has), *phrase* (three
  words in a row with a stop word in the middle, quoted; every section holding them
  counts), *verbose* (a how-do-I question around four of its words), each asked from
  a page in the sought section's language, as a learner reading it would. MRR and
  recall at 1 and 10 (a right answer in the top 1 or 10), Stepstone and FTS5 side by
  side.

Targets (issue 23): p95 and p99 ≤ 2× FTS5's; misspelt ≤ 1.5× the intended word; no
query over 100 ms, crafted ones included; anonymous memory ≤ 60 MB; one course added
≤ 0.3 s; quality at least FTS5's on every set. The last lines print each as met or not.

    .venv/bin/python bench/search.py --dir /srv/scratch/search \\
        --corpus-dir /srv/scratch/corpus-root/usr/share
    .venv/bin/python bench/search.py --dir ... --reuse      # skip the build, query again
    .venv/bin/python bench/search.py --dir ... --sections 10000   # a smaller corpus

Latest figures (full corpus, see docs/search.md): at load ≈ 1, p95 / p99 0.87-0.92× /
1.16-1.35× FTS5's, slowest query 66-68 ms (a crafted forty-word question; every other
query ≤ 30 ms), misspelt 1.30-1.34× the intended word, anonymous memory 46-47 MB, one
course 0.24-0.25 s (target 0.3 s). Quality at least FTS5's on every set (each
question asked from its section's language): word form 0.97 / 0.95 MRR, phrase 0.94 /
0.94, far ahead on typos and questions.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from functools import partial
from itertools import zip_longest
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


# --------------------------------------------------------------------- quality

QUALITY_SETS = ("known-item", "typo", "accent", "word form", "phrase", "verbose")
STOP_WORDS = {
    "en": {"of", "the", "to", "in", "for", "on", "with", "and", "a", "is"},
    "es": {"de", "la", "el", "en", "los", "las", "del", "y", "con", "para"},
}
QUESTIONS = {"en": "how do I {} {} with {} {}", "es": "cómo puedo {} {} con {} {}"}


def section_key(course_id: str, lesson_key: str, anchor: str, heading: str) -> str:
    """What names a section for judging a hit, the same for both engines. The course, not
    the version: the run replaces one course by a new version of itself."""
    return f"{course_id}|{lesson_key}|{anchor}|{heading}"


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def word_forms(word: str, language: str) -> list[str]:
    """Other inflections of a word, by plain suffix rules: plural/singular, and for
    English verbs -ed/-ing (only forms the corpus really has are used)."""
    forms = [word + "s", word + "es"]
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    if language == "en":
        stem = word[:-1] if word.endswith("e") else word
        forms += [stem + "ed", stem + "ing", word + "d"]
        for suffix in ("ed", "ing"):
            if word.endswith(suffix):
                forms += [word[: -len(suffix)], word[: -len(suffix)] + "e"]
    else:
        for a, b in (("ción", "ciones"), ("ciones", "ción"), ("ar", "amos"), ("er", "emos")):
            if word.endswith(a):
                forms.append(word[: -len(a)] + b)
    return [f for f in forms if f != word]


class Judged:
    """One quality query: the text, the sections that count as the right answer, and the
    language of the page it is asked from: the sought section's, as a learner who reads
    that language asks (Stepstone ranks the asker's language first; FTS5 has none)."""

    def __init__(self, kind: str, q: str, relevant: set[str], language: str) -> None:
        self.kind, self.q, self.relevant, self.language = kind, q, relevant, language


def quality_queries(versions: list[VersionDocs], per_set: int, seed: int = 5) -> list[Judged]:
    """Query sets generated mechanically from the corpus (fixed seed): each asks for one
    known section, in the ways people ask (see the module docstring)."""
    rng = random.Random(seed)
    frequency: Counter[str] = Counter()
    sections: list[tuple[str, str, list[str]]] = []  # (key, language, words)
    for docs in versions:
        for s in docs.sections:
            # Every word, in order (phrases are cut from it); the alphabetic ones are
            # the candidates for the other sets.
            lowered = [w.lower() for w in WORD.findall(s.text)]
            frequency.update(set(lowered))
            key = section_key(docs.course_id, s.lesson_key, s.anchor, s.heading)
            sections.append((key, docs.language, lowered))
    rng.shuffle(sections)

    def distinctive(words: list[str], count: int) -> list[str]:
        """The section's rarest words (found in 2-50 sections), in text order."""
        chosen = sorted(
            {w for w in words if len(w) >= 4 and w.isalpha() and 2 <= frequency[w] <= 50},
            key=lambda w: (frequency[w], w),
        )[:count]
        return [w for w in dict.fromkeys(words) if w in chosen]

    found: dict[str, list[Judged]] = {kind: [] for kind in QUALITY_SETS}

    def want(kind: str) -> bool:
        return len(found[kind]) < per_set

    for key, language, words in sections:
        if not any(want(kind) for kind in QUALITY_SETS):
            break
        rare = distinctive(words, 3)
        if len(rare) < 3:
            continue
        if want("known-item"):
            found["known-item"].append(Judged("known-item", " ".join(rare), {key}, language))
        elif want("typo") and (long := [w for w in rare if len(w) >= 5]):
            typo = rng.choice(long)
            misspelt = " ".join(_edit(w, rng) if w == typo else w for w in rare)
            found["typo"].append(Judged("typo", misspelt, {key}, language))
        elif want("accent") and language == "es" and any(strip_accents(w) != w for w in rare):
            plain = strip_accents if rng.random() < 0.5 else partial(unicodedata.normalize, "NFD")
            found["accent"].append(Judged("accent", " ".join(map(plain, rare)), {key}, language))
        elif want("word form") and (forms := _other_form(rare, words, language, frequency, rng)):
            found["word form"].append(Judged("word form", forms, {key}, language))
        elif want("verbose") and len(distinctive(words, 4)) == 4:
            question = QUESTIONS[language].format(*distinctive(words, 4))
            found["verbose"].append(Judged("verbose", question, {key}, language))
        elif want("phrase") and (span := _phrase_span(words, language, frequency, rng)):
            found["phrase"].append(Judged("phrase", f'"{span}"', set(), language))
    # A phrase's right answers: every section that has it (the span may be in several).
    spans = {j.q.strip('"'): j for j in found["phrase"]}
    for docs in versions:
        for s in docs.sections:
            text = " ".join(w.lower() for w in WORD.findall(s.text))
            for span, judged in spans.items():
                if span in text:
                    key = section_key(docs.course_id, s.lesson_key, s.anchor, s.heading)
                    judged.relevant.add(key)
    return [j for kind in QUALITY_SETS for j in found[kind]]


def _other_form(
    rare: list[str], words: list[str], language: str, frequency: Counter[str], rng: random.Random
) -> str | None:
    """The query with one word in another form that the corpus has and this section lacks."""
    present = set(words)
    for word in rng.sample(rare, len(rare)):
        forms = [f for f in word_forms(word, language) if frequency[f] and f not in present]
        if forms:
            return " ".join(rng.choice(forms) if w == word else w for w in rare)
    return None


def _phrase_span(
    words: list[str], language: str, frequency: Counter[str], rng: random.Random
) -> str | None:
    """Three words in a row, the middle one a stop word, the others not common."""
    stops = STOP_WORDS[language]
    starts = [
        i
        for i in range(len(words) - 2)
        if words[i + 1] in stops
        and all(
            len(w) >= 4 and w.isalpha() and frequency[w] <= 300 for w in (words[i], words[i + 2])
        )
    ]
    if not starts:
        return None
    i = rng.choice(starts)
    return " ".join(words[i : i + 3])


def rank_of(keys: list[str], relevant: set[str]) -> int | None:
    """1-based rank of the first right answer among the top 10, or None."""
    for rank, key in enumerate(keys, 1):
        if key in relevant:
            return rank
    return None


def quality(
    service: SearchService, fts_path: Path, judged: list[Judged]
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """MRR@10, recall@1, recall@10 per query set, for each engine."""
    db = sqlite3.connect(fts_path)
    ranks: dict[str, dict[str, list[int | None]]] = {"stepstone": {}, "FTS5": {}}
    for item in judged:
        results = service.search(
            item.q, language=item.language, visible_versions=None, page_size=10
        )
        ours = [section_key(h.course_id, h.lesson_key, h.anchor, h.heading) for h in results.hits]
        match = fts_query(item.q)
        theirs: list[str] = []
        if match:
            rows = db.execute(
                "SELECT course_section FROM sections WHERE sections MATCH ?"
                " ORDER BY bm25(sections, 0, 0, 3.0, 1.0) LIMIT 10",
                [match],
            ).fetchall()
            theirs = [row[0] for row in rows]
        ranks["stepstone"].setdefault(item.kind, []).append(rank_of(ours, item.relevant))
        ranks["FTS5"].setdefault(item.kind, []).append(rank_of(theirs, item.relevant))
    db.close()
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for engine, per_kind in ranks.items():
        for kind, found in per_kind.items():
            n = len(found)
            mrr = sum(1 / r for r in found if r) / n
            at1 = sum(1 for r in found if r == 1) / n
            at10 = sum(1 for r in found if r) / n
            table.setdefault(kind, {})[engine] = (mrr, at1, at10)
    return table


def print_quality(table: dict[str, dict[str, tuple[float, float, float]]], n: Counter[str]) -> None:
    print(
        f"\n  {'quality (top 10)':<14}{'n':>4}   {'MRR':>13}   {'recall@1':>13}   {'recall@10':>13}"
    )
    print(f"  {'':<18}   {'ours  FTS5':>13}   {'ours  FTS5':>13}   {'ours  FTS5':>13}")
    for kind in QUALITY_SETS:
        if kind not in table:
            continue
        ours, theirs = table[kind]["stepstone"], table[kind]["FTS5"]
        cells = "   ".join(
            f"{a:6.2f}{b:6.2f}{' ' if a >= b else '!'}" for a, b in zip(ours, theirs, strict=True)
        )
        print(f"  {kind:<14}{n[kind]:>4}   {cells}")
    print("  (! where Stepstone is behind FTS5)")


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
        "CREATE VIRTUAL TABLE sections USING fts5(version UNINDEXED, course_section UNINDEXED,"
        " title, body,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    with db:
        for docs in versions:
            rows: Iterator[tuple[int, str, str, str]] = (
                (
                    docs.version_id,
                    section_key(docs.course_id, s.lesson_key, s.anchor, s.heading),
                    f"{s.lesson_title}\n{s.heading}",
                    s.text,
                )
                for s in docs.sections
            )
            db.executemany("INSERT INTO sections VALUES (?, ?, ?, ?)", rows)
    db.execute("INSERT INTO sections(sections) VALUES ('optimize')")
    db.close()
    return time.perf_counter() - start


def fts_has_sections(path: Path) -> bool:
    """Is there an FTS5 table with the section column (older runs made none, or one
    named by version)?"""
    if not path.exists():
        return False
    db = sqlite3.connect(path)
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(sections)")]
    finally:
        db.close()
    return "course_section" in columns


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
                "SELECT version, title, snippet(sections, 3, '<mark>', '</mark>', '…', 24)"  # noqa: S608
                f" FROM sections WHERE {where} ORDER BY bm25(sections, 0, 0, 3.0, 1.0) LIMIT 10",
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


def crafted_queries(versions: list[VersionDocs], count: int, seed: int = 13) -> list[str]:
    """Queries made to be slow: common words joined by hyphens (each a phrase), many
    quoted phrases of common words, long lists of words."""
    rng = random.Random(seed)
    frequency: Counter[str] = Counter()
    for docs in versions[::5]:
        for section in docs.sections[::3]:
            frequency.update({w.lower() for w in WORD.findall(section.text) if w.isalpha()})
    common = [w for w, _ in frequency.most_common(400) if len(w) >= 3]
    found = []
    for number in range(count):
        words = rng.sample(common, 60)
        if number % 3 == 0:
            found.append(" ".join("-".join(words[i : i + 3]) for i in range(0, 60, 3)))
        elif number % 3 == 1:
            found.append(" ".join(f'"{words[i]} {words[i + 1]}"' for i in range(0, 30, 2)))
        else:
            found.append(" ".join(words[:40]))
    return found


def limit_sections(versions: list[VersionDocs], wanted: int | None) -> list[VersionDocs]:
    """The first courses, up to about `wanted` sections, English and Spanish alike."""
    if not wanted:
        return versions
    english = [v for v in versions if v.language != "es"]
    spanish = [v for v in versions if v.language == "es"]
    alternating = [d for pair in zip_longest(english, spanish) for d in pair if d is not None]
    chosen, total = [], 0
    for docs in alternating:
        if total >= wanted:
            break
        chosen.append(docs)
        total += len(docs.sections)
    return chosen


def ratio_line(name: str, value: float, anchor: float, limit: float, unit: str = "x") -> bool:
    ratio = value / anchor if anchor else float("inf")
    ok = ratio <= limit
    print(f"  {name:<44}{ratio:8.2f}{unit}  target ≤ {limit}{unit}  {'ok' if ok else 'MISSED'}")
    return ok


def value_line(name: str, value: float, limit: float, unit: str, digits: int = 1) -> bool:
    ok = value <= limit
    print(
        f"  {name:<44}{value:8.{digits}f} {unit}  target ≤ {limit} {unit}"
        f"  {'ok' if ok else 'MISSED'}"
    )
    return ok


def collector_pauses() -> list[float]:
    """The length of each garbage collection from now on, in ms (a list that fills)."""
    pauses: list[float] = []
    started = [0.0]

    def note(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(note)
    return pauses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="work folder (not in repo)")
    parser.add_argument(
        "--corpus-dir", nargs="+", default=[str(p) for p in DEFAULT_CORPUS],
        help="folders with the documentation HTML (see bench/search_corpus.py)",
    )  # fmt: skip
    parser.add_argument("--sections", type=int, help="use only about this many sections")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--quality", type=int, default=60, help="queries per quality set")
    parser.add_argument("--reuse", action="store_true", help="keep the built indexes")
    args = parser.parse_args()
    args.dir = args.dir.resolve()
    if args.dir.is_relative_to(ROOT):
        raise SystemExit("--dir must be outside the repository")
    args.dir.mkdir(parents=True, exist_ok=True)

    versions = limit_sections(load_corpus(args), args.sections)
    sections = sum(len(v.sections) + 1 for v in versions)
    megabytes = sum(len(s.text) for v in versions for s in v.sections) / 1e6
    print(f"corpus: {len(versions)} courses, {sections} sections, {megabytes:.1f} MB of text")
    index_root, fts_path = args.dir / "index", args.dir / "fts5.sqlite"
    rng = random.Random(11)
    visible = frozenset(v.version_id for v in versions if rng.random() < VISIBLE_SHARE)
    queries = make_queries(versions, args.queries)
    judged = quality_queries(versions, args.quality)
    crafted = crafted_queries(versions, 30)

    service = SearchService(index_root)
    if args.reuse and service.ready:
        build_s = fts_build_s = float("nan")
        if not fts_has_sections(fts_path):
            fts_build_s = build_fts(fts_path, versions)
    else:
        shutil.rmtree(index_root, ignore_errors=True)
        service = SearchService(index_root)
        build_s = build_stepstone(service, versions)
        fts_build_s = build_fts(fts_path, versions)
    size = folder_size(index_root)
    # The corpus and the queries (≈ 120,000 objects) are this process's, not a search
    # worker's: kept out of the garbage collector, whose full passes over them paused
    # a search now and then by 40-80 ms. The pauses that remain are printed below.
    gc.collect()
    gc.freeze()
    pauses = collector_pauses()
    start = time.perf_counter()
    service.search("warm", visible_versions=visible)
    open_s = time.perf_counter() - start
    run_stepstone(service, queries[:30], visible)  # warm the page cache, as a server is
    incremental_s, first_after_s, course_sections = incremental(service, versions)
    pauses.clear()
    times, results = run_stepstone(service, queries, visible)
    fts_times = run_fts(fts_path, queries, visible)
    misspelt = [q for q in queries if q["kind"] == "misspelt"]
    # Each misspelt query right after its intended word, twice over, so that both see
    # the same machine (its load changes within a run).
    miss_times, intended_times = [], []
    for item in misspelt * 2:
        miss_times += run_stepstone(service, [item], visible)[0]
        intended_times += run_stepstone(service, [dict(item, q=item["intended"])], visible)[0]
    fixed = sum(
        1
        for r, q in zip(results, queries, strict=True)
        if q["kind"] == "misspelt" and (r.suggestion or "").lower() == q["intended"]
    )
    offered = sum(
        1 for r, q in zip(results, queries, strict=True) if q["kind"] == "misspelt" and r.suggestion
    )
    correct_times = correction_times(service, misspelt)
    crafted_items = [{"q": q, "facets": None} for q in crafted]
    crafted_times, crafted_results = run_stepstone(service, crafted_items, visible)
    table = quality(service, fts_path, judged)
    mem = memory(index_root, queries, visible)

    p50, p95, p99 = (x * 1000 for x in percentiles(times))
    f50, f95, f99 = (x * 1000 for x in percentiles(fts_times))
    print(f"\n  load average {os.getloadavg()}")
    print(f"  longest garbage collection during the searches: {max(pauses, default=0):.1f} ms")
    print(f"\n  {'':<34}{'stepstone':>10}{'FTS5':>10}      ratio")
    line("full build", build_s, fts_build_s, "s")
    line("index size", size / 1e6, folder_size(fts_path) / 1e6 if fts_path.exists() else None, "MB")
    line(f"one course ({course_sections} sections)", incremental_s * 1000, None, "ms")
    line("first search after it (refresh)", first_after_s * 1000, None, "ms")
    line("first search of a new process", open_s * 1000, None, "ms")
    line("query p50", p50, f50, "ms")
    line("query p95", p95, f95, "ms")
    line("query p99", p99, f99, "ms")
    line("query max", max(times) * 1000, max(fts_times) * 1000, "ms")
    m50, m95, _ = (x * 1000 for x in percentiles(miss_times))
    i50, i95, _ = (x * 1000 for x in percentiles(intended_times))
    line("misspelt query p50 (whole search)", m50, None, "ms")
    line("the intended word p50", i50, None, "ms")
    _, c95, _ = (x * 1000 for x in percentiles(correct_times))
    line("did-you-mean alone p95", c95, None, "ms")
    line("crafted queries max", max(crafted_times) * 1000, None, "ms")
    line("anonymous memory", mem["anonymous"], None, "MB")
    line("resident memory (with file pages)", mem["rss"], None, "MB")
    print(f"\n  {len(queries)} queries; {len(misspelt)} misspelt: a suggestion for {offered}, "
          f"the intended word for {fixed}; {len(crafted)} crafted, "
          f"{sum(r.cut_short for r in crafted_results)} cut short by the budget.")  # fmt: skip
    kinds = Counter(q["kind"] for q in queries)
    for kind in kinds:
        sample = [t * 1000 for t, q in zip(times, queries, strict=True) if q["kind"] == kind]
        print(f"  {kind:<14} n={len(sample):3}  p50 {statistics.median(sample):6.1f} ms"
              f"  max {max(sample):6.1f} ms")  # fmt: skip
    print_quality(table, Counter(j.kind for j in judged))
    print("\n  targets (issue 23)")
    ratio_line("query p95 / FTS5 p95", p95, f95, 2.0)
    ratio_line("query p99 / FTS5 p99", p99, f99, 2.0)
    ratio_line("misspelt p50 / intended word p50", m50, i50, 1.5)
    ratio_line("misspelt p95 / intended word p95", m95, i95, 1.5)
    value_line(
        "slowest query, crafted ones included", max(*times, *crafted_times) * 1000, 100, "ms"
    )
    value_line("anonymous memory of a searcher", mem["anonymous"], 60, "MB")
    value_line(f"adding a course ({course_sections} sections)", incremental_s, 0.3, "s", 2)


if __name__ == "__main__":
    main()
