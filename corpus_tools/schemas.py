"""Every JSON Schema in ``schemas/`` loaded once into one ``referencing.Registry``.

Schemas are addressed by file name (``ontology.schema.json``) or by their ``$id``.  In an
installed wheel they live in ``corpus_tools/_data/schemas``; in a source checkout, in the
top-level ``schemas/`` folder.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema_rs

from corpus_tools.errors import SchemaError

if TYPE_CHECKING:  # jsonschema and referencing are imported on first use (0.1 s): valid data never needs them
    from jsonschema import Draft202012Validator
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
