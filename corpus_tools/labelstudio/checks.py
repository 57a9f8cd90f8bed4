"""Checks on canonical spans and relations before they are uploaded to Label Studio.

Label Studio validates nothing in results: labels outside the config, offsets past the end of
the text, relations to missing regions and wrong ``value.text`` are all stored as sent.  So
every prediction or annotation the toolkit uploads passes :func:`check_document` first; the
problems are located by file, line and JSON path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from corpus_tools.ontology import Ontology
from corpus_tools.report import Problem, define_code, make_problem
from corpus_tools.spans import Document, Span

STAGE = "labelstudio"
UPLOAD_INVALID_RECORD = define_code(
    "upload-invalid-record", "error",
    "A line of the predictions file is not JSON or does not match schemas/document.schema.json.", stage=STAGE,
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
    "A prediction names a document id that is not an article of the import.", stage=STAGE,
)
UPLOAD_TEXT_MISMATCH = define_code(
    "upload-text-mismatch", "error",
    "A prediction's document text differs from the article text, so its offsets cannot be trusted.", stage=STAGE,
)
UPLOAD_MISSING_MODEL_VERSION = define_code(
    "upload-missing-model-version", "error",
    "A prediction has no model version (meta.model_version, or --model-version).", stage=STAGE,
)
UPLOAD_UNKNOWN_LABEL = define_code(
    "upload-unknown-label", "error", "A span label is not an entity label of the ontology.", stage=STAGE,
)
UPLOAD_UNKNOWN_RELATION = define_code(
    "upload-unknown-relation", "error", "A relation label is not a relation label of the ontology.", stage=STAGE,
)
UPLOAD_OFFSETS = define_code(
    "upload-offsets-out-of-range", "error",
    "A span's offsets are not 0 <= start < end <= len(text) (code points, end-exclusive).", stage=STAGE,
)
UPLOAD_SPAN_TEXT = define_code(
    "upload-span-text-mismatch", "error", "A span's text is not text[start:end].", stage=STAGE,
)
UPLOAD_DUPLICATE_SPAN_ID = define_code(
    "upload-duplicate-span-id", "error", "Two spans of one document share an id (region ids must be unique).",
    stage=STAGE,
)
UPLOAD_DANGLING_RELATION = define_code(
    "upload-dangling-relation", "error", "A relation's head or tail is not the id of a span of the document.",
    stage=STAGE,
)
UPLOAD_RELATION_DOMAIN = define_code(
    "upload-relation-domain", "error",
    "A relation links entity types the ontology does not allow for that relation.", stage=STAGE,
)
UPLOAD_SPAN_OVERLAP = define_code(
    "upload-span-overlap", "error", "Two spans overlap in a way the ontology's overlap policy forbids.", stage=STAGE,
)


def _overlap_forbidden(a: Span, b: Span, policy: str) -> bool:
    if policy == "any" or not a.overlaps(b):
        return False
    if policy == "forbid":
        return True
    return not (a.contains(b) or b.contains(a))  # nested: inside is fine, crossing is not


def check_document(
    document: Document,
    ontology: Ontology,
    *,
    text: str | None = None,
    file: str | None = None,
    line: int | None = None,
    task_id: int | None = None,
) -> list[Problem]:
    """Problems that would make the document's spans and relations wrong in Label Studio.

    ``text`` is the text the task really holds (the article's); offsets are checked against it.
    """
    where: dict[str, object] = {"file": file, "line": line, "task_id": task_id}
    problems: list[Problem] = []

    def add(code: str, message: str, json_path: str) -> None:
        problems.append(make_problem(code, message, json_path=json_path, **where))

    stored = document.text if text is None else text
    if text is not None and document.text != text:
        add(UPLOAD_TEXT_MISMATCH, f"Document {document.id!r} has a text that differs from its article's; export"
            " predictions from the imported article text.", "$.text")
    labels = set(ontology.entity_labels)
    by_id: dict[str, Span] = {}
    valid_spans: list[tuple[int, Span]] = []
    for i, span in enumerate(document.entities):
        path = f"$.entities[{i}]"
        ok = True
        if span.label not in labels:
            add(UPLOAD_UNKNOWN_LABEL, f"Label {span.label!r} is not in the ontology ({', '.join(sorted(labels))}).",
                f"{path}.label")
            ok = False
        if not 0 <= span.start < span.end <= len(stored):
            add(UPLOAD_OFFSETS, f"Span {span.start}-{span.end} does not fit a text of {len(stored)} code points.",
                path)
            ok = False
        elif stored[span.start : span.end] != span.text:
            add(UPLOAD_SPAN_TEXT, f"Span {span.start}-{span.end} says {span.text!r} but the text there is"
                f" {stored[span.start:span.end]!r}; offsets are code points, end-exclusive.", f"{path}.text")
            ok = False
        if span.id in by_id:
            add(UPLOAD_DUPLICATE_SPAN_ID, f"Span id {span.id!r} is used twice; give each span its own id.",
                f"{path}.id")
            ok = False
        by_id.setdefault(span.id, span)
        if ok:
            valid_spans.append((i, span))
    ordered = sorted(valid_spans, key=lambda pair: (pair[1].start, -pair[1].end))
    for n, (i, span) in enumerate(ordered):
        for j, other in ordered[n + 1 :]:
            if other.start >= span.end:
                break
            if _overlap_forbidden(span, other, ontology.overlap):
                add(UPLOAD_SPAN_OVERLAP, f"Spans {span.id!r} and {other.id!r} overlap, which the ontology's"
                    f" overlap policy {ontology.overlap!r} forbids.", f"$.entities[{max(i, j)}]")
    for i, rel in enumerate(document.relations):
        path = f"$.relations[{i}]"
        rel_type = ontology.relation(rel.label)
        if rel_type is None:
            add(UPLOAD_UNKNOWN_RELATION, f"Relation label {rel.label!r} is not in the ontology.", f"{path}.label")
        missing = [side for side, ref in (("head", rel.head), ("tail", rel.tail)) if ref not in by_id]
        for side in missing:
            add(UPLOAD_DANGLING_RELATION, f"Relation {side} {getattr(rel, side)!r} is not a span id of the document.",
                f"{path}.{side}")
        if rel_type is not None and not missing:
            head, tail = by_id[rel.head].label, by_id[rel.tail].label
            if not rel_type.allows(head, tail):
                add(UPLOAD_RELATION_DOMAIN, f"{rel.label} does not link {head} to {tail} (allowed: head"
                    f" {'/'.join(rel_type.head)}, tail {'/'.join(rel_type.tail)}).", path)
    return problems


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
