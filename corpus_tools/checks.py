"""One task or one document checked on its own: the schema pass, then the rules.

:class:`ItemChecker` is what every stage that reads annotations calls per item: ``validate`` streams an
export through it, the build's workers check their segments with it, and Label Studio uploads check
each prediction with :func:`validate_document`, so the three never disagree about an item.  Checks that
need every item (repeated article ids) are the validate driver's whole-export step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from corpus_tools import codes as C
from corpus_tools.artefacts import ontology_to_export_schema
from corpus_tools.ontology import Ontology, load_ontology
from corpus_tools.report import Problem, make_problem
from corpus_tools.rules import SemanticChecker, SpanReads
from corpus_tools.schemas import SchemaPass, describe, load_schema


# ---------------------------------------------------------------------------------------------- schema
def _owned_by_semantic_pass(schema: dict) -> Callable[[Any], bool]:
    """Schema errors that a semantic check reports with a more specific code (reported once, there)."""
    label_defs = (schema["$defs"]["span_label"], schema["$defs"]["relation_label"])

    def missing(error: Any, name: str) -> bool:  # jsonschema reports one "required" error per property
        return error.validator == "required" and error.message == f"{name!r} is a required property"

    def owned(error: Any) -> bool:
        path = list(error.absolute_path)
        if error.validator == "enum" and type(error.instance) is str and any(error.schema is d for d in label_defs):
            return True  # span-unknown-label / relation-unknown-label (they read string labels only)
        if path and path[-1] == "value" and missing(error, "labels"):
            return True  # span-missing-label
        if path[:2] == ["data", "meta"]:
            return True  # meta-type
        if path == ["data", "text"] or (path == ["data"] and (missing(error, "text") or error.validator == "type")):
            return True  # task-missing-text
        return not path and missing(error, "data")

    return owned


@lru_cache(maxsize=8)
def _compiled(ontology: Ontology) -> tuple[SchemaPass, SchemaPass]:
    """The export schema narrowed to the ontology, and the document schema, compiled once."""
    export_schema = ontology_to_export_schema(ontology)
    return (
        SchemaPass(export_schema, owned_elsewhere=_owned_by_semantic_pass(export_schema)),
        SchemaPass(load_schema("document.schema.json")),
    )


class ItemChecker:
    """One validation run: compiled schemas, a semantic checker and its counts."""

    def __init__(self, ontology: Ontology) -> None:
        self.task_schema, self.document_schema = _compiled(ontology)
        self.semantic = SemanticChecker(ontology)
        self.file_failed = False  # the input could not be read to its end (or a line of it at all)

    def task(self, task: object, index: int | None, out: list[Problem], *, file: str | None = None,
             keep_reads: bool = False) -> dict[int, SpanReads]:
        """Check one task (item ``index`` of the export ``file``, which every problem names) into ``out``; with
        ``keep_reads``, return what the semantic checks read of its annotations
        (:meth:`~corpus_tools.rules.SemanticChecker.check_task`)."""
        root = "$" if index is None else f"$[{index}]"
        if type(task) is not dict:
            where = "the export" if index is None else f"item {index} of the array"
            out.append(
                make_problem(
                    C.TASK_NOT_OBJECT,
                    f"{where.capitalize()} is {type(task).__name__}, not a task object; the export must be a JSON"
                    " array of task objects (export again from Label Studio as JSON).",
                    file=file,
                    json_path=root,
                )
            )
            return {}
        task_id = task.get("id")
        if not self.task_schema.is_valid(task):
            for error in self.task_schema.details(task):
                relative = list(error.absolute_path)
                annotation_id = None
                if len(relative) > 1 and relative[0] in ("annotations", "predictions"):
                    container = task.get(relative[0])
                    item = container[relative[1]] if isinstance(container, list) else None
                    annotation_id = item.get("id") if isinstance(item, dict) else None
                json_path = root + error.json_path[1:]
                out.append(
                    make_problem(
                        C.EXPORT_SCHEMA,
                        f"{describe(error)}; fix the value at {json_path} to match the export schema.",
                        file=file,
                        task_id=task_id,
                        annotation_id=annotation_id,
                        json_path=json_path,
                    )
                )
        return self.semantic.check_task(task, root, out, file=file, keep_reads=keep_reads)

    def document(self, doc: object, line: int | None, out: list[Problem], *, file: str | None = None,
                 task_id: int | str | None = None) -> None:
        if type(doc) is not dict:
            out.append(
                make_problem(
                    C.DOCUMENT_NOT_OBJECT,
                    f"The line holds {type(doc).__name__}, not a document object; write one JSON object per line.",
                    file=file,
                    line=line,
                    task_id=task_id,
                    json_path="$",
                )
            )
            return
        if not self.document_schema.is_valid(doc):
            meta = doc.get("meta")
            if task_id is None and isinstance(meta, dict):
                task_id = meta.get("task_id")
            for error in self.document_schema.details(doc):
                out.append(
                    make_problem(
                        C.DOCUMENT_SCHEMA,
                        f"{describe(error)}; fix the value at {error.json_path} to match"
                        " schemas/document.schema.json.",
                        file=file,
                        line=line,
                        task_id=task_id,
                        json_path=error.json_path,
                    )
                )
        self.semantic.check_document(doc, out, line=line, file=file, task_id=task_id)

    def stats(self) -> dict[str, object]:
        return dict(self.semantic.counts)


@lru_cache(maxsize=1)
def default_ontology() -> Ontology:
    return load_ontology()


# ---------------------------------------------------------------------------------------------- public API


def validate_task(task: Mapping[str, Any], *, ontology: Ontology | None = None,
                  index: int | None = None, file: str | None = None) -> list[Problem]:
    """Every problem of one in-memory Label Studio task (schema and semantic passes).

    ``index`` is the task's position in an export array: paths then start with ``$[index]``,
    otherwise with ``$``; ``file`` (the export) locates the problems too.  Checks across tasks
    (duplicate article ids) need :func:`corpus_tools.validate.driver.validate_export`.
    """
    out: list[Problem] = []
    ItemChecker(ontology or default_ontology()).task(task, index, out, file=file)
    return out


def validate_document(doc: Mapping[str, Any], *, ontology: Ontology | None = None, line: int | None = None,
                      file: str | None = None, task_id: int | str | None = None) -> list[Problem]:
    """Every problem of one canonical document (``schemas/document.schema.json`` plus semantic checks).

    ``file``, ``line`` and ``task_id`` locate the problems (``task_id`` defaults to the document's
    ``meta.task_id``); JSON paths start at the document (``$.entities[2].label``).
    """
    out: list[Problem] = []
    ItemChecker(ontology or default_ontology()).document(doc, line, out, file=file, task_id=task_id)
    return out
