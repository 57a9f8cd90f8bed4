"""Every JSON Schema in ``schemas/`` loaded once into one registry, and the one way to validate against them.

Schemas are addressed by file name (``ontology.schema.json``) or by their ``$id``.  In an
installed wheel they live in ``corpus_tools/_data/schemas``; in a source checkout, in the
top-level ``schemas/`` folder.

:class:`SchemaPass` compiles a schema twice.  ``jsonschema_rs`` answers "valid or not" for every
instance (most instances are valid, so this is the whole cost); only when it says "invalid" does the
pure-Python ``jsonschema`` validator run, over the shared :func:`registry`, to produce errors with
``json_path`` and, for ``oneOf``/``anyOf`` failures, the most relevant nested error
(:func:`jsonschema.exceptions.best_match`).

Some schema failures are better explained by a semantic check with a specific code (an unknown
label is ``span-unknown-label``, a missing text is ``task-missing-text``); ``owned_elsewhere``
drops those so every defect is reported once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema_rs

from corpus_tools.errors import SchemaError

if TYPE_CHECKING:  # jsonschema and referencing are imported on first use: valid data never needs them
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

_PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_BASE = "https://corpus-tools.dev/schemas/"


def data_path(name: str) -> Path:
    """Path of a bundled data file: the wheel's copy, else the source checkout's."""
    packaged = _PACKAGE_DIR / "_data" / name
    if packaged.exists():
        return packaged
    mapping = {"schemas": "schemas", "ontology.yaml": "annotations/ontology.yaml"}
    return _PACKAGE_DIR.parent / mapping.get(name, name)


def schemas_dir() -> Path:
    return data_path("schemas")


@cache
def _load_all() -> dict[str, dict]:
    directory = schemas_dir()
    if not directory.is_dir():
        raise SchemaError(f"schema folder not found: {directory}")
    by_name: dict[str, dict] = {}
    for path in sorted(directory.glob("*.schema.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SchemaError(f"cannot read schema {path.name}: {exc}") from exc
        schema_id = schema.get("$id")
        if schema_id != SCHEMA_BASE + path.name:
            raise SchemaError(f"schema {path.name} must have $id {SCHEMA_BASE + path.name!r}")
        if not jsonschema_rs.meta.is_valid(schema):  # compiled meta-schema check; jsonschema says why
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError as JsonSchemaError

            try:
                Draft202012Validator.check_schema(schema)
            except JsonSchemaError as exc:
                raise SchemaError(f"schema {path.name} is not a valid JSON Schema: {exc.message}") from exc
        by_name[path.name] = schema
    return by_name


@cache
def registry() -> Registry:
    """Every bundled schema by ``$id`` (for the pure-Python validators)."""
    from referencing import Registry, Resource

    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in _load_all().values())


def load_schema(name: str) -> dict:
    """The schema document for a file name such as ``document.schema.json``."""
    by_name = _load_all()
    if name not in by_name:
        raise SchemaError(f"no bundled schema named {name!r}")
    return by_name[name]


def validator_for(schema: dict | str) -> Draft202012Validator:
    """A draft 2020-12 validator for a schema (or a bundled schema's name) over the shared registry."""
    from jsonschema import Draft202012Validator

    if isinstance(schema, str):
        schema = load_schema(schema)
    return Draft202012Validator(schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def _rs_registry() -> jsonschema_rs.Registry:
    """Every bundled schema by ``$id``, for ``$ref``s across files in the compiled validator."""
    resources = []
    for path in sorted(schemas_dir().glob("*.schema.json")):
        schema = load_schema(path.name)
        resources.append((schema["$id"], schema))
    return jsonschema_rs.Registry(resources)


class SchemaPass:
    """Validate instances against one schema: compiled yes/no first, located errors on demand."""

    def __init__(self, schema: dict, *, owned_elsewhere: Callable[[ValidationError], bool] | None = None) -> None:
        try:
            self._fast = jsonschema_rs.validator_for(schema, registry=_rs_registry())
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise SchemaError(f"cannot compile schema {schema.get('$id')}: {exc}") from exc
        self._schema = schema
        self._slow: Draft202012Validator | None = None
        self._owned_elsewhere = owned_elsewhere

    def is_valid(self, instance: object) -> bool:
        return self._fast.is_valid(instance)

    def errors(self, instance: object) -> list[ValidationError]:
        """Every error of an instance, ordered by JSON path (empty when valid): the compiled validator answers
        yes/no, and only an invalid instance is walked again by jsonschema to locate its errors."""
        if self._fast.is_valid(instance):
            return []
        if self._slow is None:
            from jsonschema import Draft202012Validator

            self._slow = Draft202012Validator(self._schema, registry=registry())
        return sorted(self._slow.iter_errors(instance), key=lambda e: e.json_path)

    def details(self, instance: object) -> Iterator[ValidationError]:
        """Located errors of an instance :meth:`is_valid` rejected, the most relevant nested error for each
        failure (an empty iterator for a valid instance)."""
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import best_match

        if self._slow is None:
            self._slow = Draft202012Validator(self._schema, registry=registry())
        for error in self._slow.iter_errors(instance):
            if error.context:
                error = best_match([error])
            if self._owned_elsewhere is not None and self._owned_elsewhere(error):
                continue
            yield error


@cache
def bundled_pass(name: str) -> SchemaPass:
    """A bundled schema (by file name, such as ``manifest.schema.json``) compiled once per process."""
    return SchemaPass(load_schema(name))


def describe(error: ValidationError) -> str:
    """A one-line message for a schema error (long instances shortened)."""
    message = error.message
    if len(message) > 300:
        instance = json.dumps(error.instance, ensure_ascii=False)
        message = f"{instance[:80]}... is not valid under the {error.validator!r} rule {error.validator_value!r}"
    return message
