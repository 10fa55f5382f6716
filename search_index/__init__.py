"""Full-text search over published course content, on Whoosh; no web code in here.

The server talks to `SearchService` only: `search()` for a page of results,
`update()` to keep the index in step with the catalog, `rebuild()` to build it anew,
`ensure_ready()` at start-up. Whoosh stays behind this interface so that the engine can
be replaced without touching the server.
"""

from search_index.checksums import IndexDamaged
from search_index.documents import InvalidDocument, Part, Section, VersionDocs
from search_index.results import FacetValue, Hit, SearchResults, Status
from search_index.service import INDEX_ERRORS, UPDATE_ERRORS, IndexBroken, SearchService
from search_index.view import VersionMeta
from search_index.writing import IndexUpdate

__all__ = [
    "INDEX_ERRORS",
    "UPDATE_ERRORS",
    "FacetValue",
    "Hit",
    "IndexBroken",
    "IndexDamaged",
    "IndexUpdate",
    "InvalidDocument",
    "Part",
    "SearchResults",
    "SearchService",
    "Section",
    "Status",
    "VersionDocs",
    "VersionMeta",
]
