"""The ``labelstudio`` format: a Label Studio JSON export (``ls export``), read.

The export is read as ``validate`` reads it (streamed, every task through the export schema and the document
rules, problems located by task, annotation and JSON path); a task with an error is not converted.  Each task
becomes one document (id: its ``data.article_id``, else ``task-<id>``; ``meta`` keeps the task and annotation
ids) carrying the spans and relations of one of its annotations, chosen by the option ``annotation``:

* ``gold`` (the default): the build's gold rule (:mod:`corpus_tools.build.gold`): the one non-cancelled
  annotation marked ground truth, else the only non-cancelled annotation;
* ``latest``: the non-cancelled annotation updated last;
* ``prediction``: the prediction made last (``meta.model_version`` and ``meta.score`` keep its model).

A task with no such annotation is left out with a warning (``labelstudio-task-left-out``), never converted
as a document without entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpus_tools.build.gold import select_gold
from corpus_tools.errors import InputError
from corpus_tools.interop.documents import iter_checked
from corpus_tools.interop.format import Context, Format
from corpus_tools.labelstudio.export import AnnotationRecord, task_document_id, task_to_document, task_to_records
from corpus_tools.report import define_code, make_problem
from corpus_tools.spans import Document

TASK_LEFT_OUT = define_code(
    "labelstudio-task-left-out", "warning",
    "A task of the export has no annotation of the kind the option `annotation` asks for (gold: exactly one"
    " ground truth or a single non-cancelled annotation; latest: any non-cancelled annotation; prediction: a"
    " prediction); it was left out of the conversion.",
    stage="interop",
)
CHOICES = ("gold", "latest", "prediction")


def _stamp(record: AnnotationRecord, position: int) -> tuple[str, int]:
    return (record.updated_at or record.created_at or "", position)


def pick_record(records: list[AnnotationRecord], choice: str) -> tuple[AnnotationRecord | None, str]:
    """The record of a task that becomes its document, or None and why not."""
    if choice == "gold":
        record, why = select_gold(records)
        return record, ("" if record is not None else
                        "several annotations and not exactly one marked ground truth" if why == "ambiguous" else
                        "no non-cancelled annotation")
    kind = "prediction" if choice == "prediction" else "annotation"
    candidates = [(r, k) for k, r in enumerate(records) if r.kind == kind and not r.cancelled]
    if not candidates:
        return None, "no prediction" if kind == "prediction" else "no non-cancelled annotation"
    return max(candidates, key=lambda pair: _stamp(*pair))[0], ""


def read_export(path: Path, ctx: Context) -> Iterator[Document]:
    choice = ctx.options.get("annotation", "gold")
    if choice not in CHOICES:
        raise InputError(f"option annotation={choice!r}: use one of {', '.join(CHOICES)}")
    for index, task in iter_checked(path, ctx, "export", "use --from documents"):
        record, why = pick_record(list(task_to_records(task)), choice)
        if record is None:
            doc_id = task_document_id(task)
            ctx.report.add(make_problem(
                TASK_LEFT_OUT,
                f"Task of document {doc_id!r} has {why}; left out (choose another with --option annotation="
                f"{'|'.join(c for c in CHOICES if c != choice)}).",
                file=str(path), task_id=task.get("id"), json_path=f"$[{index}]",
            ))
            continue
        doc = task_to_document(task, record)
        if record.kind == "prediction":
            doc.meta = {"task_id": task.get("id"), "prediction_id": record.id, "model_version": record.model_version,
                        "score": record.score}
        yield doc


FORMAT = Format(
    name="labelstudio",
    summary="A Label Studio JSON export (`ls export`); one document per task, from its gold annotation by default.",
    reader=read_export,
    options={"annotation": "Which annotation of a task becomes the document: gold (the build's rule, the default),"
                           " latest, or prediction (the last one)."},
)
