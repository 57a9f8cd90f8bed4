"""Every JSON Schema in ``schemas/`` loaded once into one ``referencing.Registry``.

Schemas are addressed by file name (``ontology.schema.json``) or by their ``$id``.  In an
installed wheel they live in ``corpus_tools/_data/schemas``; in a source checkout, in the
top-level ``schemas/`` folder.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError
from referencing import Registry, Resource

from corpus_tools.errors import SchemaError

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
def _load_all() -> tuple[Registry, dict[str, dict]]:
    directory = schemas_dir()
    if not directory.is_dir():
        raise SchemaError(f"schema folder not found: {directory}")
    by_name: dict[str, dict] = {}
    registry: Registry = Registry()
    for path in sorted(directory.glob("*.schema.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SchemaError(f"cannot read schema {path.name}: {exc}") from exc
        schema_id = schema.get("$id")
        if schema_id != SCHEMA_BASE + path.name:
            raise SchemaError(f"schema {path.name} must have $id {SCHEMA_BASE + path.name!r}")
        if not jsonschema_rs.meta.is_valid(schema):  # compiled meta-schema check; jsonschema says why
            try:
                Draft202012Validator.check_schema(schema)
            except JsonSchemaError as exc:
                raise SchemaError(f"schema {path.name} is not a valid JSON Schema: {exc.message}") from exc
        by_name[path.name] = schema
        registry = registry.with_resource(schema_id, Resource.from_contents(schema))
    return registry, by_name


def registry() -> Registry:
    return _load_all()[0]


def load_schema(name: str) -> dict:
    """The schema document for a file name such as ``document.schema.json``."""
    by_name = _load_all()[1]
    if name not in by_name:
        raise SchemaError(f"no bundled schema named {name!r}")
    return by_name[name]


def validator_for(schema: dict | str) -> Draft202012Validator:
    """A draft 2020-12 validator for a schema (or a bundled schema's name) over the shared registry."""
    if isinstance(schema, str):
        schema = load_schema(schema)
    return Draft202012Validator(schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)
