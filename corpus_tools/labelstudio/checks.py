"""Checks on canonical documents before their spans and relations are uploaded to Label Studio.

Label Studio validates nothing in results: labels outside the config, offsets past the end of
the text, relations to missing regions and wrong ``value.text`` are all stored as sent.  So
every prediction or annotation the toolkit uploads passes :func:`check_document` first.  The
span, relation and ontology rules are the validator's own (:func:`corpus_tools.checks.validate_document`,
codes such as ``span-text-mismatch`` and ``relation-domain``), so an upload and ``corpus-tools
validate`` never disagree; this module adds only what is specific to uploading (the ``upload-*``
codes: the task's text, unknown articles, unreadable input lines, model versions).  Errors block
an upload, warnings are reported.  Problems are located by file, line, task id and JSON path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from corpus_tools.checks import validate_document
from corpus_tools.ontology import Ontology
from corpus_tools.report import Problem, define_code, make_problem
from corpus_tools.spans import Document

STAGE = "labelstudio"
UPLOAD_INVALID_RECORD = define_code(
    "upload-invalid-record", "error",
    "A line of a predictions or annotations file (document JSONL) is not JSON or does not match"
    " schemas/document.schema.json.", stage=STAGE,
)
UPLOAD_INVALID_ARTICLE = define_code(
    "upload-invalid-article", "error",
    "A line of the articles file is not JSON or does not match schemas/article.schema.json.", stage=STAGE,
)
UPLOAD_DUPLICATE_ARTICLE = define_code(
    "upload-duplicate-article", "warning",
    "An article id appears twice in the articles file; only the first is imported.", stage=STAGE,
)
UPLOAD_UNKNOWN_ARTICLE = define_code(
    "upload-unknown-article", "error",
    "A document id is not an article of the import (predictions) or a task of the project (annotations).",
    stage=STAGE,
)
UPLOAD_TEXT_MISMATCH = define_code(
    "upload-text-mismatch", "error",
    "A document's text differs from the text of its article or task, so its offsets cannot be trusted.",
    stage=STAGE,
)
UPLOAD_TEXT_CHANGED = define_code(
    "upload-text-changed", "warning",
    "An article is already a task of the project under its id, with another text (the source fixed it); the task"
    " is left as it is. `ls import --update-changed` replaces its text in place.", stage=STAGE,
)
UPLOAD_SPAN_REMOVED = define_code(
    "upload-span-removed", "warning",
    "`ls import --update-changed` replaced a task's text: a span of an annotation or prediction touched text that"
    " changed (or a relation pointed at such a span), so it was removed (its old offsets are in details); annotate"
    " it again.", stage=STAGE,
)
UPLOAD_MISSING_MODEL_VERSION = define_code(
    "upload-missing-model-version", "error",
    "A prediction has no model version (meta.model_version, or --model-version).", stage=STAGE,
)
UPLOAD_PREDICTION_TEXT_DIFFERS = define_code(
    "upload-prediction-text-differs", "warning",
    "A document's text differs from the text of the task with its id (a rebuilt or edited text); its prediction is"
    " skipped, never put on offsets of another text.", stage=STAGE,
)


def check_document(
    document: Document | Mapping[str, Any],
    ontology: Ontology,
    *,
    text: str | None = None,
    file: str | None = None,
    line: int | None = None,
    task_id: int | None = None,
) -> list[Problem]:
    """Every problem that would make the document wrong in Label Studio, errors and warnings alike.

    ``text`` is the text the task really holds (the article's): a document whose text differs is
    ``upload-text-mismatch``.  Everything else (schema, labels, offsets, span text and edges,
    overlaps, relations) is :func:`corpus_tools.checks.validate_document`, the same checks as
    ``corpus-tools validate``.  Only errors block an upload (:func:`blocking`).
    """
    record = document.to_dict() if isinstance(document, Document) else document
    problems: list[Problem] = []
    if text is not None and record.get("text") != text:
        problems.append(make_problem(
            UPLOAD_TEXT_MISMATCH,
            f"Document {record.get('id')!r} has a text that differs from its task's stored text; its offsets must"
            " count into the text exactly as imported, so write the document from the article text.",
            file=file, line=line, task_id=task_id, json_path="$.text",
        ))
    problems.extend(validate_document(record, ontology=ontology, file=file, line=line, task_id=task_id))
    return problems


def blocking(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that refuse an upload: the errors (warnings are reported, never blocking)."""
    return [p for p in problems if p.is_error]


def labels_used(results: Iterable[Mapping[str, object]]) -> set[str]:
    """Every span and relation label used in Label Studio result lists."""
    used: set[str] = set()
    for item in results:
        if item.get("type") == "labels":
            value = item.get("value") or {}
            used.update(value.get("labels") or [] if isinstance(value, Mapping) else [])
        elif item.get("type") == "relation":
            used.update(item.get("labels") or [])
    return used
