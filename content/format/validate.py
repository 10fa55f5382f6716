"""JSON Schema validation (draft 2020-12) with messages an author can act on.

jsonschema's own messages ("'x' is not one of [...]") are precise but terse; we rephrase
the common ones and attach the YAML line of the offending value.

Two validators read the same schema files. :func:`is_valid` asks jsonschema-rs (compiled,
about 100 times faster: 4 ms instead of 0.4 s for the manifest of a 2,000-lesson course,
which every import checks before it writes anything). Only when it says no does the pure
Python ``jsonschema`` run, to describe each problem as above. jsonschema-rs reads patterns
as ECMA-262 regular expressions, where ``$`` never matches before a final newline, so it
can only be the stricter of the two; a test compares them on many broken manifests.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

# No stubs for jsonschema are installed (types-jsonschema is not a dependency).
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from jsonschema_rs import Draft202012Validator as CompiledValidator

from content.errors import ContentError
from content.format.yamlload import JsonPath, LineMap


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    text = (
        resources.files("content.format").joinpath(f"schemas/{name}.schema.json").read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator for ``content/schemas/<name>.schema.json`` (loaded once)."""
    return Draft202012Validator(_schema(name))


@functools.cache
def _compiled(name: str) -> CompiledValidator:
    return CompiledValidator(_schema(name))


def is_valid(name: str, data: Any) -> bool:
    """Whether ``data`` meets schema ``name``: the fast check (see the module docstring)."""
    return _compiled(name).is_valid(data)


def first_compiled_error(name: str, data: Any) -> str:
    """The fast validator's own description of the first problem (``data`` is invalid)."""
    for error in _compiled(name).iter_errors(data):
        where = "/".join(map(str, error.instance_path)) or "(top)"
        return f"{where}: {error.message}"
    return "(top): not valid"


def schema_errors(
    name: str, data: Any, file: str, lines: LineMap | None = None
) -> list[ContentError]:
    """Validate ``data`` against schema ``name``; one :class:`ContentError` per problem."""
    if is_valid(name, data):
        return []
    errors = sorted(validator(name).iter_errors(data), key=lambda e: list(map(str, e.path)))
    result = []
    for error in errors:
        for leaf in _leaves(error):
            line = lines.line_of(_field_path(name, leaf)) if lines else None
            result.append(ContentError(describe(leaf), file, line))
    return result or [ContentError(first_compiled_error(name, data), file)]


def _field_path(name: str, error: ValidationError) -> JsonPath:
    """The path of the field an author must change, for its line.

    Mostly the value the error is about. An unknown field: that field, not the mapping
    holding it. A field required because of another one ("kind: video" needs "media"):
    the field that asked for it.
    """
    path: JsonPath = tuple(error.absolute_path)
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = [key for key in instance if key not in known]
        return (*path, extra[0]) if extra else path
    schema_path = list(error.absolute_schema_path)
    if error.validator == "required" and schema_path[-2:] == ["then", "required"]:
        condition = _schema_at(_schema(name), schema_path[:-2]).get("if", {})
        asking = [key for key in condition.get("properties", {}) if key in instance]
        return (*path, asking[0]) if asking else path
    return path


def _schema_at(schema: Any, path: list[Any]) -> dict[str, Any]:
    for step in path:
        schema = schema[step]
    return schema if isinstance(schema, dict) else {}


def _leaves(error: ValidationError) -> list[ValidationError]:
    # "if/then" and "allOf" wrap the useful error; report what is really wrong.
    if error.context and error.validator in ("allOf", "then"):
        return [leaf for sub in error.context for leaf in _leaves(sub)]
    return [error]


def describe(error: ValidationError) -> str:
    """Turn one jsonschema error into a sentence that says what to change."""
    where = _field_name(tuple(error.absolute_path))
    kind = error.validator
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return f"{where}: missing required field '{missing}'"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{where}: unknown field(s) {', '.join(map(repr, extra))}; allowed: {known}"
    if kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        return f"{where}: {error.instance!r} is not allowed; use one of: " + ", ".join(
            map(str, allowed)
        )
    if kind == "type":
        return f"{where}: must be {_type_words(error.validator_value)}, not {error.instance!r}"
    if kind == "pattern":
        return f"{where}: {error.instance!r} has the wrong form (expected {error.validator_value})"
    return f"{where}: {error.message}"


def _field_name(path: JsonPath) -> str:
    if not path:
        return "top level"
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _type_words(value: Any) -> str:
    names = {
        "string": "text",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "array": "a list",
        "object": "a mapping",
    }
    if isinstance(value, list):
        return " or ".join(names.get(str(v), str(v)) for v in value)
    return names.get(value, str(value))
