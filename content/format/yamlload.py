"""YAML loading that remembers the line of every value.

PyYAML's plain ``safe_load`` forgets where values came from and silently keeps the last
of two duplicate keys. Authors need ``file:line`` messages, so we compose the node tree
and convert it ourselves, recording a line for each path (``("lessons", 3)`` → 12).
Anchors and aliases are refused: no course needs them, and they enable "billion laughs".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from content.errors import ContentError

JsonPath = tuple[str | int, ...]

# libyaml's parser is about ten times faster and reports the same marks; fall back to the
# pure-Python one where PyYAML was built without it.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Timestamps are kept as the text the author wrote: the format has no date fields, and a
# ``datetime`` would only produce a confusing "is not of type string" later on.
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}


@dataclass
class LineMap:
    """Lines (1-based, in the whole file) of every value and key in a YAML document."""

    lines: dict[JsonPath, int] = field(default_factory=dict)
    default: int = 1

    def line_of(self, path: JsonPath) -> int:
        """Line of the value at ``path``, or of its nearest known parent."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, self.default)


@dataclass
class YamlDocument:
    """A parsed YAML document with its line map and the duplicate keys found in it."""

    data: Any
    lines: LineMap
    duplicates: list[tuple[str, int]] = field(default_factory=list)


def load_yaml(text: str, file: str, line_offset: int = 0) -> YamlDocument:
    """Parse one YAML document; raise :class:`ContentError` with ``file:line`` on bad YAML.

    ``line_offset`` is added to every line, for YAML embedded in a larger file (front matter).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        raise ContentError(f"invalid YAML: {exc.problem or exc.context}", file, line) from exc
    except yaml.YAMLError as exc:
        raise ContentError(f"invalid YAML: {exc}", file, line_offset + 1) from exc
    finally:
        loader.dispose()
    doc = YamlDocument(data=None, lines=LineMap(default=line_offset + 1))
    if node is not None:
        converter = _Converter(loader, file, line_offset, doc)
        doc.data = converter.convert(node, ())
    return doc


class _Converter:
    """Turns a composed node tree into plain Python values, recording lines."""

    def __init__(self, loader: yaml.SafeLoader, file: str, offset: int, doc: YamlDocument):
        self.loader = loader
        self.file = file
        self.offset = offset
        self.doc = doc
        self.seen: set[int] = set()

    def line(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1 + self.offset

    def convert(self, node: yaml.Node, path: JsonPath, where: int | None = None) -> Any:
        # ``where`` is the line of the key or dash that introduced the value: for an alias,
        # the node's own mark points at the anchor, not at the use; for a nested mapping
        # or list, at its first item, while the author looks for the key ("quiz:").
        self.doc.lines.lines[path] = where or self.line(node)
        if id(node) in self.seen:
            # The composer hands back the same node object for an alias.
            raise ContentError(
                "YAML anchors and aliases (& and *) are not allowed; write the value out in full",
                self.file,
                where or self.line(node),
            )
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        raise ContentError("unsupported YAML node", self.file, self.line(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag in _TEXT_TAGS:
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise ContentError(
                f"invalid YAML value: {exc.problem}", self.file, self.line(node)
            ) from exc

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ContentError(
                    "mapping keys must be plain text", self.file, self.line(key_node)
                )
            key = str(self.scalar(key_node))
            if key in result:
                self.doc.duplicates.append((".".join(map(str, (*path, key))), self.line(key_node)))
            result[key] = self.convert(value_node, (*path, key), self.line(key_node))
        return result
