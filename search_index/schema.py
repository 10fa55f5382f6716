"""The Whoosh schema: which fields a section document has, and why.

* `head_xx` (lesson title and section heading) and `body_xx` hold the analysed text,
  one pair per language so that each is stemmed with its own rules; a query looks in
  both and weighs head three times body (BM25F). The course title is the head of the
  course's own document, not repeated in every section: there it would put every
  section of "Python basics" in the posting list of "python", and a common word's
  posting list is what a query pays for.
* `form_xx` holds the same words as head and body together, folded but not stemmed:
  it only ranks, so that the very form typed counts more than another form of it.
* `spell_xx` holds each document's distinct words as written (no stemming, no
  positions, no frequencies): the spelling dictionary for "did you mean", kept per
  language so that English is never corrected into Spanish.
* `version` is the only identifying field that is indexed: it is how a version's
  documents are deleted and how the visibility filter is built. Course id, category and
  language are not indexed at all: facets and filters work on whole versions, through
  the version table each searcher keeps (see `view.py`).
* `pair_xx` holds, once per document, each pair of adjacent body terms of which one is
  a stop word's ("the file", "of contents"): what a quoted phrase's common words can
  narrow by (see `docsets.py`). No frequencies, never scored.
* `hpair_xx` holds every pair of adjacent head terms (headings and titles are short):
  a quoted phrase is found in a heading by its pairs, with no stored text read (a
  two-word phrase is exactly its pair). No frequencies, never scored.
* No positions are indexed. Reading a block of postings costs in proportion to what
  it holds, and positions made every block ≈ 3× dearer for every query, to serve the few
  that are quoted phrases. A phrase is checked on the stored text of the documents
  that hold all of its rarer words and pairs instead (see `docsets.py`).
* Stored: `hit` (a small tuple for the result line), `head` and `text` (the text of
  the two analysed fields, for snippets and phrases) and, on the course document of
  each version only, `course`.
"""

from __future__ import annotations

from whoosh import fields, formats

from search_index.analysis import (
    LANGUAGES,
    FormAnalyzer,
    LanguageAnalyzer,
    PairAnalyzer,
    SpellingAnalyzer,
)

# Bump when the fields or the analysis change: an index of another version is rebuilt.
# 2: NFC text, Spanish stemmed before folding, stop words and one-letter words indexed,
#    exact forms.
# 3: pairs of adjacent body terms that hold a stop word (`pair_xx`), for phrases.
# 4: pairs of adjacent head terms (`hpair_xx`), for phrases in headings and titles.
SCHEMA_VERSION = 4

HEAD, BODY, SPELL, FORM, PAIR = "head", "body", "spell", "form", "pair"
HEAD_PAIR = "hpair"
# BM25F field weights: a word in the lesson title or heading counts three times a word
# in the body.
WEIGHTS = {HEAD: 3.0, BODY: 1.0}
PHRASE_FIELDS = (HEAD, BODY)
# The exact form typed, on top of its stem's weight: enough to come first among
# otherwise alike sections.
FORM_WEIGHT = 2.0
STORED_TEXT = {HEAD: "head", BODY: "text"}


def field_name(kind: str, language: str) -> str:
    return f"{kind}_{language}"


def field_parts(name: str) -> tuple[str, str]:
    """ "body_es" -> ("body", "es")."""
    kind, _, language = name.rpartition("_")
    return kind, language


def build_schema() -> fields.Schema:
    """A fresh schema (Whoosh pickles it into the index's table of contents)."""
    # `scorable=True` on fields that are never scored: Whoosh 2.7 then writes their (tiny)
    # length column, and without one its segment writer looks for that file with a
    # `stat()` per posting, which was a third of the build time.
    version = fields.ID()
    version.scorable = True
    schema = fields.Schema(
        version=version,
        hit=fields.STORED(),
        head=fields.STORED(),
        text=fields.STORED(),
        course=fields.STORED(),
    )
    for language in LANGUAGES:
        analyzer = LanguageAnalyzer(language)
        schema.add(field_name(HEAD, language), fields.TEXT(analyzer=analyzer, phrase=False))
        schema.add(field_name(BODY, language), fields.TEXT(analyzer=analyzer, phrase=False))
        schema.add(field_name(FORM, language), fields.TEXT(analyzer=FormAnalyzer(), phrase=False))
        schema.add(
            field_name(SPELL, language),
            fields.FieldType(formats.Existence(), SpellingAnalyzer(), scorable=True),
        )
        schema.add(
            field_name(PAIR, language),
            fields.FieldType(formats.Existence(), PairAnalyzer(language), scorable=True),
        )
        schema.add(
            field_name(HEAD_PAIR, language),
            fields.FieldType(
                formats.Existence(), PairAnalyzer(language, every=True), scorable=True
            ),
        )
    return schema
