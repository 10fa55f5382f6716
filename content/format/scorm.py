"""SCORM packages: what a ``scorm`` lesson's ``imsmanifest.xml`` says.

A SCORM package (1.2 or 2004) is an app folder whose ``imsmanifest.xml`` lists its
organization: items that point at resources, and each resource of type "sco" is a page
that talks to a runtime API (``window.API`` for 1.2, ``window.API_1484_11`` for 2004).
Here the manifest is read into the version and the ordered list of SCOs (identifier,
title, launch page) that the lesson page offers, and checked: it must parse, declare no
DTD (entities are a parser attack), name at least one SCO, and every launch page and
listed file must be in the package. The same reading runs at build and at import.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

MANIFEST = "imsmanifest.xml"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_SCOS = 500


class ScormError(ValueError):
    """The manifest is not a SCORM manifest Stepstone can play; the message says why."""


@dataclass(frozen=True)
class Sco:
    identifier: str
    title: str
    href: str  # path inside the app, without query or fragment
    query: str  # launch parameters, kept for the launch address


@dataclass(frozen=True)
class ScormPackage:
    version: str  # "1.2" | "2004"
    scos: tuple[Sco, ...]
    files: tuple[str, ...]  # every file the resources list

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "scos": [
                {"id": s.identifier, "title": s.title, "href": s.href, "query": s.query}
                for s in self.scos
            ],
        }


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element: ET.Element, name: str) -> str:
    """An attribute by local name, whatever its namespace (adlcp:scormtype, xml:base)."""
    for key, value in element.attrib.items():
        if _local(key).lower() == name.lower():
            return value.strip()
    return ""


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def read_manifest(data: bytes) -> ScormPackage:
    """Read ``imsmanifest.xml``; raises :class:`ScormError` naming the problem."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ScormError(f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES:,} bytes")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise ScormError(f"{MANIFEST} declares a DTD or entities; remove the <!DOCTYPE>")
    try:
        # No DTD was let through above, so no entity can expand; ElementTree resolves
        # no external ones.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise ScormError(f"{MANIFEST} is not well-formed XML: {exc}") from None
    if _local(root.tag) != "manifest":
        raise ScormError(f"{MANIFEST} must have <manifest> at its root")
    version = _version(root)
    resources = _resources(root)
    scos = _scos(root, resources)
    if not scos:
        raise ScormError(f"{MANIFEST} names no SCO (an item pointing at a resource of type sco)")
    files = sorted({f for _, _, listed in resources.values() for f in listed})
    return ScormPackage(version, tuple(scos), tuple(files))


def _version(root: ET.Element) -> str:
    namespaces = " ".join([root.tag, *root.attrib.values()])
    schema = " ".join(
        (el.text or "") for el in root.iter() if _local(el.tag) == "schemaversion"
    ).lower()
    if "2004" in schema or "cam 1.3" in schema or "adlcp_v1p3" in namespaces:
        return "2004"
    if "1.2" in schema or "adlcp_rootv1p2" in namespaces:
        return "1.2"
    raise ScormError(
        f"{MANIFEST} does not say its SCORM version (<schemaversion>1.2</schemaversion> or "
        "2004); only SCORM 1.2 and 2004 are played"
    )


def _resources(root: ET.Element) -> dict[str, tuple[str, str, list[str]]]:
    """identifier → (type, launch href, listed files), paths relative to the app."""
    found: dict[str, tuple[str, str, list[str]]] = {}
    for holder in _children(root, "resources"):
        for resource in _children(holder, "resource"):
            base = _attr(resource, "base")
            kind = (_attr(resource, "scormtype") or _attr(resource, "scormType")).lower()
            href = _path(base, _attr(resource, "href")) if _attr(resource, "href") else ""
            listed = [
                _path(base, _attr(f, "href"))
                for f in _children(resource, "file")
                if _attr(f, "href")
            ]
            found[_attr(resource, "identifier")] = (kind, href, listed)
    return found


def _path(base: str, href: str) -> str:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith("/"):
        raise ScormError(f"'{href}' in {MANIFEST} is not a file of the package")
    joined = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
    if joined.startswith("../") or joined in ("..", "."):
        raise ScormError(f"'{href}' in {MANIFEST} points outside the package")
    return joined + ("?" + parts.query if parts.query else "")


def _scos(root: ET.Element, resources: dict[str, tuple[str, str, list[str]]]) -> list[Sco]:
    organizations = _children(root, "organizations")
    holders = [o for group in organizations for o in _children(group, "organization")]
    if organizations and holders:
        default = _attr(organizations[0], "default")
        chosen = next((o for o in holders if _attr(o, "identifier") == default), holders[0])
        items = [el for el in chosen.iter() if _local(el.tag) == "item"]
    else:
        items = []
    scos: list[Sco] = []
    for item in items:
        kind, href, _ = resources.get(_attr(item, "identifierref"), ("", "", []))
        if kind != "sco" or not href:
            continue
        title = next((t.text or "" for t in _children(item, "title")), "").strip()
        path, _, query = href.partition("?")
        params = _attr(item, "parameters").lstrip("?")
        scos.append(
            Sco(
                _attr(item, "identifier"),
                title[:200],
                path,
                "&".join(filter(None, (query, params))),
            )
        )
    if len(scos) > MAX_SCOS:
        raise ScormError(f"{MANIFEST} names {len(scos)} SCOs; at most {MAX_SCOS} are played")
    return scos
