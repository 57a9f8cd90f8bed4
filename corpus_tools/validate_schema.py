"""The schema pass of ``validate``: a compiled fast path, and jsonschema for located details.

:class:`SchemaPass` compiles a schema twice.  ``jsonschema_rs`` answers "valid or not" for every
instance (most tasks are valid, so this is the whole cost); only when it says "invalid" does the
pure-Python ``jsonschema`` validator run, over the shared :func:`corpus_tools.schemas.registry`, to
produce errors with ``json_path`` and, for ``oneOf``/``anyOf`` failures, the most relevant nested
error (:func:`jsonschema.exceptions.best_match`).

Some schema failures are better explained by a semantic check with a specific code (an unknown
label is ``span-unknown-label``, a missing text is ``task-missing-text``); ``owned_elsewhere``
drops those so every defect is reported once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING

import jsonschema_rs

from corpus_tools.errors import SchemaError
from corpus_tools.schemas import load_schema, registry, schemas_dir

if TYPE_CHECKING:  # imported when an instance is invalid (0.1 s of imports valid data never pays)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


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
