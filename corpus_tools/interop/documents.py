"""The ``documents`` format: canonical document JSONL (``schemas/document.schema.json``), both ways.

Reading runs the ``validate`` stage's stream over the file (strict JSON, the document schema and the per-document
checks, each problem located by line), so a document that is malformed (bad JSON, a span whose offsets do not
select its text, a relation to no span) is never converted.  Two kinds of checks are judged differently here:

* whether the labels fit the ontology (:data:`ONTOLOGY_CODES`) is the conversion's question, asked once after the
  label map: without a label map or ``--ontology`` a conversion keeps the source's labels as they are;
* the annotation guidelines' span checks (:data:`GUIDELINE_CODES`: edges, digits, emoji, repeated spans) are
  warnings: a corpus is converted with its own conventions, not refused for them.

Writing gives one compact JSON object per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from corpus_tools import codes as C
from corpus_tools.errors import InputError
from corpus_tools.interop.format import Context, Format
from corpus_tools.report import Problem, Report
from corpus_tools.spans import Document
from corpus_tools.validate.driver import iter_validated
from corpus_tools.validate.reading import sniff

# What the document rules say about labels against the ontology: the conversion's label check (with a map or
# --ontology) decides that, once, after the map; the reader keeps every other problem.
ONTOLOGY_CODES = frozenset({
    C.SPAN_UNKNOWN_LABEL, C.RELATION_UNKNOWN_LABEL, C.RELATION_DOMAIN, C.RELATION_RANGE,
    C.RELATION_SYMMETRIC_DIRECTION, C.RELATION_INNER_SPAN, C.SPAN_OVERLAP,
})
# What the annotation guidelines ask of a span: warnings in a conversion.
GUIDELINE_CODES = frozenset({
    C.SPAN_CONTAINS_DIGIT, C.SPAN_CONTAINS_EMOJI, C.SPAN_EDGE_CONTROL, C.SPAN_EDGE_PUNCTUATION, C.SPAN_EDGE_TATWEEL,
    C.SPAN_EDGE_WHITESPACE, C.SPAN_DUPLICATE, C.RELATION_DUPLICATE,
})


def _judged(problems: list[Problem]) -> list[Problem]:
    """The problems a conversion reports: without :data:`ONTOLOGY_CODES`, :data:`GUIDELINE_CODES` as warnings."""
    return [replace(p, severity="warning") if p.code in GUIDELINE_CODES and p.is_error else p
            for p in problems if p.code not in ONTOLOGY_CODES]


def iter_checked(path: Path, ctx: Context, kind: str, hint: str) -> Iterator[tuple[int, dict]]:
    """``(line or index, item)`` of each item of a document JSONL file (``kind`` ``documents``) or a Label Studio
    export (``export``) that passed the ``validate`` stage's checks; their problems go to ``ctx.report`` as
    :func:`_judged` says.  An item with an error is not yielded (the conversion then writes nothing).  Raises
    :class:`~corpus_tools.errors.InputError` when the file holds the other form (``hint`` says what to use)."""
    if not path.is_file():
        raise InputError(f"not a file: {path}" if path.exists() else f"no such file: {path}")
    found = sniff(path).kind
    if found in ("documents", "export") and found != kind:
        raise InputError(f"{path} holds {'document JSONL' if found == 'documents' else 'a Label Studio export'};"
                         f" {hint}")
    # one item's problems at a time, moved to ctx.report (which bounds them)
    local = Report(warnings_per_code=0)
    try:
        for _, position, item in iter_validated(path, local, ontology=ctx.ontology):
            wanted = _judged(local.take_problems())
            ctx.report.extend(wanted)
            if not any(p.is_error for p in wanted):
                yield position, item  # type: ignore[misc]
    finally:
        ctx.report.extend(_judged(local.take_problems()))
        ctx.report.merge(local)  # what it counted without keeping: the repeats of a once-per-field warning


def read_documents(path: Path, ctx: Context) -> Iterator[Document]:
    for _, item in iter_checked(path, ctx, "documents", "use --from labelstudio"):
        yield Document.from_dict(item)


def document_line(doc: Document) -> str:
    """One line of document JSONL (compact, UTF-8, no ASCII escapes)."""
    return json.dumps(doc.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


def write_documents(documents: Iterable[Document], path: Path, ctx: Context) -> None:
    with open(path, "x", encoding="utf-8", newline="\n") as out:
        for doc in documents:
            out.write(document_line(doc))


FORMAT = Format(
    name="documents",
    summary="The canonical document JSONL (one document per line, schemas/document.schema.json).",
    reader=read_documents,
    writer=write_documents,
    output="file",
)
