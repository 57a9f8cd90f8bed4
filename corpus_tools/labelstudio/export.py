"""Pure conversion from Label Studio export tasks to canonical records.

A Label Studio task holds several annotations (one per annotator) and predictions.  Each
becomes an :class:`AnnotationRecord` with canonical :class:`~corpus_tools.spans.Span` and
:class:`~corpus_tools.spans.Relation` objects:

* span text is recomputed from the stored text (``value.text`` is never trusted: Label Studio
  collapses whitespace runs in it);
* a relation's direction is resolved: ``right`` is from → to, ``left`` is to → from, ``bi``
  keeps from → to; relation ids are content-based (``head|label|tail``) so they are stable
  across exports;
* result items of other types are ignored (the validator reports them).

These functions assume a result that passed validation; they skip what they cannot read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from corpus_tools.artefacts import LS_DATA_KEY
from corpus_tools.labelstudio.tasks import ARTICLE_ID_KEY
from corpus_tools.offsets import as_offset
from corpus_tools.spans import Document, Relation, Span, relation_id

RecordKind = Literal["annotation", "prediction"]


@dataclass
class AnnotationRecord:
    """One annotation or prediction of one task, in canonical form."""

    task_id: int
    document_id: str
    kind: RecordKind
    id: int | None
    entities: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    annotator: str | None = None
    lead_time: float | None = None
    cancelled: bool = False
    ground_truth: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    model_version: str | None = None
    score: float | None = None


def task_document_id(task: Mapping[str, object]) -> str:
    """The article id a task carries, or ``task-<id>`` for tasks imported by other tools."""
    data = task.get("data") or {}
    article_id = data.get(ARTICLE_ID_KEY) if isinstance(data, Mapping) else None
    return str(article_id) if article_id else f"task-{task.get('id')}"


def task_text(task: Mapping[str, object]) -> str:
    data = task.get("data") or {}
    return data.get(LS_DATA_KEY, "") if isinstance(data, Mapping) else ""


def read_result(result: Iterable[object], text: str) -> tuple[list[tuple], list[tuple]]:
    """``(start, end, label, id, text)`` spans and ``(head, tail, label, id)`` relations of a result list, as
    plain tuples (the parallel build reads every annotation of an export with this)."""
    spans: list[tuple] = []
    relations: list[tuple] = []
    add_span, add_relation = spans.append, relations.append
    for item in result:
        if type(item) is not dict and not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "labels":
            value = item.get("value") or {}
            labels = value.get("labels")
            start = value.get("start")
            end = value.get("end")
            if type(start) is not int or type(end) is not int:  # 13.0 is the offset 13, as validation reads it
                start, end = as_offset(start), as_offset(end)
            if not labels or start is None or end is None:
                continue
            span_id = item.get("id", "")
            add_span((start, end, labels[0], span_id if type(span_id) is str else str(span_id), text[start:end]))
        elif kind == "relation":
            _read_relation(item, add_relation)
    return spans, relations


def _read_relation(item: Mapping, add: Callable[[tuple], None]) -> None:
    labels = item.get("labels")
    if not labels:
        return
    head, tail = item.get("from_id"), item.get("to_id")
    head = head if type(head) is str else str(head)
    tail = tail if type(tail) is str else str(tail)
    if item.get("direction") == "left":
        head, tail = tail, head
    label = labels[0]
    add((head, tail, label, relation_id(head, label, tail)))


def result_to_spans_relations(result: Iterable[object], text: str) -> tuple[list[Span], list[Relation]]:
    """Canonical spans and relations from a Label Studio result list."""
    spans, relations = read_result(result, text)
    return (
        [Span(start=start, end=end, label=label, id=span_id, text=span_text)
         for start, end, label, span_id, span_text in spans],
        [Relation(head=head, tail=tail, label=label, id=rel_id) for head, tail, label, rel_id in relations],
    )


def annotator_of(value: object) -> str | None:
    """The annotator of a ``completed_by`` value: its e-mail (or id) when it is a user object, else the value."""
    if isinstance(value, Mapping):
        return str(value.get("email") or value.get("id"))
    return None if value is None else str(value)


def task_to_records(task: Mapping[str, object]) -> Iterator[AnnotationRecord]:
    """Every annotation, then every full prediction object, of one export task."""
    text = task_text(task)
    doc_id = task_document_id(task)
    task_id = int(task.get("id") or 0)
    items = [("annotation", a) for a in task.get("annotations") or []]
    items += [("prediction", p) for p in task.get("predictions") or []]
    for kind, item in items:
        if not isinstance(item, Mapping):  # the quick export lists prediction ids only
            continue
        spans, relations = result_to_spans_relations(item.get("result") or [], text)
        record = AnnotationRecord(task_id=task_id, document_id=doc_id, kind=kind, id=item.get("id"), entities=spans,
                                  relations=relations, created_at=item.get("created_at"),
                                  updated_at=item.get("updated_at"))
        if kind == "annotation":
            record.annotator = annotator_of(item.get("completed_by"))
            record.lead_time = item.get("lead_time")
            record.cancelled = bool(item.get("was_cancelled"))
            record.ground_truth = bool(item.get("ground_truth"))
        else:
            record.model_version = item.get("model_version")
            record.score = item.get("score")
        yield record


def article_meta(data: object) -> dict[str, object]:
    """The article metadata a task's data carries (``data.meta``, as ingest wrote it), or ``{}``."""
    meta = data.get("meta") if isinstance(data, Mapping) else None
    return dict(meta) if isinstance(meta, Mapping) else {}


def task_to_document(task: Mapping[str, object], record: AnnotationRecord | None = None) -> Document:
    """A canonical Document for a task, carrying one record's spans and relations (or none); its ``meta`` is the
    article's metadata, then the task id and annotation id (see :data:`~corpus_tools.ontology.RESERVED_META`)."""
    data = task.get("data") or {}
    return Document(
        id=task_document_id(task),
        text=task_text(task),
        title=str(data.get("title") or ""),
        source=str(data.get("source") or ""),
        lang=str(data.get("lang") or "ar"),
        dateline=data.get("dateline") if isinstance(data.get("dateline"), Mapping) else None,
        entities=list(record.entities) if record else [],
        relations=list(record.relations) if record else [],
        meta=article_meta(data) | {"task_id": task.get("id")}
        | ({"annotation_id": record.id} if record and record.id else {}),
    )
