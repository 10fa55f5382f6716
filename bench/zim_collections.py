"""Benchmark: reference collections (ZIM) — import, article pages under load, search.

One generated ZIM serves every part. It is made with libzim's own writer (a full-text
index in English, ``config_indexing(True, "eng")``, and ``--workers`` writer threads) and
cached under ``--dir``, keyed by its parameters, so only the first run pays for it:

- ``--articles`` HTML articles (default 50,000) of realistic text: sentences drawn from a
  vocabulary of real English words (every word of the text files under /usr/share/doc and
  of this repository's docs and demo courses, weighted by how often they occur there), 4
  to 9 paragraphs with headings, links to 6 other articles and a picture each; titles of
  two or three of those words;
- ``--zim-gb`` GB of pictures (default 2) with random, incompressible contents (so the
  file really is that big; stored uncompressed, as a scraper stores JPEGs), 1 MiB each.

Then, side by side in one run, each with its anchor:

1. **Import.** The ZIM is packaged as a course with ``collection:`` (built and published
   in a folder TUF repository, signed, as ``bench/import.py`` does, cached too) and
   imported into a new store (``import_package``) and synced end to end into a new data
   folder (``sync_publisher``), each in a subprocess of its own (so its peak RSS is its
   own), best of ``--runs``; anchor: ``openssl dgst -sha256`` of the same package bytes.
   Target: anchor time / import time >= 0.4, peak RSS flat (the same for any ZIM size).
2. **Article pages under load.** A data folder (cached, keyed by the ZIM and the tablet
   count) holds the demo courses and the collection, approved and offered to everyone,
   and ``--tablets`` learners (default 200). ``stepstone serve`` (uvicorn, 2 workers, demo
   mode, plain HTTP on loopback, no nginx: these pages are Stepstone's own work) answers
   ``--tablets`` tablets, each its own connection, address and session: sign-in (ramped
   at 20 a second), then turn about a random article of the collection and a reading
   lesson of a demo course, with a think time of 5 to 10 s (uniform) between two pages,
   so ~27 pages a second for 200 tablets (the page itself: like the lesson page's
   files, the article's picture is not fetched). Over the ``--seconds`` window after the last
   sign-in: p50/p95/p99 of each page, errors. Target: article p95 <= 50 ms.
3. **Collection search.** ``--queries`` queries (default 300), each one or two words of a
   random article's title and text (drawn mechanically with the generator's own seeded
   random), asked one after the other of the in-collection search page of the same real
   server by one signed-in learner (the whole request: sign-in session, access rule,
   search, blocked list, rendering), and the same queries on libzim directly in this
   process (``Searcher`` on one open ``Archive``, the same 20 results and their titles).
   Target: search page p95 <= 100 ms; the ratio to libzim says what Stepstone adds.

    .venv/bin/python bench/zim_collections.py --dir /srv/scratch               # full size
    .venv/bin/python bench/zim_collections.py --dir /srv/scratch --articles 2000 \
        --zim-gb 0.05 --tablets 20 --seconds 15 --queries 50                  # quick
    .venv/bin/python bench/zim_collections.py --dir /srv/scratch --skip import  # parts

(Not ``bench/collections.py``: a module of that name beside the script would stand in
for the standard library's ``collections``.)

Making the full-size ZIM (50,000 articles, 2 GB, 2 writer threads, 2 shared cores, load
average ~4) took 205 s, most of it Xapian's full-text indexing; the package and its
publication 5 s, the server's data folder (demo courses, the synced collection, 200
learners) 10 s. A later run with the same parameters reuses all three; a whole run then
takes about 2 minutes 10 s.

Latest figures (2 shared cores, load average 3.3 to 4.0 from other work during the run):

- import of the 2,000 MiB package: openssl 1.62 s; ``import_package`` 3.22 s, ratio
  0.50 (target >= 0.4); ``sync_publisher`` end to end 4.69 s, ratio 0.35 (0.41 in a
  quieter run at load 2.2). Peak RSS 228 MB; the same import of a 51 MiB ZIM peaks at
  220 MB and of a 480 MiB one at 307 MB: flat, the ZIM is streamed, never held. Where
  the sync's extra time goes (cProfile): the TUF target's own SHA-256 (a second pass
  over every byte, as for every package) and a fixed ~0.9 s for the import's sample of
  200 articles (each in a different 2 MiB zstd cluster of this ZIM: one decompression
  each), the same for a ZIM of any size;
- 200 tablets, 60 s window, 1,590 pages, no errors: article page p50 8.6 ms, p95
  24.3 ms, p99 35.3 ms (target p95 <= 50 ms); lesson page beside it p50 3.4, p95 11.1,
  p99 19.9 ms;
- 300 queries, 19.9 hits shown per query on both sides, none without hits: search page
  p50 4.1 ms, p95 9.9 ms, p99 13.9 ms (target p95 <= 100 ms); libzim alone p50 1.0, p95
  6.4, p99 9.5 ms; ratio of the p95s 1.5 (3.2 at a quieter moment: the ~3 ms the page
  adds are HTTP, the session, the access rule, the blocked list and the template). Before
  the server kept one ``Searcher`` per open ZIM (one was made per question, opening the
  Xapian database each time) the page's p50/p95 were 5.3/8.0 ms against 4.4/6.9 ms after,
  in back-to-back runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import importlib
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from libzim.reader import Archive
from libzim.search import Query, Searcher
from libzim.writer import Blob, ContentProvider, Creator, Hint, Item, StringProvider

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH_DIR))

import learner_load  # noqa: E402  (beside this file: its HTTP client and server runner)
from learner_load import FORM_CSRF, PIN, READING_PATH, Connection, HttpError  # noqa: E402

from server.catalog import library, trust  # noqa: E402
from server.catalog.library import CatalogHooks  # noqa: E402
from server.catalog.sync import sync_publisher  # noqa: E402
from server.cli.demo import course_folders, publish_demo_courses  # noqa: E402
from server.cli.main import initialize  # noqa: E402
from server.core.settings import load_settings  # noqa: E402
from server.people.audit import Actor  # noqa: E402

# bench/import.py: its import and sync runs and its anchor (a module named like a keyword).
import_bench: Any = importlib.import_module("import")

MIB = 1024 * 1024
PICTURE_BYTES = MIB
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
COURSE_ID = f"{import_bench.NAMESPACE}.bench-collection"
COURSE_TITLE = "Bench Encyclopedia"
SEARCH_HITS = 20  # what the in-collection search page asks for
ARTICLE_P95 = 0.050
SEARCH_P95 = 0.100
IMPORT_RATIO = 0.4
WORD = re.compile(r"[A-Za-z][a-z]{2,13}")
FOUND = re.compile(rb"([0-9,]+) articles? found")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


# ---------------------------------------------------------------------------------------
# The generated ZIM.


def vocabulary(limit: int = 30_000) -> tuple[list[str], list[int]]:
    """Real words and how often each occurs, from text files found on the machine."""
    counts: Counter[str] = Counter()
    sources = sorted(Path("/usr/share/doc").glob("*/*"))
    sources += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "courses").rglob("*.md"))
    read = 0
    for source in sources:
        if read > 60 * MIB or not source.is_file() or source.stat().st_size > 4 * MIB:
            continue
        try:
            raw = gzip.decompress(source.read_bytes()) if source.suffix == ".gz" else None
            text = (raw if raw is not None else source.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        read += len(text)
        counts.update(word.lower() for word in WORD.findall(text))
    if len(counts) < 2_000:
        raise SystemExit(f"only {len(counts)} distinct words found in /usr/share/doc and docs/")
    common = counts.most_common(limit)
    return [w for w, _ in common], [c for _, c in common]


@dataclass(frozen=True)
class Spec:
    """What the generated ZIM is made of; its key names the cache folder."""

    articles: int
    pictures: int
    seed: int = 17

    @property
    def key(self) -> str:
        return f"zim-a{self.articles}-p{self.pictures}-s{self.seed}"


class Writer:
    """Each article's title and text from the seed and its number alone, so that the
    search phase can draw queries from any article without reading the ZIM."""

    def __init__(self, spec: Spec, words: list[str], weights: list[int]) -> None:
        self.spec = spec
        self.words = words
        self.cumulative = list(_accumulate(weights))
        self.titles = self._titles()

    def _titles(self) -> list[str]:
        rng = random.Random(self.spec.seed)
        seen: set[str] = set()
        titles = []
        for _ in range(self.spec.articles):
            while True:
                count = rng.choice((2, 2, 3))
                title = " ".join(self._pick(rng, count)).capitalize()
                if title not in seen:
                    break
            seen.add(title)
            titles.append(title)
        return titles

    def _pick(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)

    def path(self, number: int) -> str:
        return f"A/{self.titles[number].replace(' ', '_')}"

    def body_words(self, number: int) -> tuple[random.Random, list[list[str]]]:
        rng = random.Random(self.spec.seed * 1_000_003 + number)
        paragraphs = []
        for _ in range(rng.randint(4, 9)):
            paragraphs.append(self._pick(rng, rng.randint(40, 90)))
        return rng, paragraphs

    def html(self, number: int) -> str:
        rng, paragraphs = self.body_words(number)
        title = self.titles[number]
        parts = [f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"]
        if self.spec.pictures:
            picture = rng.randrange(self.spec.pictures)
            parts.append(f'<p><img src="../I/picture{picture}.png" alt="{title}"></p>')
        links = [rng.randrange(self.spec.articles) for _ in range(6)]
        for index, words in enumerate(paragraphs):
            if index and index % 3 == 0:
                parts.append(f"<h2>{' '.join(words[:3]).capitalize()}</h2>")
            sentence = []
            for position, word in enumerate(words):
                sentence.append(word)
                if position % 12 == 11:
                    sentence[-1] += "."
            if index < len(links):
                other = links[index]
                target = quote(self.path(other)[2:])
                sentence.append(f'see <a href="{target}">{self.titles[other]}</a>.')
            parts.append(f"<p>{' '.join(sentence).capitalize()}</p>")
        parts.append("</body></html>")
        return "".join(parts)

    def query(self, rng: random.Random) -> str:
        """One or two words of a random article's title and text."""
        number = rng.randrange(self.spec.articles)
        title_words = self.titles[number].lower().split()
        _, paragraphs = self.body_words(number)
        text_words = [w for words in paragraphs for w in words]
        if rng.random() < 0.5:
            return rng.choice(title_words)
        return f"{rng.choice(title_words)} {rng.choice(text_words)}"


def _accumulate(weights: Sequence[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


class _Article(Item):  # type: ignore[misc]
    def __init__(self, path: str, title: str, html: str) -> None:
        super().__init__()
        self.path, self.title, self.html = path, title, html

    def get_path(self) -> str:
        return self.path

    def get_title(self) -> str:
        return self.title

    def get_mimetype(self) -> str:
        return "text/html"

    def get_contentprovider(self) -> ContentProvider:
        return StringProvider(self.html)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.FRONT_ARTICLE: True}


class _RandomBytes(ContentProvider):  # type: ignore[misc]
    """A picture made while libzim writes it, so memory stays flat."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_size(self) -> int:
        return self.size

    def gen_blob(self) -> Iterator[Blob]:
        yield Blob(PNG_HEAD + os.urandom(self.size - len(PNG_HEAD)))


class _Picture(Item):  # type: ignore[misc]
    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def get_path(self) -> str:
        return f"I/picture{self.number}.png"

    def get_title(self) -> str:
        return ""

    def get_mimetype(self) -> str:
        return "image/png"

    def get_contentprovider(self) -> ContentProvider:
        return _RandomBytes(PICTURE_BYTES)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.COMPRESS: False}


def make_zim(path: Path, writer: Writer, workers: int) -> None:
    """Write the ZIM to a temporary file beside ``path``, then rename it."""
    spec = writer.spec
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    creator = Creator(partial).config_verbose(False).config_nbworkers(workers)
    creator.config_indexing(True, "eng")
    with creator:
        creator.set_mainpath("Home")
        links = "".join(
            f'<li><a href="{quote(writer.path(n))}">{writer.titles[n]}</a></li>'
            for n in range(min(200, spec.articles))
        )
        home = f"<html><body><h1>{COURSE_TITLE}</h1><ul>{links}</ul></body></html>"
        creator.add_item(_Article("Home", COURSE_TITLE, home))
        for number in range(spec.articles):
            creator.add_item(
                _Article(writer.path(number), writer.titles[number], writer.html(number))
            )
        for number in range(spec.pictures):
            creator.add_item(_Picture(number))
        creator.add_metadata("Title", COURSE_TITLE)
        creator.add_metadata("Language", "eng")
        creator.add_metadata("Description", "Generated articles for the collection benchmark")
    partial.rename(path)


def cached_zim(folder: Path, writer: Writer, workers: int) -> Path:
    zim = folder / "bench.zim"
    if zim.exists():
        print(f"ZIM: cached {zim} ({zim.stat().st_size / MIB:,.0f} MiB)")
        return zim
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    make_zim(zim, writer, workers)
    seconds = time.perf_counter() - start
    (folder / "made.json").write_text(json.dumps({"seconds": seconds, "load": os.getloadavg()}))
    print(
        f"ZIM: made {zim} ({zim.stat().st_size / MIB:,.0f} MiB, {writer.spec.articles:,}"
        f" articles, {writer.spec.pictures:,} pictures) in {seconds:.0f} s; {load()}"
    )
    return zim


# ---------------------------------------------------------------------------------------
# The package: the ZIM as a course's collection, built, signed and published.


def cached_repo(folder: Path, zim: Path) -> tuple[Path, Path]:
    """The folder TUF repository publishing the collection course, and its target."""
    repo = folder / "repo"
    found = sorted((repo / "published" / "targets").glob("*/*.tar"))
    if found:
        return repo, found[0]
    shutil.rmtree(repo, ignore_errors=True)
    work = folder / "build"
    shutil.rmtree(work, ignore_errors=True)
    src = work / "course"
    src.mkdir(parents=True)
    os.link(zim, src / "bench.zim")
    (src / "about.md").write_text(
        "---\nkey: about\ntitle: About this collection\nkind: reading\n---\n\n"
        "Generated articles. Search them or start at the main page.\n",
        encoding="utf-8",
    )
    course = {
        "id": COURSE_ID,
        "version": 1,
        "title": COURSE_TITLE,
        "summary": "Generated by bench/zim_collections.py.",
        "category": "education",
        "language": "en",
        "level": "beginner",
        "estimated_hours": 1,
        "license": "CC0-1.0",
        "lessons": ["about.md"],
        "collection": "bench.zim",
    }
    (src / "course.yaml").write_text(json.dumps(course), encoding="utf-8")  # JSON is YAML
    from content.package.build import build_package

    start = time.perf_counter()
    package = build_package(src, work / "dist", progress=False)
    print(f"package: built in {time.perf_counter() - start:.0f} s")
    repo.parent.mkdir(parents=True, exist_ok=True)
    published_repo, target = import_bench.publish(work, package)
    shutil.move(str(published_repo), str(repo))
    shutil.rmtree(work)
    [target] = (repo / "published" / "targets").glob("*/*.tar")
    return repo, target


def import_phase(repo: Path, target: Path, work: Path, runs: int) -> None:
    size = target.stat().st_size / MIB
    import_bench.anchor_seconds(target)  # warm the page cache as bench/import.py does
    anchors, imports, syncs = [], [], []
    for _ in range(runs):
        anchors.append(import_bench.anchor_seconds(target))
        imports.append(import_bench.run(target, work))
        _clear(work)
        syncs.append(import_bench.sync_run(repo, work))
        _clear(work)
    anchor = min(anchors)
    imported = min(imports, key=lambda r: r["seconds"])
    synced = min(syncs, key=lambda r: r["seconds"])
    print(f"\n1. Import of a {size:,.0f} MiB package holding the ZIM (best of {runs}); {load()}")
    print(f"   anchor openssl dgst -sha256 : {anchor:6.2f} s  {size / anchor:7.1f} MiB/s")
    for label, found in (("import_package", imported), ("sync_publisher", synced)):
        ratio = anchor / found["seconds"]
        print(
            f"   {label:<27} : {found['seconds']:6.2f} s  {size / found['seconds']:7.1f} MiB/s"
            f"  ratio {ratio:.2f} (target >= {IMPORT_RATIO})  CPU {found['cpu']:.2f} s"
            f"  peak RSS {found['peak_kib'] / 1024:.0f} MB"
        )


def _clear(work: Path) -> None:
    for child in work.iterdir():
        shutil.rmtree(child, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The data folder for the server: demo courses, the collection approved, learners.


def cached_data(folder: Path, repo: Path, tablets: int) -> Path:
    data = folder / f"serve-t{tablets}" / "data"
    if (data.parent / "ready").exists():
        return data
    shutil.rmtree(data.parent, ignore_errors=True)
    data.mkdir(parents=True)
    start = time.perf_counter()
    settings = load_settings(environ={}, data_dir=data, demo=True)
    database = initialize(settings)
    courses = data.parent / "courses"
    for source in course_folders(ROOT / "courses"):
        shutil.copytree(source, courses / source.name)
    if publish_demo_courses(settings, database, courses).status != "ok":
        raise SystemExit("publishing the demo courses failed")
    actor = Actor.system("bench")
    root = (repo / "published" / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database,
        actor,
        import_bench.PUBLISHER,
        import_bench.NAMESPACE,
        root,
        confirmed=trust.fingerprint_of(root).root,
    )
    trust.add_source(database, actor, publisher, "folder", str(repo / "published"))
    report = sync_publisher(database, settings, CatalogHooks(), publisher, actor, "bench")
    if report.status != "ok" or len(report.imported) != 1:
        raise SystemExit(f"the collection did not sync: {report.status}: {report.message}")
    row = database.query_one(
        "SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ?",
        [COURSE_ID],
    )
    assert row is not None
    library.approve(database, CatalogHooks(), actor, int(row[0]))  # offered to everyone
    learner_load.add_learners(database, logins(tablets + 1))
    database.close()
    (data.parent / "ready").write_text("")
    print(f"data folder: made in {time.perf_counter() - start:.0f} s")
    return data


def logins(count: int) -> list[str]:
    return [f"C{n:05d}" for n in range(count)]


# ---------------------------------------------------------------------------------------
# The tablets and the searcher (one generator process, uvloop).

Sample = tuple[str, float, float, bool]  # kind, started (monotonic), seconds, ok


@dataclass
class Outcome:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    signed_in: int = 0


class Browser:
    """One tablet: its own connection, loopback address and session cookies."""

    def __init__(self, port: int, slot: int, outcome: Outcome) -> None:
        address = learner_load.tablet_address(slot)
        self.connection = Connection("127.0.0.1", port, 30.0, None, address)
        self.cookies: dict[str, str] = {}
        self.outcome = outcome

    async def get(self, kind: str, target: str, expect: int = 200) -> bytes | None:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        return await self._send(kind, "GET", target, headers, b"", expect)

    async def _send(
        self, kind: str, method: str, target: str, headers: dict[str, str], body: bytes, expect: int
    ) -> bytes | None:
        started = time.monotonic()
        problem = None
        try:
            reply = await self.connection.request(method, target, headers, body)
        except (HttpError, OSError) as exc:
            reply, problem = None, f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        if reply is not None:
            for raw in reply.cookies:
                name, _, value = raw.partition(";")[0].strip().partition("=")
                self.cookies[name] = value
            if reply.status != expect:
                problem = f"status {reply.status}, expected {expect}"
        self.outcome.samples.append((kind, started, seconds, problem is None))
        if problem is not None or reply is None:
            if len(self.outcome.errors) < 20:
                self.outcome.errors.append(f"{kind} {target}: {problem}")
            return None
        return reply.body

    async def sign_in(self, login: str) -> bool:
        form = await self.get("signin-form", "/signin")
        token = FORM_CSRF.search(form or b"")
        if token is None:
            return False
        fields = {"facility_id": login, "pin": PIN, "csrf_token": token.group(1).decode()}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urlencode(fields).encode()
        if await self._send("signin", "POST", "/signin", headers, body, 303) is None:
            return False
        self.outcome.signed_in += 1
        return True


@dataclass(frozen=True)
class LoadPlan:
    port: int
    tablets: int
    articles: list[str]  # addresses of articles, as the tablets open them
    signin_rate: float
    think: tuple[float, float]
    stop_at: float
    seed: int


async def _tablet(plan: LoadPlan, slot: int, start_at: float, outcome: Outcome) -> None:
    rng = random.Random(plan.seed + slot)
    browser = Browser(plan.port, slot, outcome)
    try:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        if not await browser.sign_in(logins(plan.tablets)[slot]):
            return
        on_article = rng.random() < 0.5
        await asyncio.sleep(rng.uniform(0, plan.think[1]))  # spread the first pages
        while time.monotonic() < plan.stop_at:
            if on_article:
                await browser.get("article", rng.choice(plan.articles))
            else:
                await browser.get("lesson", READING_PATH)
            on_article = not on_article
            await asyncio.sleep(rng.uniform(*plan.think))
    finally:
        browser.connection.close()


async def _load(plan: LoadPlan, outcome: Outcome) -> None:
    start = time.monotonic()
    await asyncio.gather(
        *(
            _tablet(plan, slot, start + slot / plan.signin_rate, outcome)
            for slot in range(plan.tablets)
        )
    )


async def _search(
    port: int, login: str, queries: list[str], outcome: Outcome, counts: list[int]
) -> None:
    browser = Browser(port, 99_999, outcome)
    try:
        if not await browser.sign_in(login):
            raise SystemExit(f"the searching learner could not sign in: {outcome.errors}")
        for query in queries[:5]:  # warm the workers' open collection
            await browser.get("warm", search_url(query))
        for query in queries:
            page = await browser.get("search", search_url(query))
            found = FOUND.search(page or b"")
            if found is not None:
                counts.append(int(found.group(1).replace(b",", b"")))
    finally:
        browser.connection.close()


def search_url(query: str) -> str:
    return f"/collections/{COURSE_ID}/search?" + urlencode({"q": query})


def percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def figures(label: str, durations: Sequence[float], target: float | None = None) -> str:
    ordered = sorted(durations)
    p50, p95, p99 = (percentile(ordered, q) * 1000 for q in (0.5, 0.95, 0.99))
    line = f"   {label:<22} n={len(ordered):<6} p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f} ms"
    if target is not None:
        line += f"  (target p95 <= {target * 1000:.0f} ms)"
    return line


# ---------------------------------------------------------------------------------------
# The server phases.


def serve_phases(data: Path, writer: Writer, zim: Path, args: argparse.Namespace) -> None:
    port = learner_load.free_port()
    command = [sys.executable, "-m", "server", "serve", "--port", str(port), "--workers", "2"]
    env = learner_load.server_env(data)
    with ExitStack() as stack:
        stack.enter_context(
            learner_load.running(
                "server", command, env, data.parent / "server.log", "/signin", port
            )
        )
        rng = random.Random(writer.spec.seed + 1)
        if "load" not in args.skip:
            numbers = [rng.randrange(writer.spec.articles) for _ in range(5_000)]
            articles = [f"/collections/{COURSE_ID}/a/{quote(writer.path(n))}" for n in numbers]
            load_phase(port, articles, args)
        if "search" not in args.skip:
            queries = [writer.query(rng) for _ in range(args.queries)]
            search_phase(port, zim, queries, logins(args.tablets + 1)[-1])


def load_phase(port: int, articles: list[str], args: argparse.Namespace) -> None:
    signin_rate = 20.0
    ramp = args.tablets / signin_rate
    settle = 10.0
    begin = time.monotonic() + ramp + settle
    plan = LoadPlan(
        port,
        args.tablets,
        articles,
        signin_rate,
        (5.0, 10.0),
        begin + args.seconds,
        args.seed,
    )
    outcome = Outcome()
    load_before = load()
    learner_load._run(_load(plan, outcome))
    steady = [s for s in outcome.samples if begin <= s[1] < plan.stop_at]
    errors = [s for s in steady if not s[3]]
    print(
        f"\n2. Pages under load: {args.tablets} tablets ({outcome.signed_in} signed in), one page"
        f" every 5-10 s each, {args.seconds} s steady window; {load_before} / {load()}"
    )
    for kind, target in (("article", ARTICLE_P95), ("lesson", None)):
        durations = [s[2] for s in steady if s[0] == kind and s[3]]
        print(figures(f"{kind} page", durations, target))
    print(f"   errors in the window: {len(errors)} of {len(steady)} requests")
    for line in outcome.errors[:5]:
        print(f"     {line}")


def search_phase(port: int, zim: Path, queries: list[str], login: str) -> None:
    outcome = Outcome()
    load_before = load()
    counts: list[int] = []
    learner_load._run(_search(port, login, queries, outcome, counts))
    app = [s[2] for s in outcome.samples if s[0] == "search" and s[3]]
    direct, direct_counts = libzim_search(zim, queries)
    print(
        f"\n3. Collection search, {len(queries)} queries one after the other;"
        f" {load_before} / {load()}"
    )
    print(figures("search page (server)", app, SEARCH_P95))
    print(figures("libzim Searcher", direct))
    app_p95 = percentile(sorted(app), 0.95)
    direct_p95 = percentile(sorted(direct), 0.95)
    print(f"   ratio p95 server / libzim: {app_p95 / direct_p95:.1f}")
    print(
        f"   hits shown per query (at most {SEARCH_HITS}): server {_mean(counts):.1f},"
        f" libzim {_mean(direct_counts):.1f}; queries with none: server"
        f" {counts.count(0)}, libzim {direct_counts.count(0)}"
    )
    errors = [s for s in outcome.samples if not s[3]]
    print(f"   errors: {len(errors)}")
    for line in outcome.errors[:5]:
        print(f"     {line}")


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values) if values else math.nan


def libzim_search(zim: Path, queries: list[str]) -> tuple[list[float], list[int]]:
    """The same queries on libzim alone: one Archive and Searcher, the same 20 results
    and their titles (what the page shows); the seconds and the hit count of each."""
    archive = Archive(zim)
    searcher = Searcher(archive)
    for query in queries[:5]:
        list(searcher.search(Query().set_query(query)).getResults(0, SEARCH_HITS))
    durations, counts = [], []
    for query in queries:
        start = time.perf_counter()
        paths = list(searcher.search(Query().set_query(query)).getResults(0, SEARCH_HITS))
        titles = [archive.get_entry_by_path(path).title for path in paths]
        durations.append(time.perf_counter() - start)
        counts.append(len(titles))
    return durations, counts


# ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="scratch and cache folder")
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--zim-gb", type=float, default=2.0, help="GB of pictures in the ZIM")
    parser.add_argument("--workers", type=int, default=2, help="libzim writer threads")
    parser.add_argument("--runs", type=int, default=2, help="import: best of N for each side")
    parser.add_argument("--tablets", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60, help="steady window of the load")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=("import", "load", "search"), help="parts to skip"
    )
    args = parser.parse_args(argv)
    if args.articles < 10 or args.queries < 1 or args.tablets < 1:
        parser.error("--articles must be at least 10, --queries and --tablets at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.dir = args.dir.resolve()
    print(f"{os.cpu_count()} cores, {load()}")
    pictures = int(args.zim_gb * 1e9 // PICTURE_BYTES)
    spec = Spec(args.articles, pictures, args.seed)
    folder = args.dir / spec.key
    words, weights = vocabulary()
    writer = Writer(spec, words, weights)
    zim = cached_zim(folder, writer, args.workers)
    repo, target = cached_repo(folder, zim)
    if "import" not in args.skip:
        work = Path(tempfile.mkdtemp(prefix="import-", dir=args.dir))
        try:
            import_phase(repo, target, work, args.runs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if "load" in args.skip and "search" in args.skip:
        return
    data = cached_data(folder, repo, args.tablets)
    serve_phases(data, writer, zim, args)
    print(f"\nZIM, package and data folder cached in {folder}")


if __name__ == "__main__":
    main()
