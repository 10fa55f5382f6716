"""Search correctness on text nobody tuned the engine to: decomposed accents, Spanish verb
forms, stop words that are content, phrases, ranking, and what the spelling dictionary
may reveal to whom."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from search_index import SearchResults, SearchService, Section, Status, VersionDocs
from search_index.analysis import term_maker
from search_index.query import MAX_CLAUSES

EN, ES, HIDDEN, PENDING = 11, 12, 13, 14


def course(
    version_id: int, language: str, *texts: str, course_id: str = "", pending: bool = False
) -> VersionDocs:
    """A course whose lessons each hold one of ``texts``, keyed l0, l1, ..."""
    return VersionDocs(
        version_id=version_id,
        course_id=course_id or f"org.test.c{version_id}",
        course_title=f"Course {version_id}",
        category="education",
        language=language,
        pending=pending,
        sections=[Section(f"l{i}", f"Lesson {i}", "", text) for i, text in enumerate(texts)],
    )


@pytest.fixture
def build(tmp_path: Path) -> Iterator[list[SearchService]]:
    services: list[SearchService] = []
    yield services
    for service in services:
        service.close()


def index(build: list[SearchService], tmp_path: Path, *courses: VersionDocs) -> SearchService:
    service = SearchService(tmp_path / f"search{len(build)}")
    build.append(service)
    service.rebuild(courses)
    return service


def found(results: SearchResults) -> list[tuple[int, str]]:
    return [(h.version_id, h.lesson_key) for h in results.hits]


def lessons(results: SearchResults) -> set[str]:
    return {h.lesson_key for h in results.hits}


# 1. Unicode -------------------------------------------------------------------------


def test_decomposed_accents_are_found_by_typed_words(
    build: list[SearchService], tmp_path: Path
) -> None:
    nfd = unicodedata.normalize("NFD", "Los números del año se suman en la tabla.")
    assert nfd != unicodedata.normalize("NFC", nfd)
    service = index(build, tmp_path, course(ES, "es", nfd, "Otra lección sin nada."))
    for typed in ("números", "numeros", "año", "ano", unicodedata.normalize("NFD", "números")):
        results = service.search(typed, language="es", visible_versions=frozenset({ES}))
        assert found(results) == [(ES, "l0")], typed
    marked = service.search("números", language="es", visible_versions=frozenset({ES}))
    assert "<mark>números</mark>" in marked.hits[0].snippet
    # The spelling dictionary knows the word too: a typo of it is corrected.
    typo = service.search("numeroz", language="es", visible_versions=frozenset({ES}))
    assert typo.suggestion == "números"


# 2. Spanish stemming after accent folding -------------------------------------------------

VERBS = {
    # regular -ar, -er, -ir verbs: every simple tense and the non-finite forms
    "hablar": "hablo hablas habla hablamos habláis hablan hablé hablaste habló hablaron"
    " hablaba hablábamos hablaban hablaré hablarás hablará hablaremos hablarán hablaría"
    " hablarías hablaríamos hablarían hable hables hablemos hablen hablara habláramos"
    " hablaran hablase hablando hablado",
    "comer": "como comes come comemos coméis comen comí comiste comió comieron comía"
    " comíamos comían comeré comerá comeremos comerán comería comeríamos comerían coma"
    " comamos coman comiera comiéramos comieran comiese comiendo comido",
    "imprimir": "imprimo imprimes imprime imprimimos imprimen imprimí imprimió imprimieron"
    " imprimía imprimíamos imprimían imprimiré imprimirá imprimiremos imprimirán imprimiría"
    " imprimiríamos imprimirían imprima impriman imprimiera imprimiendo imprimido",
    "cambiar": "cambio cambias cambia cambiamos cambian cambié cambiaron cambiaba"
    " cambiábamos cambiaban cambiaré cambiará cambiaremos cambiarán cambiaría cambiaríamos"
    " cambiarían cambie cambien cambiara cambiando cambiado",
    "aparecer": "apareces aparece aparecemos aparecen aparecí apareció aparecieron aparecía"
    " aparecían apareceré aparecerá aparecerán aparecería aparecerían apareciera"
    " apareciendo aparecido",
    # irregular verbs: the forms built on the infinitive's stem (the others, "tuvo",
    # "puede", change their stem and no stemmer joins them)
    "tener": "tenemos tenía teníamos tenían teniendo tenido",
    "poder": "podemos podía podíamos podían podido",
    "hacer": "hacemos hacía hacíamos hacían haciendo",
}


def test_every_tense_of_a_verb_shares_the_stem_of_its_infinitive() -> None:
    make = term_maker("es")
    for infinitive, forms in VERBS.items():
        misses = [form for form in forms.split() if make(form) != make(infinitive)]
        assert not misses, (infinitive, misses)


def test_infinitive_finds_accented_verb_forms(build: list[SearchService], tmp_path: Path) -> None:
    service = index(
        build,
        tmp_path,
        course(
            ES,
            "es",
            "Al pulsar aquí el color cambiaría de inmediato.",
            "La impresora imprimirá la hoja.",
            "El mensaje apareció en la pantalla.",
            # The infinitives are words of the course too, so no query is taken for
            # the start of a longer word.
            "Para cambiar la fuente, imprimir o aparecer en la lista.",
        ),
    )
    visible = frozenset({ES})
    search = service.search
    assert lessons(search("cambiar color", language="es", visible_versions=visible)) == {"l0"}
    assert lessons(search("imprimir", language="es", visible_versions=visible)) == {"l1", "l3"}
    assert lessons(search("aparecer", language="es", visible_versions=visible)) == {"l2", "l3"}
    # Typed without its accent, the verb form is looked up as the course wrote it, and
    # so finds the other forms of the verb too.
    typed = search("cambiaria", language="es", visible_versions=visible)
    assert lessons(typed) == {"l0", "l3"}


# 3. Stop words that are content -----------------------------------------------------


def test_stop_words_are_searchable_and_phrases_keep_them(
    build: list[SearchService], tmp_path: Path
) -> None:
    service = index(
        build,
        tmp_path,
        course(
            ES,
            "es",
            "La barra de estado muestra la hora.",
            "La barra lateral y el estado de la red.",
            "No hay nada fuera de lugar.",
            "Tiene sentido.",
        ),
        course(EN, "en", "The printer will stop. The US office can help.", "May is a month."),
    )
    visible = frozenset({ES, EN})
    for typed, language, expected in [
        ("estado", "es", {(ES, "l0"), (ES, "l1")}),
        ("sentido", "es", {(ES, "l3")}),
        ("fuera", "es", {(ES, "l2")}),
        ("nada", "es", {(ES, "l2")}),
        ("will", "en", {(EN, "l0")}),
        ("US", "en", {(EN, "l0")}),
        ("can", "en", {(EN, "l0")}),
        ("May", "en", {(EN, "l1")}),
    ]:
        results = service.search(typed, language=language, visible_versions=visible)
        assert results.status is Status.OK, typed
        assert set(found(results)) == expected, typed
    phrase = service.search('"barra de estado"', language="es", visible_versions=visible)
    assert found(phrase) == [(ES, "l0")]
    # Only stop words: still a search, for all of them.
    only = service.search("de la", language="es", visible_versions=visible)
    assert only.status is Status.OK and lessons(only) >= {"l0", "l1"}
    # A stop word beside a real word does not have to be there.
    assert lessons(service.search("barra el", language="es", visible_versions=visible)) == {
        "l0",
        "l1",
    }


# 4. Phrases are phrases ---------------------------------------------------------------


def test_phrases_need_order_and_adjacency(build: list[SearchService], tmp_path: Path) -> None:
    service = index(
        build,
        tmp_path,
        course(EN, "en", "Press Cancel. The dialog closes.", "Use the cancel dialog to stop."),
        course(ES, "es", "Cancelar el diálogo lo cierra.", "Pulse cancelar diálogo."),
    )
    visible = frozenset({EN, ES})
    english = service.search('"cancel dialog"', language="en", visible_versions=visible)
    # Exact order and adjacency: "Cancelar el diálogo" has a word between them.
    assert found(english) == [(EN, "l1"), (ES, "l1")]
    spanish = service.search('"cancel dialog"', language="es", visible_versions=visible)
    assert found(spanish) == [(ES, "l1"), (EN, "l1")]
    reversed_ = service.search('"dialog cancel"', language="en", visible_versions=visible)
    assert found(reversed_) == []


# 5. Ranking -------------------------------------------------------------------------


def test_learners_language_ranks_first_and_the_other_stays_findable(
    build: list[SearchService], tmp_path: Path
) -> None:
    service = index(
        build,
        tmp_path,
        course(EN, "en", "Color color color: choose a color for the chart."),
        course(ES, "es", "El color de la tabla."),
    )
    visible = frozenset({EN, ES})
    assert [h.version_id for h in service.search("color", visible_versions=visible).hits] == [
        EN,
        ES,
    ]
    spanish = service.search("color", language="es-US", visible_versions=visible)
    assert [h.version_id for h in spanish.hits] == [ES, EN]


def test_words_without_a_vowel_find_their_other_number(
    build: list[SearchService], tmp_path: Path
) -> None:
    # The English stemmer leaves "hdrs" and "pdfs" whole (no vowel before the "s"), and
    # both numbers are known words here, so neither a prefix nor a correction finds them.
    service = index(
        build,
        tmp_path,
        course(EN, "en", "Send the HDRs first.", "One hdr line.", "A PDF file.", "Two PDFs."),
    )
    visible = frozenset({EN})
    for typed in ("hdr", "hdrs", "HDR"):
        assert lessons(service.search(typed, visible_versions=visible)) == {"l0", "l1"}, typed
    for typed in ("pdf", "pdfs"):
        assert lessons(service.search(typed, visible_versions=visible)) == {"l2", "l3"}, typed
    # The form typed still comes first.
    assert service.search("pdfs", visible_versions=visible).hits[0].lesson_key == "l3"


def test_the_form_typed_outranks_another_form_of_it(
    build: list[SearchService], tmp_path: Path
) -> None:
    service = index(
        build,
        tmp_path,
        course(EN, "en", "Running the tool twice.", "Run the tool twice.", "The tool runs twice."),
        course(ES, "es", "Las imágenes del informe.", "La imagen del informe."),
    )
    visible = frozenset({EN, ES})
    for typed, first in [("running", "l0"), ("run", "l1"), ("runs", "l2")]:
        results = service.search(typed, visible_versions=visible)
        assert lessons(results) == {"l0", "l1", "l2"}, typed
        assert results.hits[0].lesson_key == first, typed
    for typed, first in [("imagenes", "l0"), ("imagen", "l1")]:
        results = service.search(typed, language="es", visible_versions=visible)
        assert lessons(results) == {"l0", "l1"} and results.hits[0].lesson_key == first, typed


def test_imagen_and_imagenes_find_each_other(build: list[SearchService], tmp_path: Path) -> None:
    service = index(
        build,
        tmp_path,
        course(ES, "es", "Inserte una imagen en la hoja.", "Las imágenes se guardan aparte."),
    )
    visible = frozenset({ES})
    for typed in ("imagen", "imágenes", "imagenes", "IMAGEN"):
        results = service.search(typed, language="es", visible_versions=visible)
        assert lessons(results) == {"l0", "l1"}, typed


def test_numbers_fractions_and_single_letters_are_searchable(
    build: list[SearchService], tmp_path: Path
) -> None:
    service = index(
        build,
        tmp_path,
        course(
            EN,
            "en",
            "Half a cup is 1/2 cup.",
            "A 3.5 mm plug fits the jack.",
            "The C language came before Python.",
            "Two halves: 2/1 is not a fraction of one.",
        ),
    )
    visible = frozenset({EN})
    assert found(service.search("1/2", visible_versions=visible)) == [(EN, "l0")]
    assert found(service.search("3.5", visible_versions=visible)) == [(EN, "l1")]
    c_results = service.search("C", visible_versions=visible)
    assert c_results.status is Status.OK and found(c_results) == [(EN, "l2")]
    assert found(service.search("c language", visible_versions=visible)) == [(EN, "l2")]


def test_long_question_ranks_by_how_many_words_match(
    build: list[SearchService], tmp_path: Path
) -> None:
    service = index(
        build,
        tmp_path,
        course(
            EN,
            "en",
            "To change the printer paper size, open printer settings.",
            "Paper jams: open the tray.",
            "Settings for the screen brightness.",
            "Nothing relevant here at all.",
        ),
    )
    visible = frozenset({EN})
    question = "how do I change paper size in printer settings"
    results = service.search(question, visible_versions=visible)
    assert results.status is Status.OK
    keys = [h.lesson_key for h in results.hits]
    # Every section with one of the words, the one with the most of them first.
    assert keys[0] == "l0" and set(keys) == {"l0", "l1", "l2"}


def test_no_word_is_dropped_after_the_tenth(build: list[SearchService], tmp_path: Path) -> None:
    service = index(build, tmp_path, course(EN, "en", "Zebras graze.", "Nothing here."))
    filler = " ".join(f"word{n}" for n in range(12))
    results = service.search(f"{filler} zebra", visible_versions=frozenset({EN}))
    assert not results.truncated
    assert found(results) == [(EN, "l0")]
    assert MAX_CLAUSES >= 20


# 7. No leak through suggestions ------------------------------------------------------


LEARNER = frozenset({EN})
EVERYONE = frozenset({EN, HIDDEN, HIDDEN + 10})


@pytest.fixture
def hidden_words(build: list[SearchService], tmp_path: Path) -> SearchService:
    """The learner sees EN; two hidden courses share many words; one is pending review."""
    words = (
        "A harbour, a quiet harbour. Organising the fragment.",
        " ".join(f"fra{chr(97 + n)}ming" for n in range(14)),
    )
    return index(
        build,
        tmp_path,
        course(EN, "en", "The harbor is calm.", "Fractals are shapes.", "Organise and colour."),
        course(HIDDEN, "en", *words),
        course(HIDDEN + 10, "en", *words),
        course(PENDING, "en", "Colouring in, for review.", pending=True),
    )


def test_a_visible_suggestion_is_not_suppressed_by_hidden_words(
    hidden_words: SearchService,
) -> None:
    # For those who see them, the hidden courses' more frequent "harbour" wins; for
    # this learner "harbor" is the word there is.
    assert hidden_words.search("harbur", visible_versions=EVERYONE).suggestion == "harbour"
    assert hidden_words.search("harbur", visible_versions=LEARNER).suggestion == "harbor"


def test_a_hidden_word_is_never_suggested(hidden_words: SearchService) -> None:
    # "organising" is only in hidden courses, though its stem would find the learner's
    # "Organise": offering it would tell the learner what the hidden courses say.
    assert hidden_words.search("organisinh", visible_versions=EVERYONE).suggestion == "organising"
    assert hidden_words.search("organisinh", visible_versions=LEARNER).suggestion is None


def test_hidden_words_do_not_crowd_out_a_prefix_expansion(hidden_words: SearchService) -> None:
    # The hidden courses hold many more frequent "fra..." words; "fra*" must still mean
    # the learner's own "Fractals".
    assert found(hidden_words.search("fra*", visible_versions=LEARNER)) == [(EN, "l1")]
    assert found(hidden_words.search("fra*", visible_versions=EVERYONE)) != [(EN, "l1")]


def test_a_word_only_pending_review_is_no_correction_for_learners(
    hidden_words: SearchService,
) -> None:
    # "colouring" is only in a version waiting for review (its stem finds the learner's
    # "colour"); admins search with None and are offered it.
    assert hidden_words.search("colourinh", visible_versions=LEARNER).suggestion is None
    assert hidden_words.search("colourinh", visible_versions=None).suggestion == "colouring"
